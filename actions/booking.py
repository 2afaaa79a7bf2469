"""The booking request: a form that collects the details, and the submit action.

Only what the clinic needs to call back is collected (name, phone, optional
e-mail, preferred time, treatment area, first visit or not, consent): nothing
medical beyond the area.  The request is stored, with its notifications to
the clinic, before the patient is told it was received.
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import booking_fields as fields
from actions import storage, triage
from actions.booking_time import TimeProblem, find_preferred_time, parse_preferred_time
from actions.clinic import Clinic, load_clinic
from actions.notifications import enabled_transports

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
ALL_BOOKING_SLOTS = FORM_SLOTS + TIME_DETAIL_SLOTS + ["booking_change_field", "booking_failures"]
NO_EMAIL = "none"
MAX_FAILURES = 3

# Messages that interrupt the form instead of answering its question: the
# form steps aside (rules answer them) and then asks its question again.
INTERRUPTING_INTENTS = {"faq", "clinic_info", "human_handoff", "bot_challenge"}
INTERRUPTION_CONFIDENCE = 0.8
# "Stop" must work whatever the classifier thinks of a one-word message.
CANCEL_WORDS = re.compile(
    r"^\s*(stop|cancel|never ?mind|nvm|forget it|quit|abort|exit|stop it|"
    r"cancel (?:it|this|that|the booking|booking)|stop (?:this|the booking))\s*[.!]*\s*$",
    re.IGNORECASE,
)

WHY_QUESTION = re.compile(
    r"\bwhy\b.*\b(need|want|ask|give|have to|must|required?)\b|"
    r"\bwhat (?:do you|is it) (?:need|want)\w* (?:it|that|this) for\b",
    re.IGNORECASE,
)
WHY_RESPONSES = {
    "booking_name": "utter_why_booking_name",
    "booking_phone": "utter_why_booking_phone",
    "booking_email": "utter_why_booking_email",
    "booking_time": "utter_why_booking_time",
    "booking_area": "utter_why_booking_area",
    "booking_new_patient": "utter_why_booking_new_patient",
    "booking_consent": "utter_why_booking_consent",
}
CHANGEABLE = {
    "booking_name": r"name",
    "booking_phone": r"phone|number|mobile|cell",
    "booking_email": r"e-?mail",
    "booking_time": r"time|date|day|when",
    "booking_area": r"area|treatment|forehead|frown|crow",
    "booking_new_patient": r"first|visit|new|returning",
}


def wants_to_cancel(tracker: Tracker) -> bool:
    intent = tracker.latest_message.get("intent") or {}
    if intent.get("name") == "cancel" and (intent.get("confidence") or 0) >= 0.5:
        return True
    return bool(CANCEL_WORDS.match(latest_text(tracker)))


def is_interruption(tracker: Tracker) -> bool:
    """The latest message is not an answer but something to handle first.

    A symptom report counts only when the triage rules see one (the
    classifier alone may call "last tuesday" a symptom report); questions
    count when the classifier is confident.
    """
    text = latest_text(tracker)
    if triage.assess(text).is_report:
        return True
    intent = tracker.latest_message.get("intent") or {}
    return (
        intent.get("name") in INTERRUPTING_INTENTS
        and (intent.get("confidence") or 0) >= INTERRUPTION_CONFIDENCE
    )


# Actions Rasa runs between a message and the form's validation on the happy
# path (Rasa adds the form's own execution before calling the validation).
PLUMBING_ACTIONS = {"action_listen", "action_extract_slots"}


def answered_something_else_since_the_message(tracker: Tracker, form: str = "booking_form") -> bool:
    """The form runs again after an interruption was answered (e.g. an FAQ).

    Then the latest message was the interruption, not an answer to the form's
    question, and must not be read as one.
    """
    plumbing = PLUMBING_ACTIONS | {form}
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "action" and event.get("name") not in plumbing:
            return True
    return False


def latest_text(tracker: Tracker) -> str:
    return tracker.latest_message.get("text") or ""


def latest_intent(tracker: Tracker) -> str | None:
    return (tracker.latest_message.get("intent") or {}).get("name")


def now_at(clinic: Clinic) -> datetime:
    return datetime.now(ZoneInfo(clinic.timezone))


class ValidateBookingForm(FormValidationAction):
    """Extracts and checks each answer; re-prompts specifically; never loops forever."""

    def name(self) -> str:
        return "validate_booking_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if tracker.get_slot("booking_confirmed") is False:
            return FORM_SLOTS[:-1] + ["booking_change_field", "booking_confirmed"]
        return list(FORM_SLOTS)

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        requested = tracker.get_slot("requested_slot")
        if wants_to_cancel(tracker) and not answered_something_else_since_the_message(tracker):
            # Forget everything the patient told us; the form ends here and
            # action_submit_booking, seeing nothing confirmed, sends nothing.
            dispatcher.utter_message(response="utter_booking_cancelled")
            return [SlotSet(slot, None) for slot in ALL_BOOKING_SLOTS] + [
                SlotSet("requested_slot", None)
            ]
        if requested in WHY_RESPONSES and WHY_QUESTION.search(latest_text(tracker)):
            dispatcher.utter_message(response=WHY_RESPONSES[requested])
            return [SlotSet(requested, None)]
        return await super().run(dispatcher, tracker, domain)

    # -- extraction: the requested answer, or details volunteered at any time --

    def answer_to(self, slot: str, tracker: Tracker) -> str | None:
        """The latest message, if it answers `slot`.

        Not when another question is pending, when the message interrupts
        (an FAQ, a symptom...), when the form runs again after answering an
        interruption, or when the message corrects another detail instead
        ("actually my number is ...").
        """
        if tracker.get_slot("requested_slot") != slot or is_interruption(tracker):
            return None
        if answered_something_else_since_the_message(tracker):
            return None
        text = latest_text(tracker)
        if self.corrects_another_detail(slot, text):
            return None
        return text

    @staticmethod
    def corrects_another_detail(slot: str, text: str) -> bool:
        if slot != "booking_phone" and fields.find_phone(text, load_clinic().country):
            return True
        if slot != "booking_email" and fields.find_email(text):
            return True
        return slot != "booking_name" and fields.find_name(text) is not None

    async def next_requested_slot(self, dispatcher, tracker, domain) -> EventType | None:
        """Stop asking once a question failed three times (a person was offered)."""
        failures = tracker.get_slot("booking_failures") or {}
        if any(count >= MAX_FAILURES for count in failures.values()):
            return SlotSet("requested_slot", None)
        return await super().next_requested_slot(dispatcher, tracker, domain)

    async def extract_booking_name(self, dispatcher, tracker, domain) -> dict[str, Any]:
        answer = self.answer_to("booking_name", tracker)
        if answer is not None:
            return {"booking_name": answer}
        found = fields.find_name(latest_text(tracker))
        return {"booking_name": found} if found else {}

    async def extract_booking_phone(self, dispatcher, tracker, domain) -> dict[str, Any]:
        answer = self.answer_to("booking_phone", tracker)
        if answer is not None:
            return {"booking_phone": answer}
        region = load_clinic().country
        found = fields.find_phone(latest_text(tracker), region)
        if not found and not tracker.get_slot("booking_phone"):
            # An SMS/WhatsApp patient is not asked for the number they write
            # from; the summary shows it for confirmation.
            found = fields.phone_from_sender(tracker.sender_id, region)
        return {"booking_phone": found} if found else {}

    async def extract_booking_email(self, dispatcher, tracker, domain) -> dict[str, Any]:
        answer = self.answer_to("booking_email", tracker)
        if answer is not None:
            return {"booking_email": answer}
        found = fields.find_email(latest_text(tracker))
        return {"booking_email": found} if found else {}

    async def extract_booking_time(self, dispatcher, tracker, domain) -> dict[str, Any]:
        answer = self.answer_to("booking_time", tracker)
        if answer is not None:
            return {"booking_time": answer}
        if tracker.get_slot("requested_slot") in ("booking_time", "booking_phone"):
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

    @staticmethod
    def names_an_area(tracker: Tracker) -> bool:
        text = latest_text(tracker)
        return (
            tracker.get_slot("requested_slot") == "booking_area"
            and not answered_something_else_since_the_message(tracker)
            and len(text.split()) <= 4
            and fields.parse_area_choice(text) is not None
        )

    async def extract_booking_new_patient(self, dispatcher, tracker, domain) -> dict[str, Any]:
        answer = self.answer_to("booking_new_patient", tracker)
        return {"booking_new_patient": answer} if answer is not None else {}

    async def extract_booking_consent(self, dispatcher, tracker, domain) -> dict[str, Any]:
        answer = self.answer_to("booking_consent", tracker)
        return {"booking_consent": answer} if answer is not None else {}

    async def extract_booking_confirmed(self, dispatcher, tracker, domain) -> dict[str, Any]:
        answer = self.answer_to("booking_confirmed", tracker)
        return {"booking_confirmed": answer} if answer is not None else {}

    async def extract_booking_change_field(self, dispatcher, tracker, domain) -> dict[str, Any]:
        answer = self.answer_to("booking_change_field", tracker)
        return {"booking_change_field": answer} if answer is not None else {}

    # -- validation ---------------------------------------------------------

    def rejected(
        self, slot: str, problem: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        """Say what was wrong; after the third failure offer a person instead."""
        failures = dict(tracker.get_slot("booking_failures") or {})
        failures[slot] = failures.get(slot, 0) + 1
        if failures[slot] >= MAX_FAILURES:
            dispatcher.utter_message(
                response="utter_booking_offer_person", **load_clinic().template_values()
            )
            return {slot: None, "booking_failures": failures}
        dispatcher.utter_message(text=problem)
        return {slot: None, "booking_failures": failures}

    def validate_booking_name(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        try:
            return {"booking_name": fields.parse_name(value)}
        except fields.FieldProblem as problem:
            return self.rejected("booking_name", str(problem), dispatcher, tracker)

    def validate_booking_phone(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        try:
            return {"booking_phone": fields.parse_phone(value, load_clinic().country)}
        except fields.FieldProblem as problem:
            return self.rejected("booking_phone", str(problem), dispatcher, tracker)

    def validate_booking_email(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        if value == NO_EMAIL:
            return {"booking_email": NO_EMAIL}
        try:
            return {"booking_email": fields.parse_email(value) or NO_EMAIL}
        except fields.FieldProblem as problem:
            return self.rejected("booking_email", str(problem), dispatcher, tracker)

    def validate_booking_time(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        clinic = load_clinic()
        try:
            window = parse_preferred_time(value, clinic, now_at(clinic))
        except TimeProblem as problem:
            result = self.rejected("booking_time", str(problem), dispatcher, tracker)
            return {**result, "booking_time_start": None, "booking_time_end": None}
        return {
            "booking_time": window.text,
            "booking_time_start": window.start.isoformat(),
            "booking_time_end": window.end.isoformat(),
        }

    def validate_booking_area(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        try:
            return {"booking_area": fields.parse_area(value)}
        except fields.FieldProblem as problem:
            return self.rejected("booking_area", str(problem), dispatcher, tracker)

    def validate_booking_new_patient(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        if isinstance(value, bool):
            return {"booking_new_patient": value}
        try:
            return {"booking_new_patient": fields.parse_new_patient(value, latest_intent(tracker))}
        except fields.FieldProblem as problem:
            return self.rejected("booking_new_patient", str(problem), dispatcher, tracker)

    def validate_booking_consent(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        answer = (
            value if isinstance(value, bool) else fields.yes_or_no(value, latest_intent(tracker))
        )
        if answer is True:
            return {"booking_consent": True}
        problem = (
            "Without your OK the clinic can't call you back to arrange the appointment. "
            "Reply 'yes' to allow it, or 'cancel' to stop the booking."
        )
        return self.rejected("booking_consent", problem, dispatcher, tracker)

    def validate_booking_confirmed(self, value, dispatcher, tracker, domain) -> dict[str, Any]:
        text = value if isinstance(value, str) else ""
        changed = self.fields_named(text)
        if changed:
            return {**self.cleared(changed), "booking_confirmed": None}
        answer = (
            value if isinstance(value, bool) else fields.yes_or_no(text, latest_intent(tracker))
        )
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
                "Which detail should I change: name, " "phone, e-mail, time, area or first visit?",
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
        reset = [SlotSet(slot, None) for slot in ALL_BOOKING_SLOTS]
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
            reference, _created = storage.save_booking(
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
