"""Symptom triage and call-backs: what a careful clinic nurse on the phone does first.

The decision itself is clinic_core/triage.py (deterministic rules); this module
turns it into the conversation and into escalation records:

- emergency: the very first reply says to call the emergency number now
  (in the patient's language when the rules file has it); the escalation is
  stored and queued for the clinic at once, with whatever contact the
  channel gives; contact details are asked for only afterwards.
- urgent: likewise stored and sent at once, and the patient is told the
  clinic has been alerted before being asked anything; name, phone and
  treatment date then arrive as updates of the same escalation.
- expected: the article's reassurance, what would make it worth calling, and
  the offer of a call-back (a routine escalation if accepted).
- screen (a possible red flag in words the rules don't know, or a report
  they cannot place): the emergency screening question first
  (triage_check_form, actions/screening_form.py); yes is an emergency, no
  continues the triage. The contact details that follow are contact_form
  (actions/contact_form.py).

The reading itself is made once, by the NLU pipeline (clinic_core/screening.py),
and stored with the message; these actions act on it.

Everything is stored (with its outbox rows) before the patient is told the
clinic has it.

Why one module of this size (about 540 lines): every path from a reading to
an escalation record is here, so the order "advice, store, tell" can be
checked for each severity side by side.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.contact_form import given
from actions.faq import answer_faq, selected_topic
from actions.forms import (
    CANCELLED,
    OUTCOME_SLOT,
    STATE_SLOT,
    UNANSWERED,
    latest_text,
)
from clinic_core import booking_fields as fields
from clinic_core import emergency_replies, screening, storage, triage
from clinic_core.clinic import Clinic, load_clinic
from clinic_core.notifications import enabled_transports

logger = logging.getLogger(__name__)

# triage_severity slot values; "none" = the message was not a report.
NOT_A_REPORT = "none"
ESCALATION_SEVERITY = {
    "emergency": "emergency",
    "urgent": "urgent",
    "unclear": "urgent",
    "callback": "routine",
    "handoff": "routine",
}


def clinic_now(clinic: Clinic) -> datetime:
    return datetime.now(ZoneInfo(clinic.timezone))


def channel_phone(tracker: Tracker, clinic: Clinic) -> str | None:
    """The number a patient writes from (SMS/WhatsApp sender ids), if any."""
    return fields.phone_from_sender(tracker.sender_id, clinic.country)


def symptom_messages(tracker: Tracker) -> str:
    """Every symptom report of this conversation, in the patient's words."""
    texts = []
    for event in tracker.events:
        if event.get("event") != "user":
            continue
        text = event.get("text") or ""
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent == "report_symptom" or triage.assess(text).is_report:
            texts.append(text)
    latest = latest_text(tracker)
    if latest and latest not in texts and triage.assess(latest).is_report:
        texts.append(latest)
    return "\n".join(texts)


def transcript(tracker: Tracker) -> str:
    """The conversation so far, for a call-back request."""
    lines = []
    for event in tracker.events:
        if event.get("event") == "user" and event.get("text"):
            lines.append(f"Patient: {event['text']}")
        elif event.get("event") == "bot" and event.get("text"):
            lines.append(f"Assistant: {event['text']}")
    return "\n".join(lines)


def escalation_notification(
    row: storage.Escalation, created: bool, clinic: Clinic
) -> storage.Notification:
    """The clinic's webhook body for an escalation or an update of one."""
    zone = ZoneInfo(clinic.timezone)
    created_at = row.created_at.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)
    body = {
        "type": "escalation" if created else "escalation_update",
        "reference": row.reference,
        "severity": row.severity,
        "reason": row.reason,
        "conversation_id": row.conversation_id,
        "channel": row.channel,
        "created_at": created_at.isoformat(timespec="seconds"),
        "patient": {"name": row.patient_name, "phone": row.phone},
        "symptoms": row.symptoms,
        "treatment_date": row.treatment_date,
    }
    if row.preferred_time_text:
        body["preferred_callback_time"] = row.preferred_time_text
    if row.transcript:
        body["conversation"] = row.transcript
    key = row.reference if created else f"{row.reference}-U{row.update_count}"
    return storage.Notification(
        key, row.reference, body["type"], body, storage.SEVERITY_PRIORITY[row.severity]
    )


