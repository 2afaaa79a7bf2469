"""Answer an FAQ topic, adding the emergency safety line when a red flag is mentioned.

The decision is clinic_core/faq_answer.py's.  A plain FAQ turn is answered
inside the Rasa process (serving/local_actions.py) from the same decision,
as is the fallback's follow-up (actions/fallback.py runs there too); this
action server version answers when action_triage hands a question over
(hypothetical and third-party questions such as "what if I can't breathe")
and whenever the Rasa process runs without the project's patches.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from clinic_core import faq_answer, follow_ups
from clinic_core.clinic import load_clinic


def selected_topic(tracker: Tracker) -> str | None:
    """The FAQ topic the ResponseSelector chose for the latest message."""
    return faq_answer.selected_topic(tracker.latest_message or {})


def follow_up_topic(tracker: Tracker) -> str | None:
    """The topic of a follow-up question, read against the answer it follows."""
    previous = follow_ups.last_answered_topic(tracker.events)
    return follow_ups.resolve(previous, (tracker.latest_message or {}).get("text") or "")


def answer_faq(dispatcher: CollectingDispatcher, tracker: Tracker, topic: str | None) -> None:
    values = load_clinic().template_values()
    text = (tracker.latest_message or {}).get("text") or ""
    for response in faq_answer.responses(topic, text):
        dispatcher.utter_message(response=response, **values)


class ActionAnswerFaq(Action):
    def name(self) -> str:
        return "action_answer_faq"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        latest = tracker.latest_message or {}
        answer_faq(dispatcher, tracker, faq_answer.topic_to_answer(latest, tracker.events))
        return []
