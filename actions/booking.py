"""The booking request: a form that collects the details, and the submit action.

Only what the clinic needs to call back is collected (name, phone, optional
e-mail, preferred time, treatment area, first visit or not, consent): nothing
medical beyond the area.  The request is stored, with its notifications to
the clinic, before the patient is told it was received.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.escalation import hand_over
from actions.forms import OUTCOME_SLOT, PERSON, STATE_SLOT, PatientForm, Question, latest_text
from clinic_core import booking_fields as fields
from clinic_core import storage
from clinic_core.booking_time import TimeProblem, find_preferred_time, parse_preferred_time
from clinic_core.clinic import Clinic, load_clinic
from clinic_core.notifications import enabled_transports

logger = logging.getLogger(__name__)

FORM_SLOTS = [
    "booking_name",
    "booking_phone",
    "booking_email",
    "booking_time",
    "booking_area",
    "booking_new_patient",
    "booking_consent",
    "booking_confirmed",
]
# Filled together with booking_time; cleared with it.
TIME_DETAIL_SLOTS = ["booking_time_start", "booking_time_end"]
ALL_BOOKING_SLOTS = FORM_SLOTS + TIME_DETAIL_SLOTS + ["booking_change_field"]
NO_EMAIL = "none"
NO_TIME_PREFERENCE = "no preference given"
NOT_SURE_AREA = "not sure"  # read by parse_area as "other: not sure yet"
NO_PREFERENCE_DAYS = 14

CHANGEABLE = {
    "booking_name": r"name",
    "booking_phone": r"phone|number|mobile|cell",
    "booking_email": r"e-?mail",
    "booking_time": r"time|date|day|when",
    "booking_area": r"area|treatment|forehead|frown|crow",
    "booking_new_patient": r"first|visit|new|returning",
}


def now_at(clinic: Clinic) -> datetime:
    return datetime.now(ZoneInfo(clinic.timezone))


def intent_of(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


# -- the booking's questions: reading an answer, spotting it elsewhere --------


def check_name(value: Any, tracker: Tracker) -> dict[str, Any]:
    return {"booking_name": fields.parse_name(value)}


def check_phone(value: Any, tracker: Tracker) -> dict[str, Any]:
    return {"booking_phone": fields.parse_phone(value, load_clinic().country)}


def check_email(value: Any, tracker: Tracker) -> dict[str, Any]:
    if value == NO_EMAIL:
        return {"booking_email": NO_EMAIL}
    return {"booking_email": fields.parse_email(value) or NO_EMAIL}


def check_time(value: Any, tracker: Tracker) -> dict[str, Any]:
    clinic = load_clinic()
    if value == NO_TIME_PREFERENCE:
        # Skipped: any time in the next two weeks; the clinic proposes one.
        start = now_at(clinic).replace(second=0, microsecond=0)
        return {
            "booking_time": value,
            "booking_time_start": start.isoformat(),
            "booking_time_end": (start + timedelta(days=NO_PREFERENCE_DAYS)).isoformat(),
        }
    try:
        window = parse_preferred_time(value, clinic, now_at(clinic))
    except TimeProblem as problem:
        raise fields.FieldProblem(str(problem)) from None
    return {
        "booking_time": window.text,
        "booking_time_start": window.start.isoformat(),
        "booking_time_end": window.end.isoformat(),
    }


def check_area(value: Any, tracker: Tracker) -> dict[str, Any]:
    return {"booking_area": fields.parse_area(value)}


def check_new_patient(value: Any, tracker: Tracker) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"booking_new_patient": value}
    return {"booking_new_patient": fields.parse_new_patient(value, intent_of(tracker))}


def check_consent(value: Any, tracker: Tracker) -> dict[str, Any]:
    answer = value if isinstance(value, bool) else fields.yes_or_no(value, intent_of(tracker))
    if answer is True:
        return {"booking_consent": True}
    if answer is False:
        raise fields.FieldProblem(
            "Without your OK the clinic can't call you back to arrange the appointment. "
            "Reply 'yes' to allow it, or 'cancel' to stop the booking."
        )
    raise fields.FieldProblem(
        "I need a yes or a no: may the clinic phone you about this request? "
        "Reply 'yes' to allow it, or 'cancel' to stop the booking."
    )


def find_phone(text: str, tracker: Tracker) -> str | None:
    return fields.find_phone(text, load_clinic().country)


def find_email(text: str, tracker: Tracker) -> str | None:
    return fields.find_email(text)


def find_name(text: str, tracker: Tracker) -> str | None:
    return fields.find_name(text)


QUESTIONS: dict[str, Question] = {
    "booking_name": Question("your name", check_name, find_name, free_text=True),
    "booking_phone": Question("your phone number", check_phone, find_phone),
    "booking_email": Question("your e-mail address", check_email, find_email, skip_value=NO_EMAIL),
    "booking_time": Question(
        "when you'd like to come",
        check_time,
        free_text=True,
        skip_value=NO_TIME_PREFERENCE,
        looks_like=fields.looks_like_when,
    ),
    "booking_area": Question(
        "the area",
        check_area,
        free_text=True,
        skip_value=NOT_SURE_AREA,
        looks_like=lambda text: fields.parse_area_choice(text) is not None
        or len(text.split()) <= 3,
    ),
    "booking_new_patient": Question("whether it's your first visit", check_new_patient),
    "booking_consent": Question("your permission to call", check_consent),
}


class ValidateBookingForm(PatientForm):
    """The booking's questions (QUESTIONS); the behaviour is the shared form base's."""

    questions = QUESTIONS

    def name(self) -> str:
        return "validate_booking_form"

    def form_slots(self, tracker: Tracker, domain_slots: list[str]) -> list[str]:
        if tracker.get_slot("booking_confirmed") is False:
            return FORM_SLOTS[:-1] + ["booking_change_field", "booking_confirmed"]
        return list(FORM_SLOTS)

    def cancelled_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[EventType]:
        # Forget everything the patient told us; action_submit_booking, seeing
        # nothing confirmed, sends nothing.
        dispatcher.utter_message(response="utter_booking_cancelled")
        return [SlotSet(slot, None) for slot in ALL_BOOKING_SLOTS]

    def forget_events(self) -> list[EventType]:
        return [SlotSet(slot, None) for slot in ALL_BOOKING_SLOTS]

    def detail_for_another_question(self, slot: str, text: str, tracker: Tracker) -> bool:
        """A phone, an e-mail or an introduced name where another detail was asked."""
        if slot != "booking_phone" and fields.find_phone(text, load_clinic().country):
            return True
        if slot != "booking_email" and fields.find_email(text):
            return True
        if slot == "booking_area" and fields.parse_area_choice(text) is None:
            clinic = load_clinic()
            if find_preferred_time(text, clinic, now_at(clinic)):
                return True  # "next friday" at "which area?" is the time
        return slot != "booking_name" and fields.find_name(text) is not None

    # -- extraction beyond the table ---------------------------------------------

    async def extract_booking_phone(self, dispatcher, tracker, domain) -> dict[str, Any]:
        answer = self.answer_to("booking_phone", tracker)
        if answer is not None:
            return {"booking_phone": answer}
        if tracker.get_slot("requested_slot") == "form_recovery":
            return {}
        region = load_clinic().country
        found = (
            fields.find_phone(latest_text(tracker), region)
            if self.is_fresh_answer(tracker)
            else None
        )
        if not found and not tracker.get_slot("booking_phone"):
            # An SMS/WhatsApp patient is not asked for the number they write
            # from; the summary shows it for confirmation.
            found = fields.phone_from_sender(tracker.sender_id, region)
        return {"booking_phone": found} if found else {}

    async def extract_booking_time(self, dispatcher, tracker, domain) -> dict[str, Any]:
        answer = self.answer_to("booking_time", tracker)
        if answer is not None:
            return {"booking_time": answer}
        if tracker.get_slot("requested_slot") in ("booking_time", "booking_phone", "form_recovery"):
            return {}
        if not self.is_fresh_answer(tracker):
            return {}
        clinic = load_clinic()
        text = latest_text(tracker)
        if not find_preferred_time(text, clinic, now_at(clinic)):
            return {}
        # Keep the patient's words about time, not the contact details around them.
        for detail in (fields.find_phone_text(text, clinic.country), fields.find_email(text)):
            if detail:
                text = text.replace(detail, "").strip()
        return {"booking_time": text}

    async def extract_booking_area(self, dispatcher, tracker, domain) -> dict[str, Any]:
        answer = self.answer_to("booking_area", tracker)
        if answer is None and self.names_an_area(tracker):
            # "forehead lines" (a button) reads like an FAQ topic to the
            # classifier, but as the answer to "which area?" it is just that.
            answer = latest_text(tracker)
        return {"booking_area": answer} if answer is not None else {}

    def names_an_area(self, tracker: Tracker) -> bool:
        text = latest_text(tracker)
        return (
            tracker.get_slot("requested_slot") == "booking_area"
            and self.is_fresh_answer(tracker)
            and len(text.split()) <= 4
            and fields.parse_area_choice(text) is not None
        )

    # -- the summary: confirm, or say what to change ---------------------------

    def validate_booking_confirmed(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        text = value if isinstance(value, str) else ""
        changed = self.fields_named(text)
        if changed:
            return {**self.cleared(changed), "booking_confirmed": None}
        answer = value if isinstance(value, bool) else fields.yes_or_no(text, intent_of(tracker))
        if answer is None and re.search(r"\b(change|edit|wrong|fix|correct)\b", text, re.I):
            answer = False
        if answer is None:
            return self.rejected(
                "booking_confirmed",
                "Shall I send this request to the clinic? "
                "Please answer yes, or tell me what to change.",
                dispatcher,
                tracker,
            )
        return {"booking_confirmed": answer}

    def validate_booking_change_field(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        changed = self.fields_named(value if isinstance(value, str) else "")
        if not changed:
            return self.rejected(
                "booking_change_field",
                "Which detail should I change: name, phone, e-mail, time, area or first visit?",
                dispatcher,
                tracker,
            )
        return {**self.cleared(changed), "booking_change_field": None, "booking_confirmed": None}

    @staticmethod
    def fields_named(text: str) -> list[str]:
        return [slot for slot, pattern in CHANGEABLE.items() if re.search(pattern, text, re.I)]

    @staticmethod
    def cleared(slots: list[str]) -> dict[str, Any]:
        values: dict[str, Any] = {slot: None for slot in slots}
        if "booking_time" in slots:
            values.update({slot: None for slot in TIME_DETAIL_SLOTS})
        return values


class ActionAskBookingConfirmed(Action):
    """The summary the patient confirms before anything is sent."""

    def name(self) -> str:
        return "action_ask_booking_confirmed"

    async def run(self, dispatcher, tracker, domain) -> list[EventType]:
        dispatcher.utter_message(response="utter_booking_summary", **summary_values(tracker))
        return []


def summary_values(tracker: Tracker) -> dict[str, str]:
    email = tracker.get_slot("booking_email")
    return {
        "name": tracker.get_slot("booking_name") or "",
        "phone": fields.format_phone(tracker.get_slot("booking_phone") or ""),
        "email": "not given" if email in (None, NO_EMAIL) else email,
        "time": describe_window(
            tracker.get_slot("booking_time_start"),
            tracker.get_slot("booking_time_end"),
            tracker.get_slot("booking_time") or "",
        ),
        "area": tracker.get_slot("booking_area") or "",
        "first_visit": "yes" if tracker.get_slot("booking_new_patient") else "no",
    }


def describe_window(start_iso: str | None, end_iso: str | None, words: str) -> str:
    if not start_iso or not end_iso:
        return words
    start, end = datetime.fromisoformat(start_iso), datetime.fromisoformat(end_iso)
    if start.date() == end.date():
        when = f"{start:%A %B} {start.day}, {start:%H:%M}-{end:%H:%M}"
    else:
        when = f"{start:%A %B} {start.day} to {end:%A %B} {end.day}"
    return f'{when} (you said: "{words}")'


def booking_notification(
    booking: storage.Booking, created_at_local: datetime
) -> storage.Notification:
    """The clinic's webhook body for a booking request (the documented contract)."""
    body = {
        "type": "booking",
        "reference": booking.reference,
        "conversation_id": booking.conversation_id,
        "channel": booking.channel,
        "created_at": created_at_local.isoformat(timespec="seconds"),
        "patient": {
            "name": booking.patient_name,
            "phone": booking.phone,
            "email": booking.email,
            "new_patient": booking.new_patient,
        },
        "booking": {
            "preferred_start": booking.preferred_start,
            "preferred_end": booking.preferred_end,
            "preferred_time_text": booking.preferred_time_text,
            "treatment_area": booking.treatment_area,
        },
        "consent_to_contact": booking.consent_to_contact,
    }
    return storage.Notification(booking.reference, booking.reference, "booking", body)


