"""The shared form base (actions/forms.py), through the three forms that use it.

Each test runs a validation action as the action server does and asserts
what the patient is told and what the form will do next.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.booking import ActionSubmitBooking, ValidateBookingForm
from actions.contact_form import ValidateContactForm
from actions.escalation import ActionEscalate
from actions.forms import PatientForm
from actions.screening_form import ValidateTriageCheckForm
from clinic_core import booking_fields as fields
from clinic_core import storage

ROOT = Path(__file__).resolve().parent.parent
DOMAIN_FILE = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
DOMAIN: dict[str, Any] = {"slots": {}, "forms": {}, "responses": {}}
FORMS: dict[str, PatientForm] = {
    "booking_form": ValidateBookingForm(),
    "contact_form": ValidateContactForm(),
    "triage_check_form": ValidateTriageCheckForm(),
}


@pytest.fixture(autouse=True)
def test_clinic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CLINIC_CONFIG", str(ROOT / "tests" / "fixtures" / "test-clinic.yml"))
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("CLINIC_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("SMTP_HOST", raising=False)
    storage.migrate()


def at(
    form: str,
    text: str,
    slots: dict[str, Any],
    intent: str = "inform",
    confidence: float = 0.9,
    events_before: list[dict[str, Any]] | None = None,
    sender: str = "conv-forms",
) -> Tracker:
    """A tracker where `form` asked `slots['requested_slot']` and the patient wrote `text`."""
    return Tracker.from_dict(
        {
            "sender_id": sender,
            "slots": slots,
            "latest_message": {"text": text, "intent": {"name": intent, "confidence": confidence}},
            "events": (events_before or [])
            + [
                {"event": "user", "text": text, "input_channel": "rest"},
                {"event": "action", "name": "action_extract_slots"},
                {"event": "action", "name": form},
            ],
            "paused": False,
            "followup_action": None,
            "active_loop": {"name": form},
            "latest_action_name": form,
        }
    )


def run(form: str, tracker: Tracker) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(FORMS[form].run(dispatcher, tracker, DOMAIN))
    return dispatcher.messages, {e["name"]: e["value"] for e in events if e["event"] == "slot"}


BOOKING_UP_TO_CONSENT = {
    "booking_name": "Ana Diaz",
    "booking_phone": "+12015550123",
    "booking_email": "none",
    "booking_time": "next tuesday afternoon",
    "booking_time_start": "2026-12-01T12:00:00-06:00",
    "booking_time_end": "2026-12-01T17:00:00-06:00",
    "booking_area": "forehead lines",
    "booking_new_patient": True,
}


# -- the question being asked wins ------------------------------------------------


@pytest.mark.parametrize(
    "form, slot", [("booking_form", "booking_name"), ("contact_form", "contact_name")]
)
def test_a_name_the_classifier_links_to_a_topic_is_still_taken_as_the_name(
    form: str, slot: str
) -> None:
    # Surnames can look like FAQ words; the classifier's confident guess must not derail the form.
    messages, slots = run(
        form, at(form, "Rose Price", {"requested_slot": slot}, intent="faq", confidence=0.99)
    )
    assert slots[slot] == "Rose Price"
    assert messages == []


def test_a_real_question_mid_form_is_answered_elsewhere_not_taken_as_the_name() -> None:
    messages, slots = run(
        "booking_form",
        at(
            "booking_form",
            "how long does it last?",
            {"requested_slot": "booking_name"},
            intent="faq",
            confidence=0.97,
        ),
    )
    # Nothing but the next question: Rasa rejects the form, the FAQ rule answers, the form resumes.
    assert messages == [] and slots.get("booking_name") is None


def test_a_symptom_report_is_never_taken_as_an_answer() -> None:
    tracker = at("contact_form", "my eyelid is drooping", {"requested_slot": "contact_name"})
    tracker.latest_message["triage"] = {"severity": "urgent", "screen": False}
    messages, slots = run("contact_form", tracker)
    assert slots.get("contact_name") is None and messages == []


# -- answers out of order ----------------------------------------------------------


def test_a_phone_given_for_the_name_is_kept_noted_and_the_name_asked_in_other_words() -> None:
    messages, slots = run(
        "booking_form",
        at("booking_form", "+44 7911 123456", {"requested_slot": "booking_name"}),
    )
    assert slots["booking_phone"] == "+447911123456"
    assert slots.get("booking_name") is None
    assert messages == [
        {**messages[0], "response": "utter_form_noted", "detail": "your phone number"}
    ]
    assert slots["requested_slot"] == "booking_name"
    assert slots["form_attempt"] == 1  # the reworded question


def test_an_email_given_for_consent_is_kept_and_consent_asked_again() -> None:
    messages, slots = run(
        "booking_form",
        at(
            "booking_form",
            "ana.diaz@example.com",
            {**BOOKING_UP_TO_CONSENT, "requested_slot": "booking_consent"},
        ),
    )
    assert slots["booking_email"] == "ana.diaz@example.com"
    assert [m["response"] for m in messages] == ["utter_form_noted"]
    assert slots["requested_slot"] == "booking_consent" and slots["form_attempt"] == 1


# -- specific re-prompts, never the same message twice in a row ---------------------

BAD_ANSWERS = [
    ("booking_form", "booking_name", "Ana", {}),
    ("booking_form", "booking_phone", "12", {"booking_name": "Ana Diaz"}),
    ("booking_form", "booking_email", "ana at home", BOOKING_UP_TO_CONSENT),
    ("booking_form", "booking_time", "yesterday", BOOKING_UP_TO_CONSENT),
    ("booking_form", "booking_new_patient", "purple", BOOKING_UP_TO_CONSENT),
    ("booking_form", "booking_consent", "purple", BOOKING_UP_TO_CONSENT),
    ("contact_form", "contact_name", "x", {}),
    ("contact_form", "contact_phone", "12", {"contact_name": "Ana Diaz"}),
    (
        "contact_form",
        "contact_treatment_date",
        "???",
        {"contact_name": "Ana Diaz", "contact_phone": "+12015550123"},
    ),
    ("triage_check_form", "triage_red_flags", "purple", {}),
]


@pytest.mark.parametrize("form, slot, answer, filled", BAD_ANSWERS)
def test_every_question_says_what_was_wrong_and_rewords_itself(
    form: str, slot: str, answer: str, filled: dict[str, Any]
) -> None:
    values = {**filled, slot: None, "requested_slot": slot}
    messages, slots = run(form, at(form, answer, values))
    assert len(messages) == 1 and messages[0]["text"], messages
    reprompt = messages[0]["text"]
    question = DOMAIN_FILE["responses"][f"utter_ask_{slot}"][-1]["text"]
    assert reprompt != question
    assert slots["form_state"]["misses"] == {slot: 1}
    assert slots["requested_slot"] == slot and slots["form_attempt"] == 1
    # The second miss: different words again (re-prompt and question).
    values["form_state"] = slots["form_state"]
    messages2, slots2 = run(form, at(form, answer, values))
    if form == "triage_check_form":
        # The screen gives up after two misses: urgent, never expected.
        assert slots2["form_outcome"] == "unanswered" and slots2["requested_slot"] is None
        return
    assert messages2[0]["text"] != reprompt and slots2["form_attempt"] == 2


def test_every_question_has_its_reworded_variants_and_a_why() -> None:
    responses = DOMAIN_FILE["responses"]
    for form in FORMS.values():
        for slot in form.questions:
            variants = responses[f"utter_ask_{slot}"]
            attempts = {
                (v.get("condition") or [{}])[0].get("value") for v in variants if v.get("condition")
            }
            assert attempts == {1, 2}, slot
            texts = [v["text"] for v in variants]
            assert len(set(texts)) == len(texts), slot
            assert f"utter_why_{slot}" in responses, slot


# -- three strikes ------------------------------------------------------------------


def stuck(form: str, slot: str, filled: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        **(filled or {}),
        "requested_slot": "form_recovery",
        "form_state": {"form": form, "misses": {slot: 3}, "stuck": slot},
    }


def test_the_third_miss_offers_a_way_out_instead_of_a_fourth_question() -> None:
    values = {
        "booking_name": "Ana Diaz",
        "requested_slot": "booking_email",
        "form_state": {"form": "booking_form", "misses": {"booking_email": 2}},
    }
    messages, slots = run("booking_form", at("booking_form", "ana at home", values))
    assert messages == []
    assert slots["requested_slot"] == "form_recovery"
    assert slots["form_skippable"] is True  # the e-mail is optional: "skip" is offered
    recovery = DOMAIN_FILE["responses"]["utter_ask_booking_form_form_recovery"]
    assert {b["payload"] for b in recovery[0]["buttons"]} == {"/human_handoff", "skip", "/cancel"}


@pytest.mark.parametrize(
    "answer, intent",
    [
        ("yes", "affirm"),
        ("/human_handoff", "human_handoff"),
        ("👍", "inform"),
        ("can a person call me", "human_handoff"),
    ],
)
def test_yes_to_the_way_out_hands_over_to_a_person(answer: str, intent: str) -> None:
    messages, slots = run(
        "booking_form",
        at(
            "booking_form",
            answer,
            stuck("booking_form", "booking_phone", {"booking_name": "Ana Diaz"}),
            intent=intent,
        ),
    )
    assert slots["form_outcome"] == "person" and slots["requested_slot"] is None


def test_skip_fills_an_optional_question_and_goes_on() -> None:
    messages, slots = run(
        "booking_form",
        at(
            "booking_form",
            "skip",
            stuck(
                "booking_form",
                "booking_email",
                {"booking_name": "Ana Diaz", "booking_phone": "+12015550123"},
            ),
        ),
    )
    assert slots["booking_email"] == "none"
    assert [m["response"] for m in messages] == ["utter_form_skipped"]
    assert slots["requested_slot"] == "booking_time"


def test_skip_is_not_offered_for_a_required_question() -> None:
    _, slots = run(
        "booking_form",
        at("booking_form", "skip", stuck("booking_form", "booking_consent", BOOKING_UP_TO_CONSENT)),
    )
    assert slots.get("booking_consent") is None
    assert slots.get("form_outcome") is None


def test_cancel_at_the_way_out_cancels_and_confirms() -> None:
    messages, slots = run(
        "booking_form",
        at("booking_form", "cancel", stuck("booking_form", "booking_phone"), intent="cancel"),
    )
    assert [m["response"] for m in messages] == ["utter_booking_cancelled"]
    assert slots["form_outcome"] == "cancelled" and slots["requested_slot"] is None


def test_no_to_the_way_out_gives_one_more_round_then_a_person() -> None:
    _, slots = run(
        "booking_form",
        at(
            "booking_form",
            "no",
            stuck("booking_form", "booking_phone", {"booking_name": "Ana Diaz"}),
            intent="deny",
        ),
    )
    assert slots["form_state"]["stuck"] is None and slots["form_state"]["rounds"] == 1
    assert slots["requested_slot"] == "booking_phone" and slots["form_attempt"] >= 1
    again = stuck("booking_form", "booking_phone")
    again["form_state"]["rounds"] = 1
    _, slots = run("booking_form", at("booking_form", "no", again, intent="deny"))
    assert slots["form_outcome"] == "person"


def test_a_valid_answer_at_the_way_out_is_simply_taken() -> None:
    _, slots = run(
        "booking_form",
        at(
            "booking_form",
            "201 555 0123",
            stuck("booking_form", "booking_phone", {"booking_name": "Ana Diaz"}),
        ),
    )
    assert slots["booking_phone"] == "+12015550123" and slots["requested_slot"] == "booking_email"


def test_nonsense_twice_at_the_way_out_hands_over_rather_than_loop() -> None:
    values = stuck("booking_form", "booking_phone")
    messages, slots = run("booking_form", at("booking_form", "purple", values))
    assert [m["response"] for m in messages] == ["utter_form_recovery_unclear"]
    values["form_state"] = slots["form_state"]
    _, slots = run("booking_form", at("booking_form", "purple", values))
    assert slots["form_outcome"] == "person"


# -- yes / no, why, cancel, start over, a long silence ------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("👍", True),
        ("YES", True),
        ("yep", True),
        ("Sure", True),
        ("nope", False),
        ("👎", False),
        ("rather not", False),
        ("NO.", False),
        ("purple", None),
    ],
)
def test_yes_no_understands_words_emoji_and_case(text: str, expected: bool | None) -> None:
    assert fields.yes_or_no(text, None) is expected


@pytest.mark.parametrize("form", list(FORMS))
def test_why_is_answered_for_every_question_of_every_form(form: str) -> None:
    for slot in FORMS[form].questions:
        messages, slots = run(form, at(form, "why do you need that?", {"requested_slot": slot}))
        assert [m["response"] for m in messages] == [f"utter_why_{slot}"]
        assert slots[slot] is None


@pytest.mark.parametrize("text", ["stop", "forget it", "never mind", "Cancel please"])
def test_cancel_always_works_and_is_confirmed(text: str) -> None:
    for form, response in (
        ("booking_form", "utter_booking_cancelled"),
        ("contact_form", "utter_contact_cancelled"),
    ):
        slot = "booking_name" if form == "booking_form" else "contact_name"
        messages, slots = run(form, at(form, text, {"requested_slot": slot}))
        assert [m["response"] for m in messages] == [response]
        assert slots["form_outcome"] == "cancelled" and slots["requested_slot"] is None


@pytest.mark.parametrize("intent", [None, "cancel", "goodbye"])
def test_start_over_clears_the_form_and_asks_the_first_question(intent: str | None) -> None:
    """Whatever the classifier makes of "start over" (cancel, with a second opinion)."""
    extra = {"intent": intent, "confidence": 0.9} if intent else {}
    messages, slots = run(
        "booking_form",
        at(
            "booking_form",
            "start over",
            {"booking_name": "Ana Diaz", "requested_slot": "booking_phone"},
            **extra,
        ),
    )
    assert [m["response"] for m in messages] == ["utter_form_start_over"]
    assert slots["booking_name"] is None and slots["requested_slot"] == "booking_name"


def test_a_patient_back_after_a_long_silence_is_reminded_where_they_were() -> None:
    before = [{"event": "bot", "text": "Which number?", "timestamp": 1000.0}]
    tracker = at(
        "booking_form",
        "201 555 0123",
        {"booking_name": "Ana Diaz", "requested_slot": "booking_phone"},
        events_before=before,
    )
    tracker.events[-3]["timestamp"] = 1000.0 + 3600
    messages, slots = run("booking_form", tracker)
    assert [m["response"] for m in messages] == ["utter_form_reminder"]
    assert slots["booking_phone"] == "+12015550123"


def test_the_screen_stopped_midway_is_decided_without_an_answer_never_expected() -> None:
    _, slots = run(
        "triage_check_form",
        at("triage_check_form", "stop", {"requested_slot": "triage_red_flags"}, intent="cancel"),
    )
    assert slots["form_outcome"] == "unanswered"


# -- what the clinic receives ---------------------------------------------------------


def escalations() -> list[storage.Escalation]:
    with storage.transaction() as session:
        rows = session.query(storage.Escalation).order_by(storage.Escalation.id).all()
        session.expunge_all()
        return rows


def bookings() -> list[storage.Booking]:
    with storage.transaction() as session:
        return session.query(storage.Booking).all()


def run_action(
    action: Any, slots: dict[str, Any], sender: str = "conv-forms"
) -> list[dict[str, Any]]:
    tracker = Tracker.from_dict(
        {
            "sender_id": sender,
            "slots": slots,
            "latest_message": {"text": "yes", "intent": {"name": "affirm"}},
            "events": [
                {"event": "user", "text": "I'm Ana Diaz and I'd like to book"},
                {"event": "bot", "text": "Which number?"},
            ],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "booking_form",
        }
    )
    dispatcher = CollectingDispatcher()
    asyncio.run(action.run(dispatcher, tracker, DOMAIN))
    return dispatcher.messages


def test_a_booking_handed_to_a_person_reaches_the_clinic_with_what_is_known() -> None:
    messages = run_action(
        ActionSubmitBooking(),
        {
            "booking_name": "Ana Diaz",
            "booking_phone": "+12015550123",
            "form_outcome": "person",
            "form_state": {"form": "booking_form", "stuck": "booking_time"},
        },
    )
    [row] = escalations()
    assert row.severity == "routine" and row.patient_name == "Ana Diaz"
    assert row.phone == "+12015550123" and "when you'd like to come" in row.reason
    assert "I'm Ana Diaz" in (row.transcript or "")
    assert (
        messages[0]["response"] == "utter_handoff_saved"
        and messages[0]["reference"] == row.reference
    )
    assert not bookings()


def test_without_a_number_the_patient_is_asked_to_call_the_clinic() -> None:
    messages = run_action(
        ActionSubmitBooking(),
        {
            "form_outcome": "person",
            "form_state": {"form": "booking_form", "stuck": "booking_phone"},
        },
    )
    assert [m["response"] for m in messages] == ["utter_escalation_received_no_phone"]
    assert messages[0]["clinic_phone"]


def test_skipped_contact_details_are_stored_as_missing_not_as_words() -> None:
    run_action(
        ActionEscalate(),
        {
            "contact_purpose": "urgent",
            "triage_reason": "urgent: fever",
            "contact_name": "not given",
            "contact_phone": "+12015550123",
            "contact_treatment_date": "not given",
        },
    )
    [row] = escalations()
    assert row.patient_name is None and row.treatment_date is None
    assert row.phone == "+12015550123"


# -- a report-like answer: the question asked wins unless it is clearly a report ----


def with_reading(tracker: Tracker, **reading: Any) -> Tracker:
    tracker.latest_message["triage"] = reading
    return tracker


def test_a_name_with_a_symptom_word_is_taken_as_the_name() -> None:
    tracker = with_reading(
        at(
            "contact_form", "Jo Bruise", {"requested_slot": "contact_name"}, intent="report_symptom"
        ),
        severity="expected",
        source="rules",
        rules_severity="expected",
    )
    messages, slots = run("contact_form", tracker)
    assert slots["contact_name"] == "Jo Bruise" and messages == []


def test_a_time_the_classifier_calls_a_report_is_read_as_the_time() -> None:
    tracker = with_reading(
        at(
            "booking_form",
            "yesterday morning",
            {**BOOKING_UP_TO_CONSENT, "booking_time": None, "requested_slot": "booking_time"},
            intent="report_symptom",
        ),
        severity="unclear",
        screen=True,
        source="classifier",
    )
    messages, slots = run("booking_form", tracker)
    # Taken as the answer, so the patient hears why a past time can't be booked.
    assert len(messages) == 1 and "already passed" in messages[0]["text"]
    assert slots["form_state"]["misses"] == {"booking_time": 1}


def test_a_real_symptom_report_at_the_name_question_interrupts() -> None:
    tracker = with_reading(
        at("booking_form", "my forehead is a bit sore", {"requested_slot": "booking_name"}),
        severity="expected",
        source="rules",
        rules_severity="expected",
    )
    messages, slots = run("booking_form", tracker)
    assert messages == [] and slots.get("booking_name") is None


def test_an_expected_symptom_mid_form_is_reassured_and_the_form_goes_on() -> None:
    from actions.escalation import ActionTriage

    tracker = with_reading(
        at("booking_form", "my forehead is a bit sore", {"requested_slot": "booking_name"}),
        severity="expected",
        source="rules",
        rules_severity="expected",
        screen=False,
        reason="expected: soreness",
    )
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionTriage().run(dispatcher, tracker, DOMAIN))
    assert [m["response"] for m in dispatcher.messages] == ["utter_triage_expected"]
    assert {"event": "followup", "name": "booking_form"} in [
        {k: e.get(k) for k in ("event", "name")} for e in events
    ]
    assert not any(e["event"] == "active_loop" for e in events)


@pytest.mark.parametrize("form", ["booking_form", "contact_form"])
def test_every_skippable_question_skips_to_a_value_its_check_accepts(form: str) -> None:
    for slot, question in FORMS[form].questions.items():
        if question.skip_value is None:
            continue
        values = question.check(question.skip_value, at(form, "skip", {}))
        assert values[slot] is not None, slot
        if slot == "booking_time":
            assert values["booking_time_start"] < values["booking_time_end"]


# -- interruptions reach the rules; reports are not answers ------------------------


def raw_events(form: str, tracker: Tracker) -> list[dict[str, Any]]:
    return asyncio.run(FORMS[form].run(CollectingDispatcher(), tracker, DOMAIN))


@pytest.mark.parametrize(
    "text, intent",
    [("how long does it last?", "faq"), ("can I talk to a real person please", "human_handoff")],
)
def test_an_interruption_sets_nothing_but_the_question_so_rasa_hands_it_to_the_rules(
    text: str, intent: str
) -> None:
    # Any other slot set here would stop Rasa from rejecting the form, and the
    # question or request would be swallowed.
    events = raw_events(
        "booking_form",
        at(
            "booking_form",
            text,
            {"booking_name": "Ana Diaz", "requested_slot": "booking_phone"},
            intent=intent,
            confidence=0.95,
        ),
    )
    assert [(e["event"], e["name"]) for e in events] == [("slot", "requested_slot")]


def test_a_symptom_report_typed_as_a_call_back_time_is_not_the_time() -> None:
    tracker = with_reading(
        at(
            "contact_form",
            "there is a lump where you injected",
            {
                "contact_purpose": "handoff",
                "contact_name": "Ana Diaz",
                "contact_phone": "+12015550123",
                "requested_slot": "contact_callback_time",
            },
            intent="report_symptom",
        ),
        severity="unclear",
        screen=True,
        source="classifier",
    )
    events = raw_events("contact_form", tracker)
    assert [(e["event"], e["name"]) for e in events] == [("slot", "requested_slot")]


def test_skip_is_honoured_at_once_where_a_question_can_be_skipped() -> None:
    messages, slots = run(
        "contact_form",
        at("contact_form", "skip", {"contact_name": "Ana Diaz", "requested_slot": "contact_phone"}),
    )
    assert slots["contact_phone"] == "not given"
    assert [m["response"] for m in messages] == ["utter_form_skipped"]
    assert slots["requested_slot"] == "contact_treatment_date"


@pytest.mark.parametrize(
    "form, slot", [("booking_form", "booking_email"), ("contact_form", "contact_phone")]
)
def test_skip_read_as_cancel_by_the_classifier_still_skips(form: str, slot: str) -> None:
    """Read by meaning, "skip" is close to "cancel"; the patient's word wins."""
    filled = {"booking_form": {"booking_name": "Ana Diaz", "booking_phone": "+12015550123"}}
    values = {**filled.get(form, {"contact_name": "Ana Diaz"}), "requested_slot": slot}
    messages, slots = run(form, at(form, "Skip", values, intent="cancel", confidence=0.97))
    assert [m["response"] for m in messages] == ["utter_form_skipped"]
    assert slots[slot] is not None
    assert slots.get("form_outcome") != "cancelled"