async def save(tracker: Tracker, clinic: Clinic, change: storage.EscalationChange) -> str:
    # The database write runs on a worker thread: the action server's event
    # loop keeps serving other conversations meanwhile.
    reference, _created = await asyncio.to_thread(
        storage.save_escalation,
        tracker.sender_id,
        tracker.get_latest_input_channel() or "unknown",
        change,
        lambda row, created: escalation_notification(row, created, clinic),
        enabled_transports(),
    )
    return reference


async def store_report(tracker: Tracker, clinic: Clinic, severity: str, reason: str) -> str:
    """Store a report the moment it is made, with whatever contact the channel gives."""
    change = storage.EscalationChange(
        severity=severity,
        reason=reason,
        symptoms=symptom_messages(tracker),
        phone=channel_phone(tracker, clinic),
    )
    return await save(tracker, clinic, change)


def when_to_expect_a_call(clinic: Clinic) -> tuple[str, dict[str, str]]:
    """The response (and its values) telling the patient when the clinic calls."""
    now = clinic_now(clinic)
    if clinic.is_open(now):
        return "utter_escalation_call_today", {}
    opening = clinic.next_opening(now)
    when = f"{opening:%A} at {opening:%H:%M}" if opening else "when the clinic reopens"
    return "utter_escalation_call_out_of_hours", {"next_opening": when}


# The English emergency replies (domain responses) by the keys of the rules
# file's translations (triage.LANGUAGE_REPLIES).
EMERGENCY_RESPONSES = {
    "call_now": "utter_emergency_call_now",
    "clinic_alerted": "utter_emergency_clinic_alerted",
    "not_saved": "utter_emergency_not_saved",
}


def say(
    dispatcher: CollectingDispatcher,
    reply: str,
    language: str | None,
    values: dict[str, Any],
) -> None:
    """An emergency reply: the rules file's translation, else the domain's English response."""
    text = emergency_replies.translated(reply, language, values)
    if text:
        dispatcher.utter_message(text=text)
        return
    dispatcher.utter_message(response=EMERGENCY_RESPONSES[reply], **values)


async def alert_emergency(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    clinic: Clinic,
    reason: str,
    language: str | None = None,
) -> list[EventType]:
    """Emergency: advice first, then store and alert the clinic, then ask for contact."""
    values = clinic.template_values()
    say(dispatcher, "call_now", language, values)
    try:
        reference = await store_report(tracker, clinic, "emergency", reason)
    except Exception:  # noqa: BLE001 - the patient must still be told what to do
        logger.exception("Storing an emergency escalation failed.")
        say(dispatcher, "not_saved", language, values)
        return [
            SlotSet("triage_severity", "emergency"),
            SlotSet("triage_reason", reason),
            SlotSet("contact_purpose", "emergency"),
            *prefilled_contact(tracker, clinic),
        ]
    say(dispatcher, "clinic_alerted", language, {**values, "reference": reference})
    return [
        SlotSet("triage_severity", "emergency"),
        SlotSet("escalation_reference", reference),
        SlotSet("contact_purpose", "emergency"),
        *prefilled_contact(tracker, clinic),
    ]


def prefilled_contact(tracker: Tracker, clinic: Clinic) -> list[EventType]:
    """Reuse what the patient already told us (e.g. in a booking) or the channel gives."""
    events: list[EventType] = []
    name = given(tracker.get_slot("contact_name")) or tracker.get_slot("booking_name")
    phone = (
        given(tracker.get_slot("contact_phone"))
        or tracker.get_slot("booking_phone")
        or channel_phone(tracker, clinic)
    )
    if name:
        events.append(SlotSet("contact_name", name))
    if phone:
        events.append(SlotSet("contact_phone", phone))
    return events


