"""Whole conversations through the real servers and the REST channel.

The servers are started by scripts/run.py (as `make run` does) with the test
clinic file, so answers that must come from the clinic file can be told
apart from anything hard-coded.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest
import yaml

from tests.support import RunningAssistant, http

# One patient question per FAQ topic, and facts from the article that the
# answer must state (lower-case substrings).
TOPIC_QUESTIONS = {
    "what_is_botox": ("what actually is botox?", ["injectable", "decades"]),
    "how_it_works": ("how does botox work on wrinkles", ["rubber bands", "tight muscles"]),
    "treatment_areas": (
        "which parts of the body can botox be injected into",
        ["face", "other areas of the body"],
    ),
    "side_effects": (
        "is botox safe, what are the risks?",
        ["side effects", "soreness", "headaches", "rare"],
    ),
    "side_effects_mild": (
        "is it normal to bruise after botox injections?",
        ["bruising", "injection site"],
    ),
    "side_effects_moderate": (
        "can botox give you headaches or a droopy face?",
        ["headaches", "drooping", "spread"],
    ),
    "side_effects_duration": (
        "how long do botox side effects last?",
        ["a few days to a few weeks"],
    ),
    "duration": ("how long do the results of botox last", ["6 months"]),
    "touch_ups": (
        "how often do i need to come back for touch ups",
        ["regular", "touch-ups", "more efficient"],
    ),
    "suitability": (
        "is botox right for everyone? can anyone have it?",
        ["isn't right for everyone", "dermatologist"],
    ),
    "when_to_call": (
        "who should i contact if i notice something unusual after my treatment",
        ["+1 555-0142", "urgent care", "911"],
    ),
}


def new_sender() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def joined(texts: list[str]) -> str:
    return " ".join(texts).lower()


def test_first_message_says_automated_not_medical_advice_and_how_to_reach_a_person(
    assistant: RunningAssistant,
) -> None:
    texts = assistant.texts(new_sender(), "how long does botox last?")
    first = texts[0].lower()
    assert "automated assistant" in first
    assert "not a substitute for medical advice" in first
    assert "+1 555-0142" in first  # the test clinic's phone, from the clinic file
    assert "6 months" in joined(texts[1:])


@pytest.mark.parametrize("topic", sorted(TOPIC_QUESTIONS))
def test_each_faq_topic_is_answered_with_the_articles_facts(
    assistant: RunningAssistant, topic: str
) -> None:
    question, facts = TOPIC_QUESTIONS[topic]
    sender = new_sender()
    assistant.send(sender, "hi")
    answer = joined(assistant.texts(sender, question))
    for fact in facts:
        assert fact.lower() in answer, f"{topic}: {fact!r} missing from {answer!r}"


def test_yes_to_the_follow_up_answers_the_offered_topic(assistant: RunningAssistant) -> None:
    sender = new_sender()
    assistant.send(sender, "hello")
    offer = joined(assistant.texts(sender, "how long does botox last"))
    assert "touch-ups?" in offer
    assert "more efficient" in joined(assistant.texts(sender, "yes please"))


def test_clinic_info_comes_from_the_clinic_file_and_follows_its_changes(
    assistant: RunningAssistant,
) -> None:
    sender = new_sender()
    assistant.send(sender, "hi")
    assert "7 testwood road" in joined(assistant.texts(sender, "what's your address?"))
    # A fact the clinic did not configure is not guessed.
    insurance = joined(assistant.texts(sender, "do you take insurance?"))
    assert "don't have information about insurance" in insurance and "+1 555-0142" in insurance
    # Editing the clinic file changes the answer without retraining or restart.
    original = assistant.clinic_file.read_text()
    try:
        facts = yaml.safe_load(original)
        facts["address"] = "99 Moved Street, Testville"
        assistant.clinic_file.write_text(yaml.safe_dump(facts))
        later = time.time() + 5
        os.utime(assistant.clinic_file, (later, later))
        assert "99 moved street" in joined(assistant.texts(sender, "where are you located?"))
    finally:
        assistant.clinic_file.write_text(original)


def test_an_expected_symptom_gets_the_articles_reassurance(assistant: RunningAssistant) -> None:
    sender = new_sender()
    assistant.send(sender, "hi")
    texts = assistant.texts(sender, "i had botox on monday and now my forehead is a bit swollen")
    reply = joined(texts)
    assert "within a few days to a few weeks" in reply and "+1 555-0142" in reply
    assert "call you back" in reply


@pytest.mark.parametrize(
    "message, expected",
    [
        ("are you a real person or a bot?", "automated assistant"),
        ("can i talk to a real person please", "call you back"),
        ("how long does lip filler last?", "only help with questions about botox"),
        ("i'd like to book an appointment", "full name"),
    ],
)
def test_other_intents_get_safe_answers(
    assistant: RunningAssistant, message: str, expected: str
) -> None:
    sender = new_sender()
    assistant.send(sender, "hello")
    assert expected in joined(assistant.texts(sender, message))


BAD_INPUTS = {
    "empty": "",
    "whitespace": "   \n\t ",
    "emoji only": "😀😀😀",
    "html/script": "<script>alert('x')</script>",
    "sql": "'; DROP TABLE events; --",
    "non-english": "Wie wird das Wetter morgen in Berlin?",
    "binary": "\x00\x01\x02\x7f\ufffd\ufffd",
    "null": None,
}


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
def test_bad_input_gets_a_sensible_reply(assistant: RunningAssistant, kind: str) -> None:
    sender = new_sender()
    assistant.send(sender, "hi")
    texts = assistant.texts(sender, BAD_INPUTS[kind])
    reply = joined(texts)
    assert texts, f"no reply to {kind} input"
    expected = ("not sure i understood", "only help with", "only read and answer in english")
    assert any(phrase in reply for phrase in expected), reply
    # Nothing the patient sent is echoed back as markup.
    assert "<script" not in reply


def test_a_botox_question_in_another_language_gets_an_answer(assistant: RunningAssistant) -> None:
    texts = assistant.texts(new_sender(), "¿Cuánto tiempo dura el bótox en la frente?")
    assert len(texts) >= 2 and texts[-1].strip()
    # Told in Spanish that the assistant answers in English, and how to call.
    assert "solo puede responder en inglés" in texts[-1] and "+1 555-0142" in texts[-1]


def test_huge_message_is_declined_politely(assistant: RunningAssistant) -> None:
    texts = assistant.texts(new_sender(), "botox " * 2000)
    assert len(texts) == 1 and "too long" in texts[0] and "12,000 characters" in texts[0]


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1,2]",
        b'{"message": "hi"}',
        b'{"sender": "<b>x</b>", "message": "hi"}',
        b"\xff\xfe\x00binary",
    ],
)
def test_malformed_requests_get_a_400_that_explains(
    assistant: RunningAssistant, body: bytes
) -> None:
    status, reply = http("POST", f"{assistant.rasa_url}/webhooks/rest/webhook", raw=body)
    assert status == 400 and "sender" in reply["error"]


@pytest.mark.parametrize("message_id", ["", "<script>", 42, "x" * 129])
def test_a_malformed_message_id_gets_a_400_that_explains(
    assistant: RunningAssistant, message_id: object
) -> None:
    body = {"sender": new_sender(), "message": "hi", "message_id": message_id}
    status, reply = http("POST", f"{assistant.rasa_url}/webhooks/rest/webhook", body)
    assert status == 400 and "message_id" in reply["error"]


def test_non_text_message_gets_a_polite_reply(assistant: RunningAssistant) -> None:
    texts = assistant.texts(new_sender(), {"text": "hi"})
    assert texts == ["Sorry, I can only read text messages. Could you type your question?"]


def test_http_api_requires_the_token(assistant: RunningAssistant) -> None:
    url = f"{assistant.rasa_url}/model/parse"
    status, _ = http("POST", url, {"text": "hello"})
    assert status == 401
    status, parsed = http(
        "POST", f"{url}?token={assistant.token}", {"text": "how long does botox last"}
    )
    assert status == 200
    assert parsed["response_selector"]["faq"]["response"]["intent_response_key"] == "faq/duration"


def test_conversation_is_stored_in_the_sqlite_tracker_store(assistant: RunningAssistant) -> None:
    sender = new_sender()
    assistant.send(sender, "how long does botox last")
    status, tracker = http(
        "GET", f"{assistant.rasa_url}/conversations/{sender}/tracker?token={assistant.token}"
    )
    assert status == 200
    assert [e["text"] for e in tracker["events"] if e["event"] == "user"] == [
        "how long does botox last"
    ]
    assert (assistant.data_dir / "conversations.db").stat().st_size > 0


def test_patient_messages_are_not_written_to_the_logs(assistant: RunningAssistant) -> None:
    canary = f"my name is canary{uuid.uuid4().hex[:8]} and my forehead is bruised"
    assistant.send(new_sender(), canary)
    time.sleep(1)
    assert canary.split()[3] not in assistant.logs()


def test_browsers_may_call_only_from_the_clinic_site(assistant: RunningAssistant) -> None:
    url = f"{assistant.rasa_url}/webhooks/rest/webhook"
    body = {"sender": new_sender(), "message": "hi"}
    _, allowed = http_with_headers("POST", url, body, {"Origin": assistant.widget_url})
    _, other = http_with_headers("POST", url, body, {"Origin": "https://evil.example"})
    assert allowed.get("Access-Control-Allow-Origin") == assistant.widget_url
    assert other.get("Access-Control-Allow-Origin") is None


def http_with_headers(method: str, url: str, body: dict, headers: dict) -> tuple[int, dict]:
    """Like conftest.http, but returns the response headers."""
    import json
    import urllib.request

    request = urllib.request.Request(url, data=json.dumps(body).encode(), method=method)
    request.add_header("Content-Type", "application/json")
    for name, value in headers.items():
        request.add_header(name, value)
    with urllib.request.urlopen(request, timeout=60) as reply:
        return reply.status, dict(reply.headers.items())
