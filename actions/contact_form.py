"""The contact details after a symptom report or for a call-back (contact_form).

Name, phone and, by purpose, the treatment date or a preferred call-back
time. After an urgent report the clinic already has the report, so every
question here can be skipped; a skipped detail is stored as missing and the
staff console shows it. The behaviour (re-prompts, the way out, cancel...)
is the shared form base's (actions/forms.py).
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.forms import PatientForm, Question
from clinic_core import booking_fields as fields
from clinic_core.clinic import load_clinic

# Which details each purpose needs (contact_purpose slot).
CONTACT_SLOTS = {
    "emergency": ["contact_name", "contact_phone"],
    "urgent": ["contact_name", "contact_phone", "contact_treatment_date"],
    "callback": ["contact_name", "contact_phone", "contact_treatment_date"],
    "handoff": ["contact_name", "contact_phone", "contact_callback_time"],
}
ALL_CONTACT_SLOTS = [
    "contact_name",
    "contact_phone",
    "contact_treatment_date",
    "contact_callback_time",
]


# What a skipped contact question stores: the clinic sees the detail is missing.
NOT_GIVEN = "not given"


def given(value: Any) -> Any:
    """A contact detail, or None when the patient skipped it."""
    return None if value == NOT_GIVEN else value


def free_text(slot: str, limit: int, reprompt: str) -> Any:
    """A check keeping the patient's words (the clinic reads them); refuses only empty or huge."""

    def check(value: Any, tracker: Tracker) -> dict[str, Any]:
        if value == NOT_GIVEN:
            return {slot: NOT_GIVEN}
        text = re.sub(r"\s+", " ", str(value or "")).strip()
        if not re.search(r"[^\W_]", text) or len(text) > limit:
            raise fields.FieldProblem(reprompt)
        return {slot: text}

    return check


def check_contact_name(value: Any, tracker: Tracker) -> dict[str, Any]:
    if value == NOT_GIVEN:
        return {"contact_name": NOT_GIVEN}
    return {"contact_name": fields.parse_name(value)}


def check_contact_phone(value: Any, tracker: Tracker) -> dict[str, Any]:
    if value == NOT_GIVEN:
        return {"contact_phone": NOT_GIVEN}
    return {"contact_phone": fields.parse_phone(value, load_clinic().country)}


CONTACT_QUESTIONS = {
    "contact_name": Question(
        "your name",
        check_contact_name,
        lambda text, tracker: fields.find_name(text),
        free_text=True,
        skip_value=NOT_GIVEN,
    ),
    "contact_phone": Question(
        "your phone number",
        check_contact_phone,
        lambda text, tracker: fields.find_phone(text, load_clinic().country),
        skip_value=NOT_GIVEN,
    ),
    "contact_treatment_date": Question(
        "your treatment date",
        free_text(
            "contact_treatment_date",
            120,
            "When did you have your treatment? For example 'last Tuesday' or "
            "'about two weeks ago'. If you don't remember, say 'skip'.",
        ),
        free_text=True,
        skip_value=NOT_GIVEN,
        looks_like=fields.looks_like_when,
    ),
    "contact_callback_time": Question(
        "when suits you for a call",
        free_text(
            "contact_callback_time",
            200,
            "When would suit you for a call? For example 'tomorrow morning' or 'any time'.",
        ),
        free_text=True,
        skip_value=NOT_GIVEN,
        looks_like=fields.looks_like_when,
    ),
}


class ValidateContactForm(PatientForm):
    """Name, phone and (by purpose) treatment date or a preferred call-back time.

    After an urgent report the clinic already has it: every question here can
    be skipped, and the staff console shows what is still missing.
    """

    questions = CONTACT_QUESTIONS

    def name(self) -> str:
        return "validate_contact_form"

    def form_slots(self, tracker: Tracker, domain_slots: list[str]) -> list[str]:
        purpose = tracker.get_slot("contact_purpose") or "urgent"
        return list(CONTACT_SLOTS.get(purpose, CONTACT_SLOTS["urgent"]))

    def cancelled_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[EventType]:
        dispatcher.utter_message(
            response="utter_contact_cancelled", **load_clinic().template_values()
        )
        return []

    def detail_for_another_question(self, slot: str, text: str, tracker: Tracker) -> bool:
        if slot != "contact_phone" and fields.find_phone(text, load_clinic().country):
            return True
        return slot != "contact_name" and fields.find_name(text) is not None
