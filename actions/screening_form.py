"""The screening questions after a report the rules cannot place or a possible red flag.

"Are you having any trouble breathing, swallowing, speaking or seeing...
right now?" first; "Is it getting worse?" only when nothing else decides the
level. action_triage_decide (actions/escalation.py) acts on the answers.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.escalation import UNSURE
from actions.forms import CANCELLED, OUTCOME_SLOT, UNANSWERED, PatientForm, Question
from clinic_core import booking_fields as fields
from clinic_core import triage


def check_screen(value: Any, tracker: Tracker) -> dict[str, Any]:
    """Yes, or unsure, or a red flag in the answer, is a yes: unsure about breathing is not a no."""
    text = value if isinstance(value, str) else ""
    if isinstance(value, bool):
        return {"triage_red_flags": value}
    if UNSURE.match(text):
        return {"triage_red_flags": True}
    answer = fields.yes_or_no(text, (tracker.latest_message.get("intent") or {}).get("name"))
    if answer is None and triage.assess(text).mentions_red_flag:
        answer = True
    if answer is None:
        raise fields.FieldProblem(
            "I need a yes or a no, so I know how quickly you need help. If you're not sure, "
            "say 'not sure'."
        )
    return {"triage_red_flags": answer}


def check_worsening(value: Any, tracker: Tracker) -> dict[str, Any]:
    text = value if isinstance(value, str) else ""
    if isinstance(value, bool):
        return {"triage_worsening": value}
    answer = fields.yes_or_no(text, (tracker.latest_message.get("intent") or {}).get("name"))
    if answer is None and UNSURE.match(text):
        answer = True  # not sure it is settling: the clinic should look
    if answer is None:
        raise fields.FieldProblem("Please answer yes or no: is it getting worse or spreading?")
    return {"triage_worsening": answer}


# The screening questions give up sooner than other forms: a patient who
# cannot answer twice is sent on as urgent (never expected), with the
# emergency line repeated, rather than offered a menu.
SCREEN_MAX_MISSES = 2


class ValidateTriageCheckForm(PatientForm):
    """The screening question first; "getting worse?" only for a possible red flag with no level."""

    questions = {
        "triage_red_flags": Question("the answer about breathing and swallowing", check_screen),
        "triage_worsening": Question("whether it's getting worse", check_worsening),
    }

    def name(self) -> str:
        return "validate_triage_check_form"

    def form_slots(self, tracker: Tracker, domain_slots: list[str]) -> list[str]:
        if tracker.get_slot("triage_red_flags") is True:
            return ["triage_red_flags"]  # an emergency: stop asking
        if tracker.get_slot("triage_pending_severity"):
            return ["triage_red_flags"]  # the rules placed it; only the screen was needed
        return ["triage_red_flags", "triage_worsening"]

    def cancelled_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[EventType]:
        # Stopping the screen never makes a report expected: decide as unanswered.
        return []

    def rejected(self, slot, problem, dispatcher, tracker) -> dict[str, Any]:
        misses = self.state(tracker)["misses"].get(slot, 0) + 1
        if misses >= SCREEN_MAX_MISSES:
            return {slot: None, **self.ending(UNANSWERED)}
        return super().rejected(slot, problem, dispatcher, tracker)

    async def run(self, dispatcher, tracker, domain) -> list[EventType]:
        events = await super().run(dispatcher, tracker, domain)
        # "Cancel" during the screen: the report stands; decide without an answer.
        return [
            SlotSet(e["name"], UNANSWERED)
            if e.get("event") == "slot"
            and e.get("name") == OUTCOME_SLOT
            and e["value"] == CANCELLED
            else e
            for e in events
        ]
