"""What answers an FAQ question: which responses, in which order.

One decision for both places that answer: the action server's
`action_answer_faq` (actions/faq.py, used also by the fallback and triage
actions) and the Rasa process itself, which answers plain FAQ turns without
a round trip to the action server (serving/local_actions.py).  Both give a
patient exactly the same messages because both come from here.

"Can Botox cause trouble swallowing?" is a question, not an emergency: it
gets the article's answer, but because it names a sign of an emergency the
answer ends with what to do if that ever happens.
"""

from __future__ import annotations

from typing import Any

from clinic_core import follow_ups, triage

# Responses of the retrieval intent are named utter_faq/<topic>.
FAQ_RESPONSE = "utter_faq"
SAFETY_LINE = "utter_emergency_safety_line"
NO_TOPIC = "utter_fallback"


def selected_topic(parse_data: dict[str, Any]) -> str | None:
    """The FAQ topic the ResponseSelector chose for a message (its parse data)."""
    return selection(parse_data)[0]


def selection(parse_data: dict[str, Any]) -> tuple[str | None, float]:
    """The chosen FAQ topic and the selector's confidence in it (None, 0.0 if none)."""
    selector = (parse_data.get("response_selector") or {}).get("faq") or {}
    response = selector.get("response") or {}
    return response.get("intent_response_key"), float(response.get("confidence") or 0.0)


def topic_to_answer(parse_data: dict[str, Any], recent_events: list[dict[str, Any]]) -> str | None:
    """A follow-up read against the answer it follows, else the selected topic.

    `recent_events` needs only the conversation's latest turns, as event dicts.
    """
    previous = follow_ups.last_answered_topic(recent_events)
    text = parse_data.get("text") or ""
    return follow_ups.resolve(previous, text) or selected_topic(parse_data)


def responses(topic: str | None, text: str) -> list[str]:
    """The responses that answer `topic` for a message saying `text`, in order."""
    names = [f"{FAQ_RESPONSE}/{topic.removeprefix('faq/')}" if topic else NO_TOPIC]
    if triage.assess(text or "").mentions_red_flag:
        names.append(SAFETY_LINE)
    return names
