"""The booking form's validation action and the submit action, as the action server runs them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.booking import ActionAskBookingConfirmed, ActionSubmitBooking, ValidateBookingForm
from clinic_core import storage

ROOT = Path(__file__).resolve().parent.parent
DOMAIN: dict[str, Any] = {"slots": {}, "forms": {}, "responses": {}}


@pytest.fixture(autouse=True)
def test_clinic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CLINIC_CONFIG", str(ROOT / "tests" / "fixtures" / "test-clinic.yml"))
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("CLINIC_WEBHOOK_URL", raising=False)
    monkeypatch.delenv("SMTP_HOST", raising=False)


def form_tracker(
    text: str,
    slots: dict[str, Any] | None = None,
    intent: str = "inform",
    confidence: float = 0.9,
    after_message: tuple[str, ...] = ("action_extract_slots", "booking_form"),
    sender: str = "conv-form",
) -> Tracker:
    return Tracker.from_dict(
        {
            "sender_id": sender,
            "slots": slots or {},
            "latest_message": {"text": text, "intent": {"name": intent, "confidence": confidence}},
            "events": [{"event": "user", "text": text, "input_channel": "rest"}]
            + [{"event": "action", "name": name} for name in after_message],
            "paused": False,
            "followup_action": None,
            "active_loop": {"name": "booking_form"},
            "latest_action_name": after_message[-1] if after_message else "action_listen",
        }
    )


def validate(tracker: Tracker) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Run the validation action; return the messages and the resulting slot values."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ValidateBookingForm().run(dispatcher, tracker, DOMAIN))
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    # Which wording the next question uses is checked in tests/test_forms.py.
    for wording in ("form_attempt", "form_skippable"):
        slots.pop(wording, None)
    return dispatcher.messages, slots


FILLED = {
    "booking_name": "Ana Diaz",
    "booking_phone": "+447911123456",
    "booking_email": "none",
    "booking_time": "next tuesday afternoon",
    "booking_time_start": "2026-12-01T12:00:00-06:00",
    "booking_time_end": "2026-12-01T17:00:00-06:00",
    "booking_area": "forehead lines",
    "booking_new_patient": True,
    "booking_consent": True,
}


def test_details_given_up_front_are_taken_and_not_asked_again() -> None:
    _, slots = validate(
        form_tracker(
            "I'm Ana Diaz, can I book next Tuesday afternoon? +44 7911 123456",
            intent="book_appointment",
        )
    )
    assert slots["booking_name"] == "Ana Diaz"
    assert slots["booking_phone"] == "+447911123456"
    assert slots["booking_time"] == "I'm Ana Diaz, can I book next Tuesday afternoon?"
    assert slots["booking_time_start"].endswith("T12:00:00-06:00")
    assert slots["requested_slot"] == "booking_email"


def test_an_sms_or_whatsapp_patient_is_not_asked_for_the_number_they_write_from() -> None:
    _, slots = validate(
        form_tracker("i want to book", intent="book_appointment", sender="whatsapp:+12015550123")
    )
    assert slots["booking_phone"] == "+12015550123"
    _, slots = validate(
        form_tracker(
            "Ana Diaz",
            {"requested_slot": "booking_name", "booking_phone": "+12015550123"},
            sender="whatsapp:+12015550123",
        )
    )
    assert slots["requested_slot"] == "booking_email"


def test_a_plain_booking_request_asks_for_the_name_first() -> None:
    _, slots = validate(form_tracker("i want to book", intent="book_appointment"))
    assert slots == {"requested_slot": "booking_name"}


def test_a_valid_answer_fills_the_slot_and_moves_on() -> None:
    _, slots = validate(
        form_tracker(
            "201 555 0123", {"requested_slot": "booking_phone", "booking_name": "Ana Diaz"}
        )
    )
    assert slots["booking_phone"] == "+12015550123"
    assert slots["requested_slot"] == "booking_email"


def test_an_invalid_answer_gets_a_specific_reprompt() -> None:
    messages, slots = validate(
        form_tracker("12", {"requested_slot": "booking_phone", "booking_name": "Ana Diaz"})
    )
    assert "complete phone number" in messages[0]["text"]
    assert slots["booking_phone"] is None
    assert slots["form_state"]["misses"] == {"booking_phone": 1}
    assert slots["requested_slot"] == "booking_phone"


def test_the_third_failure_asks_person_skip_or_cancel_instead_of_the_question() -> None:
    messages, slots = validate(
        form_tracker(
            "12",
            {
                "requested_slot": "booking_phone",
                "booking_name": "Ana Diaz",
                "form_state": {"form": "booking_form", "misses": {"booking_phone": 2}},
            },
        )
    )
    # No re-prompt: the question that follows is the way out (utter_ask_..._form_recovery).
    assert messages == []
    assert slots["form_state"]["stuck"] == "booking_phone"
    assert slots["requested_slot"] == "form_recovery"


def test_an_faq_question_is_not_taken_as_the_answer() -> None:
    # Nothing but the requested slot: Rasa then rejects the form for this turn,
    # so the rules answer the question and the form asks again.
    messages, slots = validate(
        form_tracker(
            "how long does botox last",
            {"requested_slot": "booking_name"},
            intent="faq",
            confidence=0.97,
        )
    )
    assert messages == [] and slots == {"requested_slot": "booking_name"}


def test_after_answering_an_interruption_the_same_question_is_asked_again() -> None:
    messages, slots = validate(
        form_tracker(
            "how long does botox last",
            {"requested_slot": "booking_name"},
            intent="faq",
            after_message=("booking_form", "utter_faq", "booking_form"),
        )
    )
    assert messages == [] and slots == {"requested_slot": "booking_name"}


def test_an_area_button_is_an_answer_even_if_it_reads_like_an_faq_topic() -> None:
    _, slots = validate(
        form_tracker(
            "forehead lines",
            {
                **FILLED,
                "booking_area": None,
                "booking_new_patient": None,
                "booking_consent": None,
                "requested_slot": "booking_area",
            },
            intent="faq",
            confidence=1.0,
        )
    )
    assert slots["booking_area"] == "forehead lines"
    assert slots["requested_slot"] == "booking_new_patient"


def test_why_do_you_need_my_phone_is_explained_and_asked_again() -> None:
    messages, slots = validate(
        form_tracker(
            "why do you need my phone number?",
            {"requested_slot": "booking_phone", "booking_name": "Ana Diaz"},
        )
    )
    assert [m["response"] for m in messages] == ["utter_why_booking_phone"]
    assert slots == {"booking_phone": None, "requested_slot": "booking_phone"}


@pytest.mark.parametrize(
    "text, intent",
    [
        ("stop", "deny"),
        ("never mind", "deny"),
        ("i don't want to book any more", "cancel"),
        ("cancel", "out_of_scope"),
    ],
)
def test_cancel_forgets_everything_and_ends_the_form(text: str, intent: str) -> None:
    messages, slots = validate(
        form_tracker(text, {**FILLED, "requested_slot": "booking_area"}, intent=intent)
    )
    assert [m["response"] for m in messages] == ["utter_booking_cancelled"]
    assert slots["requested_slot"] is None
    assert all(slots[name] is None for name in FILLED)


def test_a_correction_updates_an_earlier_answer_without_answering_the_question() -> None:
    slots_before = {
        **FILLED,
        "booking_area": None,
        "booking_new_patient": None,
        "booking_consent": None,
        "requested_slot": "booking_area",
    }
    _, slots = validate(form_tracker("actually my number is 201 555 0199", slots_before))
    assert slots["booking_phone"] == "+12015550199"
    assert "booking_area" not in slots or slots["booking_area"] is None
    assert slots["requested_slot"] == "booking_area"


def test_a_past_date_is_refused_with_the_reason() -> None:
    messages, slots = validate(
        form_tracker(
            "yesterday",
            {
                **FILLED,
                "booking_time": None,
                "booking_time_start": None,
                "booking_time_end": None,
                "requested_slot": "booking_time",
            },
        )
    )
    assert slots["booking_time"] is None and slots["requested_slot"] == "booking_time"
    assert "already passed" in messages[0]["text"]


def test_consent_must_be_given_plainly() -> None:
    messages, slots = validate(
        form_tracker(
            "no",
            {**FILLED, "booking_consent": None, "requested_slot": "booking_consent"},
            intent="deny",
        )
    )
    assert slots["booking_consent"] is None
    assert "can't call you back" in messages[0]["text"]


def test_confirming_completes_the_form() -> None:
    _, slots = validate(
        form_tracker("yes", {**FILLED, "requested_slot": "booking_confirmed"}, intent="affirm")
    )
    assert slots["booking_confirmed"] is True and slots["requested_slot"] is None


def test_naming_a_detail_at_the_summary_asks_for_it_again() -> None:
    _, slots = validate(
        form_tracker("can you change the time", {**FILLED, "requested_slot": "booking_confirmed"})
    )
    assert slots["booking_time"] is None and slots["booking_time_start"] is None
    assert slots["requested_slot"] == "booking_time"


def test_change_without_saying_what_asks_which_detail() -> None:
    _, slots = validate(
        form_tracker("no", {**FILLED, "requested_slot": "booking_confirmed"}, intent="deny")
    )
    assert slots["booking_confirmed"] is False
    assert slots["requested_slot"] == "booking_change_field"
    _, slots = validate(
        form_tracker(
            "phone",
            {**FILLED, "booking_confirmed": False, "requested_slot": "booking_change_field"},
        )
    )
    assert slots["booking_phone"] is None and slots["requested_slot"] == "booking_phone"


def test_summary_shows_every_detail_to_confirm() -> None:
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionAskBookingConfirmed().run(dispatcher, form_tracker("", FILLED), DOMAIN))
    (message,) = dispatcher.messages
    assert message["response"] == "utter_booking_summary"
    assert message["name"] == "Ana Diaz" and message["phone"] == "+44 7911 123456"
    assert message["email"] == "not given" and message["area"] == "forehead lines"
    assert message["time"].startswith("Tuesday December 1, 12:00-17:00")


def submit(slots: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionSubmitBooking().run(dispatcher, form_tracker("yes", slots), DOMAIN))
    return dispatcher.messages, events


def stored_bookings() -> list[storage.Booking]:
    storage.migrate()
    with storage.transaction() as session:
        return session.query(storage.Booking).all()


def test_submit_stores_before_telling_and_gives_the_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLINIC_WEBHOOK_URL", "http://127.0.0.1:9/unused")
    storage.migrate()
    messages, events = submit({**FILLED, "booking_confirmed": True})
    (booking,) = stored_bookings()
    assert [m["response"] for m in messages] == ["utter_booking_received"]
    assert messages[0]["reference"] == booking.reference
    assert booking.phone == "+447911123456" and booking.email is None
    assert booking.channel == "rest" and booking.conversation_id == "conv-form"
    with storage.transaction() as session:
        (row,) = session.query(storage.OutboxMessage).all()
        assert json.loads(row.payload)["reference"] == booking.reference
    assert all(e["value"] is None for e in events if e["event"] == "slot")


def test_submitting_twice_creates_one_booking() -> None:
    storage.migrate()
    first, _ = submit({**FILLED, "booking_confirmed": True})
    second, _ = submit({**FILLED, "booking_confirmed": True})
    assert first[0]["reference"] == second[0]["reference"]
    assert len(stored_bookings()) == 1


def test_an_unconfirmed_form_sends_nothing() -> None:
    storage.migrate()
    messages, events = submit({**FILLED, "booking_confirmed": None})
    assert messages == [] and stored_bookings() == []
    assert all(e["value"] is None for e in events if e["event"] == "slot")


def test_if_storing_fails_the_patient_is_not_told_it_was_received(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/missing/dir/x.db")
    (tmp_path / "missing").write_text("a file where a folder should be")
    messages, _ = submit({**FILLED, "booking_confirmed": True})
    assert [m["response"] for m in messages] == ["utter_booking_not_saved"]
    assert messages[0]["clinic_phone"] == "+1 555-0142"