async def alert_urgent(
    dispatcher: CollectingDispatcher, tracker: Tracker, clinic: Clinic, reason: str
) -> list[EventType]:
    """Store and send an urgent escalation now, then tell the patient the clinic has it.

    The patient may never answer the questions that follow (or be unable
    to): the clinic already has the report, with the channel's number if
    any; what the patient gives next arrives as an update of it.
    """
    values = clinic.template_values()
    try:
        reference = await store_report(tracker, clinic, "urgent", reason)
    except Exception:  # noqa: BLE001 - the patient must not be told the clinic has it
        logger.exception("Storing an urgent escalation failed.")
        dispatcher.utter_message(response="utter_escalation_not_saved", **values)
        return []
    dispatcher.utter_message(response="utter_urgent_clinic_alerted", reference=reference, **values)
    return [SlotSet("escalation_reference", reference)]


async def start_urgent(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    clinic: Clinic,
    reason: str,
    *,
    alerted: bool = False,
) -> list[EventType]:
    """Urgent: say so, alert the clinic at once (unless `alerted` already), then ask for contact."""
    dispatcher.utter_message(response="utter_triage_urgent", **clinic.template_values())
    events: list[EventType] = [
        SlotSet("triage_severity", "urgent"),
        SlotSet("triage_reason", reason),
        SlotSet("contact_purpose", "urgent"),
        *prefilled_contact(tracker, clinic),
    ]
    if not alerted:
        events += await alert_urgent(dispatcher, tracker, clinic, reason)
    return events


async def hand_over(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    clinic: Clinic,
    *,
    name: str | None,
    phone: str | None,
    reason: str,
) -> list[EventType]:
    """A person instead of a form the patient could not finish: a call-back with what is known.

    Stored (with the conversation so far) before the patient is told; with no
    number to call, the patient is asked to call the clinic instead.
    """
    values = clinic.template_values()
    phone = phone or channel_phone(tracker, clinic)
    change = storage.EscalationChange(
        severity="routine",
        reason=reason,
        patient_name=name,
        phone=phone,
        transcript=transcript(tracker),
    )
    try:
        reference = await save(tracker, clinic, change)
    except Exception:  # noqa: BLE001 - the patient must not be told the clinic has it
        logger.exception("Storing a call-back request failed.")
        dispatcher.utter_message(response="utter_escalation_not_saved", **values)
        return []
    if not phone:
        dispatcher.utter_message(
            response="utter_escalation_received_no_phone", reference=reference, **values
        )
        return [SlotSet("escalation_reference", reference)]
    dispatcher.utter_message(response="utter_handoff_saved", reference=reference, **values)
    response, extra = when_to_expect_a_call(clinic)
    dispatcher.utter_message(response=response, **values, **extra)
    return [SlotSet("escalation_reference", reference)]


def end_active_form(tracker: Tracker) -> list[EventType]:
    """A symptom report ends whatever form was waiting for an answer."""
    if tracker.active_loop.get("name"):
        return [ActiveLoop(None), SlotSet("requested_slot", None)]
    return []


# An unsure answer to the screening question is taken as a yes: the screen
# costs a phone call when wrong, and "I don't know" about breathing is not a no.
UNSURE = re.compile(
    r"^\W*(maybe|perhaps|possibly|probably|i think so|think so|kind of|kinda|sort of|"
    r"a (little|bit)|a little bit|slightly|not sure|unsure|i'?m not sure|i don'?t know|"
    r"dont know|idk|no idea|"
    r"hard to say|yea+h?|yep|si|sí)\b",
    re.IGNORECASE,
)


def answers_the_screen_with_yes(tracker: Tracker) -> bool:
    """Was the screening question waiting, and is the answer yes (or unsure), whatever follows?"""
    if tracker.active_loop.get("name") != "triage_check_form":
        return False
    if tracker.get_slot("requested_slot") != "triage_red_flags":
        return False
    text = latest_text(tracker)
    return bool(fields.YES.match(text) or UNSURE.match(text))