def test_cancel_words_still_cancel_whatever_the_classifier_said() -> None:
    values = {"booking_name": "Ana Diaz", "requested_slot": "booking_phone"}
    messages, slots = run("booking_form", at("booking_form", "never mind", values, intent="deny"))
    assert slots["form_outcome"] == "cancelled"
    assert messages[0]["response"] == "utter_booking_cancelled"


def test_why_keeps_the_form_at_the_same_question() -> None:
    values = {
        "contact_name": "Ana Diaz",
        "contact_phone": "+12015550123",
        "requested_slot": "contact_treatment_date",
    }
    _, slots = run("contact_form", at("contact_form", "why do you need that?", values))
    assert slots["requested_slot"] == "contact_treatment_date"


def test_a_skipped_detail_is_not_reused_as_if_given() -> None:
    from actions.escalation import prefilled_contact
    from clinic_core.clinic import load_clinic

    tracker = at("contact_form", "hi", {"contact_name": "not given", "contact_phone": "not given"})
    assert prefilled_contact(tracker, load_clinic()) == []


@pytest.mark.parametrize(
    "stuck_on, reply, expected",
    [
        ("booking_time", "ok, next Monday morning", "booking_time"),
        ("booking_name", "Si Chen", "booking_name"),
    ],
)
def test_an_answer_at_the_way_out_is_taken_not_read_as_yes(
    stuck_on: str, reply: str, expected: str
) -> None:
    filled = {
        k: v
        for k, v in BOOKING_UP_TO_CONSENT.items()
        if k not in (stuck_on, "booking_time_start", "booking_time_end")
    }
    if stuck_on == "booking_name":
        filled = {}
    _, slots = run(
        "booking_form", at("booking_form", reply, stuck("booking_form", stuck_on, filled))
    )
    assert slots.get(expected) is not None and slots.get("form_outcome") is None


def test_a_date_given_for_the_area_is_kept_as_the_time_and_the_area_asked_again() -> None:
    values = {
        **BOOKING_UP_TO_CONSENT,
        "booking_time": None,
        "booking_time_start": None,
        "booking_time_end": None,
        "booking_area": None,
        "requested_slot": "booking_area",
    }
    messages, slots = run("booking_form", at("booking_form", "next friday morning", values))
    assert slots["booking_time"] == "next friday morning" and slots.get("booking_area") is None
    assert [m["response"] for m in messages] == ["utter_form_noted"]
    assert slots["requested_slot"] == "booking_area" and slots["form_attempt"] == 1
