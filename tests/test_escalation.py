"""Triage actions and escalation records, as the action server runs them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.contact_form import ValidateContactForm
from actions.escalation import (
    ActionEscalate,
    ActionStartHandoff,
    ActionTriage,
    ActionTriageDecide,
)
from actions.fallback import ActionFallback
from clinic_core import storage

ROOT = Path(__file__).resolve().parent.parent
DOMAIN: dict[str, Any] = {"slots": {}, "forms": {}, "responses": {}}


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CLINIC_CONFIG", str(ROOT / "tests" / "fixtures" / "test-clinic.yml"))
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CLINIC_WEBHOOK_URL", "http://127.0.0.1:9/unused")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SMTP_HOST", raising=False)
    storage.migrate()


def tracker(
    text: str,
    slots: dict[str, Any] | None = None,
    intent: str = "report_symptom",
    sender: str = "conv-triage",
    history: list[dict[str, Any]] | None = None,
    channel: str = "rest",
) -> Tracker:
    user = {
        "event": "user",
        "text": text,
        "input_channel": channel,
        "parse_data": {"intent": {"name": intent, "confidence": 0.95}},
    }
    return Tracker.from_dict(
        {
            "sender_id": sender,
            "slots": slots or {},
            "latest_message": {"text": text, "intent": {"name": intent, "confidence": 0.95}},
            "events": [*(history or []), user],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        }
    )


def run(action: Any, tracker_: Tracker) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker_, DOMAIN))
    return dispatcher.messages, {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def escalations() -> list[storage.Escalation]:
    with storage.transaction() as session:
        return session.query(storage.Escalation).order_by(storage.Escalation.id).all()


def outbox() -> list[dict[str, Any]]:
    with storage.transaction() as session:
        rows = session.query(storage.OutboxMessage).order_by(storage.OutboxMessage.id).all()
        return [
            {"key": r.idempotency_key, "priority": r.priority, **json.loads(r.payload)}
            for r in rows
        ]


def test_emergency_first_reply_is_the_emergency_number_and_the_clinic_is_alerted_at_once() -> None:
    messages, slots = run(ActionTriage(), tracker("had botox yesterday and now i can't breathe"))
    assert [m["response"] for m in messages] == [
        "utter_emergency_call_now",
        "utter_emergency_clinic_alerted",
    ]
    assert messages[0]["emergency_number"] == "911"
    (row,) = escalations()
    assert row.severity == "emergency" and row.phone is None and row.patient_name is None
    assert "breath" in row.reason
    assert messages[1]["reference"] == row.reference == slots["escalation_reference"]
    (sent,) = outbox()
    assert sent["type"] == "escalation" and sent["severity"] == "emergency"
    assert sent["priority"] == 100 and sent["patient"] == {"name": None, "phone": None}
    assert sent["symptoms"] == "had botox yesterday and now i can't breathe"
    assert slots["triage_severity"] == "emergency" and slots["contact_purpose"] == "emergency"


def test_an_sms_number_is_used_as_the_emergency_contact() -> None:
    run(
        ActionTriage(),
        tracker("my throat is closing up after botox", sender="+12015550123", channel="twilio"),
    )
    (row,) = escalations()
    assert row.phone == "+12015550123" and row.channel == "twilio"


def test_urgent_is_stored_and_sent_before_any_contact_question() -> None:
    messages, slots = run(
        ActionTriage(), tracker("there's pus and the injection spot is hot and red, spreading")
    )
    assert [m["response"] for m in messages] == [
        "utter_triage_urgent",
        "utter_urgent_clinic_alerted",
    ]
    assert slots["triage_severity"] == "urgent" and slots["contact_purpose"] == "urgent"
    (row,) = escalations()
    assert row.severity == "urgent" and row.patient_name is None and "infection" in row.reason
    assert messages[1]["reference"] == row.reference == slots["escalation_reference"]
    (sent,) = outbox()
    assert sent["type"] == "escalation" and sent["severity"] == "urgent"
    assert sent["priority"] == 50


def test_expected_is_reassured_with_the_article_and_offered_a_call_back() -> None:
    messages, slots = run(
        ActionTriage(),
        tracker("had botox this morning and there's a little bruise where the needle went in"),
    )
    assert [m["response"] for m in messages] == ["utter_triage_expected"]
    assert slots["triage_severity"] == "expected" and escalations() == []


def test_expected_then_worse_becomes_urgent() -> None:
    _, slots = run(
        ActionTriage(), tracker("it's getting worse now", {"triage_severity": "expected"})
    )
    assert slots["triage_severity"] == "urgent"


def test_a_question_about_a_red_flag_is_answered_with_the_safety_line_not_escalated() -> None:
    messages, slots = run(ActionTriage(), tracker("what if i can't breathe after botox?"))
    assert slots["triage_severity"] == "none" and escalations() == []
    assert messages[-1]["response"] == "utter_emergency_safety_line"


def test_unplaced_symptom_after_two_noes_is_urgent_never_expected() -> None:
    messages, slots = run(
        ActionTriageDecide(),
        tracker("no", {"triage_red_flags": False, "triage_worsening": False}, intent="deny"),
    )
    assert slots["triage_severity"] == "urgent"
    assert [m["response"] for m in messages] == [
        "utter_triage_urgent",
        "utter_urgent_clinic_alerted",
    ]
    assert escalations()[0].severity == "urgent"


def screened(text: str, severity: str | None, source: str = "semantic") -> Tracker:
    """A tracker whose latest message the pipeline marked for the screening question."""
    t = tracker(text)
    t.latest_message["triage"] = {
        "severity": severity,
        "screen": True,
        "source": source,
        "reason": "unplaced report",
        "language": "en",
        "worsening": False,
    }
    return t


def test_a_screened_report_asks_the_screening_question_before_anything_else() -> None:
    messages, slots = run(ActionTriage(), screened("my throat feels weird", "unclear"))
    assert [m["response"] for m in messages] == ["utter_triage_screen"]
    assert slots["triage_severity"] == "unclear" and slots["triage_pending_severity"] is None
    assert escalations() == []


def test_a_screened_urgent_report_reaches_the_clinic_before_the_screening_question() -> None:
    messages, slots = run(ActionTriage(), screened("fever and my lips feel odd", "urgent"))
    assert [m["response"] for m in messages] == [
        "utter_urgent_clinic_alerted",
        "utter_triage_screen",
    ]
    assert slots["triage_pending_severity"] == "urgent"
    assert escalations()[0].severity == "urgent"


def test_no_to_the_screen_continues_with_the_rules_level() -> None:
    messages, slots = run(
        ActionTriageDecide(),
        tracker("no", {"triage_red_flags": False, "triage_pending_severity": "expected"}, "deny"),
    )
    assert [m["response"] for m in messages] == ["utter_triage_expected"]
    assert slots["triage_severity"] == "expected" and escalations() == []
    messages, slots = run(
        ActionTriageDecide(),
        tracker(
            "no",
            {
                "triage_red_flags": False,
                "triage_pending_severity": "urgent",
                "escalation_reference": "ES-AAAAAA",
            },
            "deny",
        ),
    )
    assert [m["response"] for m in messages] == ["utter_triage_urgent"]  # already alerted
    assert slots["contact_purpose"] == "urgent"


def test_a_report_ends_the_form_that_was_waiting() -> None:
    t = tracker("I can't swallow properly since my treatment")
    t.active_loop = {"name": "booking_form"}
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionTriage().run(dispatcher, t, DOMAIN))
    assert events[0] == {"event": "active_loop", "timestamp": None, "name": None}
    assert dispatcher.messages[0]["response"] == "utter_emergency_call_now"


def test_a_spanish_emergency_is_answered_in_spanish() -> None:
    messages, slots = run(ActionTriage(), tracker("no puedo respirar, tengo la lengua hinchada"))
    assert messages[0]["text"].startswith("Llame ahora mismo al 911")
    assert (
        "He avisado" in messages[1]["text"] and slots["escalation_reference"] in messages[1]["text"]
    )
    assert escalations()[0].severity == "emergency"


def test_yes_to_the_red_flag_question_is_an_emergency() -> None:
    messages, slots = run(
        ActionTriageDecide(), tracker("yes", {"triage_red_flags": True}, intent="affirm")
    )
    assert slots["triage_severity"] == "emergency"
    assert messages[0]["response"] == "utter_emergency_call_now"
    assert escalations()[0].severity == "emergency"


def test_urgent_escalation_is_stored_with_contact_and_tells_when_to_expect_a_call() -> None:
    history = [
        {
            "event": "user",
            "text": "my eyelid droop is getting worse every day",
            "parse_data": {"intent": {"name": "report_symptom"}},
        }
    ]
    slots = {
        "contact_purpose": "urgent",
        "contact_name": "Ana Diaz",
        "contact_phone": "+12015550123",
        "contact_treatment_date": "last tuesday",
        "triage_reason": "urgent: droop_worsening",
    }
    messages, result = run(
        ActionEscalate(), tracker("last tuesday", slots, intent="inform", history=history)
    )
    (row,) = escalations()
    assert (row.severity, row.patient_name, row.phone, row.treatment_date) == (
        "urgent",
        "Ana Diaz",
        "+12015550123",
        "last tuesday",
    )
    assert row.symptoms == "my eyelid droop is getting worse every day"
    assert messages[0]["response"] == "utter_escalation_received"
    assert messages[0]["reference"] == row.reference
    assert messages[1]["response"] in (
        "utter_escalation_call_today",
        "utter_escalation_call_out_of_hours",
    )
    (sent,) = outbox()
    assert (sent["type"], sent["severity"], sent["priority"]) == ("escalation", "urgent", 50)
    assert sent["treatment_date"] == "last tuesday"
    assert result["escalation_reference"] == row.reference


def test_details_given_later_update_the_same_escalation_never_a_duplicate() -> None:
    run(ActionTriage(), tracker("i cant swallow properly since my botox", sender="conv-u"))
    slots = {
        "contact_purpose": "emergency",
        "contact_name": "Ana Diaz",
        "contact_phone": "+12015550123",
    }
    messages, _ = run(
        ActionEscalate(), tracker("201 555 0123", slots, intent="inform", sender="conv-u")
    )
    (row,) = escalations()
    assert (row.patient_name, row.phone, row.update_count) == ("Ana Diaz", "+12015550123", 1)
    first, update = outbox()
    assert (first["type"], update["type"]) == ("escalation", "escalation_update")
    assert update["reference"] == first["reference"] and update["key"] == f"{row.reference}-U1"
    assert update["patient"] == {"name": "Ana Diaz", "phone": "+12015550123"}
    assert [m["response"] for m in messages] == ["utter_emergency_contact_saved"]


def test_handoff_stores_a_routine_escalation_with_the_conversation() -> None:
    history = [
        {
            "event": "user",
            "text": "can i talk to someone",
            "parse_data": {"intent": {"name": "human_handoff"}},
        },
        {"event": "bot", "text": "Of course."},
    ]
    slots = {
        "contact_purpose": "handoff",
        "contact_name": "Ana Diaz",
        "contact_phone": "+12015550123",
        "contact_callback_time": "tomorrow morning",
    }
    run(ActionEscalate(), tracker("tomorrow morning", slots, intent="inform", history=history))
    (row,) = escalations()
    assert row.severity == "routine" and row.preferred_time_text == "tomorrow morning"
    assert "Patient: can i talk to someone" in row.transcript
    (sent,) = outbox()
    assert sent["severity"] == "routine" and sent["priority"] == 0
    assert "Patient: can i talk to someone" in sent["conversation"]


def test_handoff_reuses_what_the_patient_already_gave() -> None:
    _, slots = run(
        ActionStartHandoff(),
        tracker(
            "call me",
            {"booking_name": "Ana Diaz", "booking_phone": "+12015550123"},
            intent="human_handoff",
        ),
    )
    assert slots == {
        "contact_purpose": "handoff",
        "contact_name": "Ana Diaz",
        "contact_phone": "+12015550123",
    }


def test_contact_form_asks_by_purpose() -> None:
    form = ValidateContactForm()

    def required(purpose: str) -> list[str]:
        return asyncio.run(
            form.required_slots(
                [], CollectingDispatcher(), tracker("", {"contact_purpose": purpose}), DOMAIN
            )
        )

    assert required("emergency") == ["contact_name", "contact_phone"]
    assert required("urgent") == ["contact_name", "contact_phone", "contact_treatment_date"]
    assert required("handoff") == ["contact_name", "contact_phone", "contact_callback_time"]


def test_a_second_misunderstanding_offers_a_call_back() -> None:
    fallback = {
        "event": "user",
        "text": "blorp",
        "parse_data": {"intent": {"name": "nlu_fallback"}},
    }
    messages, _ = run(ActionFallback(), tracker("zzz", intent="nlu_fallback"))
    assert [m["response"] for m in messages] == ["utter_fallback"]
    user_now = tracker("zzz", intent="nlu_fallback", history=[fallback])
    messages, _ = run(ActionFallback(), user_now)
    assert [m["response"] for m in messages] == ["utter_fallback_handoff"]


def at_the_screen(text: str, slots: dict[str, Any] | None = None) -> Tracker:
    t = tracker(text, {"requested_slot": "triage_red_flags", **(slots or {})})
    t.active_loop = {"name": "triage_check_form"}
    t.latest_message["triage"] = {"severity": "expected", "screen": False, "reason": "expected"}
    return t


@pytest.mark.parametrize(
    "answer", ["yes, and my forehead is a little swollen", "Yes the swelling", "not sure, maybe"]
)
def test_yes_or_unsure_to_the_screen_is_an_emergency_whatever_follows(answer: str) -> None:
    messages, slots = run(ActionTriage(), at_the_screen(answer))
    assert messages[0]["response"] == "utter_emergency_call_now"
    assert slots["triage_severity"] == "emergency" and escalations()[0].severity == "emergency"


@pytest.mark.parametrize("answer", ["not sure", "maybe a little", "I don't know"])
def test_an_unsure_answer_to_the_screen_counts_as_yes(answer: str) -> None:
    from actions.screening_form import ValidateTriageCheckForm

    t = at_the_screen(answer)
    t.latest_message.pop("triage")  # no report in these words
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ValidateTriageCheckForm().run(dispatcher, t, {"slots": {}, "forms": {}}))
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots["triage_red_flags"] is True
    assert dispatcher.messages == []


def test_a_report_the_rules_cannot_place_reaches_the_clinic_before_the_screen() -> None:
    t = screened("something is happening to my face", "unclear", source="rules")
    t.latest_message["triage"]["rules_severity"] = "unclear"
    messages, _ = run(ActionTriage(), t)
    assert [m["response"] for m in messages] == [
        "utter_urgent_clinic_alerted",
        "utter_triage_screen",
    ]
    assert escalations()[0].severity == "urgent"


def test_a_failed_emergency_save_keeps_the_emergency_purpose(monkeypatch) -> None:
    from actions import escalation

    def broken(*_: Any, **__: Any) -> str:
        raise RuntimeError("database down")

    monkeypatch.setattr(escalation, "save", broken)
    messages, slots = run(ActionTriage(), tracker("my throat is closing up"))
    assert [m["response"] for m in messages] == [
        "utter_emergency_call_now",
        "utter_emergency_not_saved",
    ]
    assert slots["contact_purpose"] == "emergency" and slots["triage_reason"]


def test_the_escalation_is_written_off_the_action_servers_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A slow database write must not stall the other conversations of the action server."""
    import threading

    writers: list[threading.Thread] = []
    original = storage.save_escalation

    def recording(*args: Any, **kwargs: Any) -> Any:
        writers.append(threading.current_thread())
        return original(*args, **kwargs)

    monkeypatch.setattr(storage, "save_escalation", recording)
    messages, _ = run(ActionTriage(), tracker("had botox yesterday and now i can't breathe"))
    assert messages[1]["response"] == "utter_emergency_clinic_alerted"
    assert writers and all(thread is not threading.main_thread() for thread in writers)