def latest_reading(tracker: Tracker) -> dict[str, Any]:
    """The pipeline's triage reading of the latest message (rules alone if it has none)."""
    stored = screening.from_parse_data(tracker.latest_message)
    if stored is not None:
        return stored
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    return screening.read(latest_text(tracker), intent, semantic=False).as_parse_data()


class ActionTriage(Action):
    """Decide what a symptom message needs, and say the first thing a nurse would."""

    def name(self) -> str:
        return "action_triage"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        clinic = load_clinic()
        reading = latest_reading(tracker)
        if answers_the_screen_with_yes(tracker):  # "yes, and my forehead is a bit swollen"
            reason = f"emergency: yes to the screening question ({reading.get('reason')})"
            return end_active_form(tracker) + await alert_emergency(
                dispatcher, tracker, clinic, reason, reading.get("language")
            )
        events = end_active_form(tracker)
        previous = tracker.get_slot("triage_severity")
        severity = reading.get("severity")
        reason = str(reading.get("reason") or "")
        if severity is None and reading.get("worsening") and previous == "expected":
            # "It's getting worse" after an expected symptom: no longer expected.
            severity, reason = "urgent", "urgent: an expected symptom is getting worse"
        if severity == "expected" and previous == "expected" and reading.get("worsening"):
            severity = "urgent"
        if severity == "emergency":
            return events + await alert_emergency(
                dispatcher, tracker, clinic, reason, reading.get("language")
            )
        values = clinic.template_values()
        form = tracker.active_loop.get("name")
        if severity is None:
            answer_faq(dispatcher, tracker, selected_topic(tracker) or "faq/when_to_call")
            if form:  # a question, not a report: the form goes on at the same question
                return [FollowupAction(form)]
            return [*events, SlotSet("triage_severity", NOT_A_REPORT)]
        if reading.get("screen"):
            pending = severity if severity in ("urgent", "expected") else None
            # Urgent by the rules, or a report the rules cannot place (urgent at
            # least whatever the answer): the clinic hears of it before the question.
            if reading.get("rules_severity") == "unclear":
                pending = "urgent"  # never expected: urgent unless the screen says emergency
            if pending == "urgent":
                events += await alert_urgent(dispatcher, tracker, clinic, reason)
            dispatcher.utter_message(response="utter_triage_screen", **values)
            return [
                *events,
                SlotSet("triage_severity", "unclear"),
                SlotSet("triage_reason", reason),
                SlotSet("triage_pending_severity", pending),
                SlotSet("triage_red_flags", None),
                SlotSet("triage_worsening", None),
            ]
        if severity == "expected":
            dispatcher.utter_message(response="utter_triage_expected", **values)
            if form:
                # Reassured, then back to the same question; an earlier, more
                # serious reading of this conversation stays as it was.
                keep = previous in ("urgent", "emergency", "unclear")
                kept = [] if keep else [SlotSet("triage_severity", "expected")]
                return [*kept, FollowupAction(form)]
            return [
                *events,
                SlotSet("triage_severity", "expected"),
                SlotSet("triage_reason", reason),
            ]
        return events + await start_urgent(dispatcher, tracker, clinic, reason)


