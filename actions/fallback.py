"""Not understood: say so honestly; when it keeps happening, offer a call-back.

A patient who is misunderstood twice in a row is offered a person (the
call-back flow) instead of being asked to rephrase yet again.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import triage
from actions.clinic import load_clinic

FALLBACK_INTENT = "nlu_fallback"
OFFER_A_PERSON_AFTER = 2


def misunderstood_in_a_row(tracker: Tracker) -> int:
    """How many of the latest patient messages in a row were not understood."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent != FALLBACK_INTENT:
            break
        count += 1
    return count


class ActionFallback(Action):
    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        values = load_clinic().template_values()
        if misunderstood_in_a_row(tracker) >= OFFER_A_PERSON_AFTER:
            dispatcher.utter_message(response="utter_fallback_handoff", **values)
        else:
            dispatcher.utter_message(response="utter_fallback", **values)
        if triage.assess(tracker.latest_message.get("text") or "").mentions_red_flag:
            # Not understood, but it names an emergency sign: say what to do.
            dispatcher.utter_message(response="utter_emergency_safety_line", **values)
        return []