def dedupe_key(conversation_id: str, values: dict[str, Any]) -> str:
    """The same conversation sending the same details is the same request."""
    material = "|".join([conversation_id] + [str(values.get(slot)) for slot in FORM_SLOTS[:-1]])
    return hashlib.sha256(material.encode()).hexdigest()


class ActionSubmitBooking(Action):
    """Store a confirmed request, then tell the patient; an unconfirmed one is only cleared."""

    def name(self) -> str:
        return "action_submit_booking"

    async def run(self, dispatcher, tracker, domain) -> list[EventType]:
        reset = [SlotSet(slot, None) for slot in ALL_BOOKING_SLOTS] + [
            SlotSet(OUTCOME_SLOT, None),
            SlotSet(STATE_SLOT, None),
        ]
        if tracker.get_slot(OUTCOME_SLOT) == PERSON:
            stuck_on = (tracker.get_slot(STATE_SLOT) or {}).get("stuck") or "a question"
            label = QUESTIONS[stuck_on].label if stuck_on in QUESTIONS else stuck_on
            return reset + await hand_over(
                dispatcher,
                tracker,
                load_clinic(),
                name=tracker.get_slot("booking_name"),
                phone=tracker.get_slot("booking_phone"),
                reason=f"routine: call-back to book (the booking form could not take {label})",
            )
        if tracker.get_slot("booking_confirmed") is not True:
            return reset
        clinic = load_clinic()
        values = {slot: tracker.get_slot(slot) for slot in FORM_SLOTS + TIME_DETAIL_SLOTS}
        email = values["booking_email"]
        booking = storage.Booking(
            dedupe_key=dedupe_key(tracker.sender_id, values),
            conversation_id=tracker.sender_id,
            channel=tracker.get_latest_input_channel() or "unknown",
            patient_name=values["booking_name"],
            phone=values["booking_phone"],
            email=None if email in (None, NO_EMAIL) else email,
            new_patient=bool(values["booking_new_patient"]),
            preferred_start=values["booking_time_start"],
            preferred_end=values["booking_time_end"],
            preferred_time_text=values["booking_time"],
            treatment_area=values["booking_area"],
            consent_to_contact=True,
        )
        zone = ZoneInfo(clinic.timezone)
        try:
            reference, _created = await asyncio.to_thread(  # off the event loop
                storage.save_booking,
                booking,
                lambda row: booking_notification(
                    row, row.created_at.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)
                ),
                enabled_transports(),
            )
        except Exception:  # noqa: BLE001 - the patient must not be told it was received
            logger.exception("Storing a booking request failed.")
            dispatcher.utter_message(response="utter_booking_not_saved", **clinic.template_values())
            return reset
        dispatcher.utter_message(
            response="utter_booking_received", reference=reference, **clinic.template_values()
        )
        return reset