class ActionTriageDecide(Action):
    """After the screen: emergency on yes; else the rules' level, or urgent (never expected)."""

    def name(self) -> str:
        return "action_triage_decide"

    async def run(self, dispatcher, tracker, domain) -> list[EventType]:
        clinic = load_clinic()
        pending = tracker.get_slot("triage_pending_severity")
        events: list[EventType] = [
            SlotSet("triage_pending_severity", None),
            SlotSet(OUTCOME_SLOT, None),
            SlotSet(STATE_SLOT, None),
        ]
        if (
            tracker.get_slot(OUTCOME_SLOT) == UNANSWERED
            and tracker.get_slot("triage_red_flags") is not True
        ):
            # No answer to the screen: urgent (never expected), with the emergency line again.
            dispatcher.utter_message(
                response="utter_triage_screen_unanswered", **clinic.template_values()
            )
            after = tracker.get_slot("triage_reason") or "no rule matched"
            reason = f"urgent: the screening question was not answered ({after})"
            alerted = bool(tracker.get_slot("escalation_reference"))
            return events + await start_urgent(dispatcher, tracker, clinic, reason, alerted=alerted)
        if tracker.get_slot("triage_red_flags") is True:
            reason = "emergency: yes to the screening question"
            if tracker.get_slot("triage_reason"):
                reason += f" (after: {tracker.get_slot('triage_reason')})"
            return events + await alert_emergency(dispatcher, tracker, clinic, reason)
        if pending == "expected":
            dispatcher.utter_message(response="utter_triage_expected", **clinic.template_values())
            return [*events, SlotSet("triage_severity", "expected")]
        if pending == "urgent":
            reason = tracker.get_slot("triage_reason") or "urgent"
            alerted = bool(tracker.get_slot("escalation_reference"))
            return events + await start_urgent(dispatcher, tracker, clinic, reason, alerted=alerted)
        worse = tracker.get_slot("triage_worsening") is True
        reason = (
            f"urgent: unplaced symptom{', getting worse' if worse else ''} "
            f"({tracker.get_slot('triage_reason') or 'no rule matched'})"
        )
        return events + await start_urgent(dispatcher, tracker, clinic, reason)


class ActionStartHandoff(Action):
    """A person was asked for: arrange a call-back."""

    def name(self) -> str:
        return "action_start_handoff"

    async def run(self, dispatcher, tracker, domain) -> list[EventType]:
        clinic = load_clinic()
        dispatcher.utter_message(response="utter_handoff_start", **clinic.template_values())
        return [SlotSet("contact_purpose", "handoff"), *prefilled_contact(tracker, clinic)]


class ActionEscalate(Action):
    """Store the escalation (or update it) with the contact details, then say what happens next."""

    def name(self) -> str:
        return "action_escalate"

    async def run(self, dispatcher, tracker, domain) -> list[EventType]:
        clinic = load_clinic()
        values = clinic.template_values()
        purpose = tracker.get_slot("contact_purpose") or "urgent"
        outcome = tracker.get_slot(OUTCOME_SLOT)
        reset = [
            SlotSet(OUTCOME_SLOT, None),
            SlotSet(STATE_SLOT, None),
            SlotSet("contact_purpose", None),
        ]
        if outcome == CANCELLED:
            return reset
        severity = ESCALATION_SEVERITY.get(purpose, "urgent")
        reason = tracker.get_slot("triage_reason") or (
            "routine: call-back requested"
            if purpose == "handoff"
            else "routine: call-back after an expected symptom"
        )
        change = storage.EscalationChange(
            severity=severity,
            reason=reason,
            symptoms=symptom_messages(tracker) or None,
            patient_name=given(tracker.get_slot("contact_name")),
            phone=given(tracker.get_slot("contact_phone")),
            treatment_date=given(tracker.get_slot("contact_treatment_date")),
            preferred_time_text=given(tracker.get_slot("contact_callback_time")),
            transcript=transcript(tracker) if purpose == "handoff" or outcome else None,
        )
        try:
            reference = await save(tracker, clinic, change)
        except Exception:  # noqa: BLE001 - the patient must not be told the clinic has it
            logger.exception("Storing an escalation failed.")
            dispatcher.utter_message(response="utter_escalation_not_saved", **values)
            return reset
        if purpose == "emergency":
            dispatcher.utter_message(response="utter_emergency_contact_saved", **values)
        elif not change.phone:
            dispatcher.utter_message(
                response="utter_escalation_received_no_phone", reference=reference, **values
            )
        else:
            dispatcher.utter_message(
                response="utter_escalation_received", reference=reference, **values
            )
            response, extra = when_to_expect_a_call(clinic)
            dispatcher.utter_message(response=response, **values, **extra)
        return [*reset, SlotSet("escalation_reference", reference)]
