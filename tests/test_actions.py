"""Custom actions, run the way the action server runs them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.clinic_facts import ActionClinicInfo
from actions.offers import ActionAcceptOffer
from actions.session import ActionSessionStart

ROOT = Path(__file__).resolve().parent.parent
TEST_CLINIC = ROOT / "tests" / "fixtures" / "test-clinic.yml"
FAQ_RESPONSES = yaml.safe_load((ROOT / "data" / "responses" / "faq.yml").read_text())["responses"]
DOMAIN_RESPONSES = yaml.safe_load((ROOT / "domain.yml").read_text())["responses"]
DOMAIN = {"responses": {**DOMAIN_RESPONSES, **FAQ_RESPONSES}}


pytestmark = pytest.mark.usefixtures("test_clinic")


def tracker(
    text: str = "", events: list[dict[str, Any]] | None = None, intent: str = "clinic_info"
) -> Tracker:
    return Tracker.from_dict(
        {
            "sender_id": "test-conversation",
            "slots": {},
            "latest_message": {"text": text, "intent": {"name": intent, "confidence": 0.9}},
            "events": events or [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        }
    )


def run(action: Any, tracker_: Tracker) -> tuple[CollectingDispatcher, list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker_, DOMAIN))
    return dispatcher, events


def bot_event(utter_action: str) -> dict[str, Any]:
    return {"event": "bot", "text": "...", "metadata": {"utter_action": utter_action}}


class TestSessionStart:
    def test_opens_with_the_automated_assistant_notice_and_clinic_facts(self) -> None:
        dispatcher, events = run(ActionSessionStart(), tracker())
        assert dispatcher.messages[0]["response"] == "utter_iamabot"
        assert dispatcher.messages[0]["clinic_phone"] == "+1 555-0142"
        assert dispatcher.messages[0]["clinic_name"] == "Testwood Dermatology"
        assert events[0]["event"] == "session_started"
        slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
        assert slots == {
            "clinic_name": "Testwood Dermatology",
            "clinic_phone": "+1 555-0142",
            "emergency_number": "911",
            "after_hours_line": "+1 555-0143",
        }
        assert (events[-1]["event"], events[-1]["name"]) == ("action", "action_listen")


class TestClinicInfo:
    @pytest.mark.parametrize(
        "question, expected",
        [
            ("what time do you open on friday", "Friday 08:30-16:00"),
            ("where are you located", "7 Testwood Road, Testville"),
            ("how much is botox", "Botox, one area: from $199"),
            ("is there parking", "Street parking only."),
            ("do you take cash?", "Cards only."),
            ("whats ur phone number", "+1 555-0142"),
            ("can I email you", "desk@testwood-derm.test"),
        ],
    )
    def test_answers_from_the_clinic_file(self, question: str, expected: str) -> None:
        dispatcher, _ = run(ActionClinicInfo(), tracker(question))
        assert any(expected in m["text"] for m in dispatcher.messages), dispatcher.messages

    def test_a_fact_the_clinic_did_not_configure_is_not_guessed(self) -> None:
        dispatcher, _ = run(ActionClinicInfo(), tracker("do you accept my insurance?"))
        (message,) = dispatcher.messages
        assert "don't have information about insurance" in message["text"]
        assert "+1 555-0142" in message["text"]

    def test_two_facts_in_one_question_get_two_answers(self) -> None:
        dispatcher, _ = run(ActionClinicInfo(), tracker("where are you and when are you open"))
        texts = " ".join(m["text"] for m in dispatcher.messages)
        assert "7 Testwood Road" in texts and "Monday 08:30-17:30" in texts

    def test_an_unspecific_question_gets_the_essentials(self) -> None:
        dispatcher, _ = run(ActionClinicInfo(), tracker("tell me about the clinic"))
        (message,) = dispatcher.messages
        for fact in ("Testwood Dermatology", "+1 555-0142", "7 Testwood Road", "Monday"):
            assert fact in message["text"]


class TestAcceptOffer:
    def test_yes_after_a_faq_answer_gives_the_offered_topic(self) -> None:
        events = [bot_event("utter_faq/side_effects")]
        dispatcher, _ = run(ActionAcceptOffer(), tracker("yes", events, "affirm"))
        assert [m["response"] for m in dispatcher.messages] == ["utter_faq/side_effects_duration"]

    def test_yes_to_a_booking_offer_starts_the_booking(self) -> None:
        events = [bot_event("utter_faq/touch_ups")]
        dispatcher, result = run(ActionAcceptOffer(), tracker("yes", events, "affirm"))
        assert dispatcher.messages == []
        assert result == [{"event": "followup", "name": "booking_form", "timestamp": None}]

    def test_yes_with_nothing_offered_asks_what_they_would_like(self) -> None:
        events = [bot_event("utter_faq/when_to_call")]
        dispatcher, _ = run(ActionAcceptOffer(), tracker("yes", events, "affirm"))
        assert [m["response"] for m in dispatcher.messages] == ["utter_what_would_you_like"]

    @pytest.mark.parametrize("question", ["utter_anything_else", "utter_thank"])
    def test_yes_to_anything_else_asks_what_they_would_like(self, question: str) -> None:
        events = [bot_event(question)]
        dispatcher, _ = run(ActionAcceptOffer(), tracker("yes", events, "affirm"))
        assert [m["response"] for m in dispatcher.messages] == ["utter_what_would_you_like"]

    def test_yes_to_the_offer_of_a_person_arranges_the_call_back(self) -> None:
        events = [bot_event("utter_fallback_handoff")]
        dispatcher, result = run(ActionAcceptOffer(), tracker("yes", events, "affirm"))
        assert [m["response"] for m in dispatcher.messages] == ["utter_handoff_start"]
        assert ("slot", "contact_purpose", "handoff") in [
            (e["event"], e.get("name"), e.get("value")) for e in result
        ]
        assert result[-1]["event"] == "followup" and result[-1]["name"] == "contact_form"

    def test_only_the_latest_bot_message_counts(self) -> None:
        events = [
            bot_event("utter_faq/duration"),
            {"event": "user", "text": "hm"},
            bot_event("utter_greet"),
        ]
        dispatcher, _ = run(ActionAcceptOffer(), tracker("yes", events, "affirm"))
        assert [m["response"] for m in dispatcher.messages] == ["utter_what_would_you_like"]


def test_yes_to_a_call_back_offer_starts_the_contact_form_with_known_details(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    domain = {
        "responses": {
            "utter_triage_expected": [{"text": "...", "metadata": {"follow_up": "callback"}}]
        }
    }
    events = [bot_event("utter_triage_expected")]
    known = tracker("yes", events, "affirm")
    known.slots["booking_name"] = "Ana Diaz"
    dispatcher = CollectingDispatcher()
    result = asyncio.run(ActionAcceptOffer().run(dispatcher, known, domain))
    assert dispatcher.messages == []
    assert [(e["event"], e.get("name"), e.get("value")) for e in result] == [
        ("slot", "contact_purpose", "callback"),
        ("slot", "contact_name", "Ana Diaz"),
        ("followup", "contact_form", None),
    ]


def test_did_you_mean_offers_the_likely_topics_in_the_patients_terms() -> None:
    from clinic_core import clarify

    parse = {
        "intent_ranking": [
            {"name": "nlu_fallback", "confidence": 0.4},
            {"name": "faq", "confidence": 0.8},
            {"name": "book_appointment", "confidence": 0.15},
        ],
        "response_selector": {
            "faq": {
                "ranking": [
                    {"intent_response_key": "faq/duration", "confidence": 0.45},
                    {"intent_response_key": "faq/side_effects_duration", "confidence": 0.4},
                    {"intent_response_key": "faq/touch_ups", "confidence": 0.05},
                ]
            }
        },
    }
    labels = clarify.candidates(parse)
    assert labels == ["faq/duration", "faq/side_effects_duration", "book_appointment"]
    titles = [b["title"] for b in clarify.buttons(labels)]
    assert titles == [
        "How long results last",
        "How long side effects last",
        "Book an appointment",
        "Something else",
    ]


def test_a_follow_up_is_read_against_the_answer_it_follows() -> None:
    from clinic_core import follow_ups

    assert follow_ups.resolve("faq/side_effects", "how long do they last?") == (
        "faq/side_effects_duration"
    )
    assert follow_ups.resolve("faq/duration", "how long do they last?") == "faq/duration"
    assert follow_ups.resolve("faq/how_it_works", "where can it go?") == "faq/treatment_areas"
    # A question that names its own subject is left to the classifier.
    assert follow_ups.resolve("faq/side_effects", "how long does botox last?") is None
    assert follow_ups.resolve(None, "how long do they last?") is None


def test_something_else_after_did_you_mean_counts_as_a_second_miss() -> None:
    from rasa_sdk import Tracker

    from actions.fallback import misunderstood_in_a_row

    def user(intent: str) -> dict:
        return {"event": "user", "text": "x", "parse_data": {"intent": {"name": intent}}}

    asked = {
        "event": "bot",
        "text": "Did you mean",
        "metadata": {"utter_action": "utter_did_you_mean"},
    }
    events = [user("nlu_fallback"), asked, user("deny")]
    tracker = Tracker.from_dict({"sender_id": "s", "events": events, "slots": {}})
    assert misunderstood_in_a_row(tracker) == 2
    plain_no = [user("faq"), {"event": "bot", "text": "answer", "metadata": {}}, user("deny")]
    assert misunderstood_in_a_row(Tracker.from_dict({"sender_id": "s", "events": plain_no})) == 0
