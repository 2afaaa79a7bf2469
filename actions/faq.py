"""Answer an FAQ topic, adding the emergency safety line when a red flag is mentioned.

"Can Botox cause trouble swallowing?" is a question, not an emergency: it
gets the article's answer, but because it names a sign of an emergency the
answer ends with what to do if that ever happens.  The same applies to
hypothetical and third-party wording ("what if I can't breathe", "my friend
bruised"), which action_triage hands over here.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from clinic_core import follow_ups, triage
from clinic_core.clinic import load_clinic

# Responses of the retrieval intent are named utter_faq/<topic>.
FAQ_RESPONSE = "utter_faq"


def selected_topic(tracker: Tracker) -> str | None:
    """The FAQ topic the ResponseSelector chose for the latest message."""
    selector = (tracker.latest_message.get("response_selector") or {}).get("faq") or {}
    return (selector.get("response") or {}).get("intent_response_key")


def follow_up_topic(tracker: Tracker) -> str | None:
    """The topic of a follow-up question, read against the answer it follows."""
    previous = follow_ups.last_answered_topic(tracker.events)
    return follow_ups.resolve(previous, tracker.latest_message.get("text") or "")


def answer_faq(dispatcher: CollectingDispatcher, tracker: Tracker, topic: str | None) -> None:
    values = load_clinic().template_values()
    if topic:
        dispatcher.utter_message(response=f"{FAQ_RESPONSE}/{topic.removeprefix('faq/')}", **values)
    else:
        dispatcher.utter_message(response="utter_fallback", **values)
    if triage.assess(tracker.latest_message.get("text") or "").mentions_red_flag:
        dispatcher.utter_message(response="utter_emergency_safety_line", **values)


class ActionAnswerFaq(Action):
    def name(self) -> str:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        answer_faq(dispatcher, tracker, follow_up_topic(tracker) or selected_topic(tracker))
        return []
