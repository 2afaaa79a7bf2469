"""Safety through the real servers: an emergency preempts every waiting state.

Each case drives a fresh conversation to one question the assistant is
waiting on (every question of every form, the screening question, the offer
of a call-back...), then reports an emergency there. The first reply must be
the emergency advice, and the clinic must receive exactly one escalation for
the conversation, at emergency severity. The other tests cover the screening
question, urgent reports reaching the clinic before any question, and
Spanish emergencies.
"""

from __future__ import annotations

import json
import time
import uuid
import zlib

import pytest

from tests.support import RunningAssistant
from tests.test_e2e_booking import CONVERSATION as BOOKING
from tests.test_e2e_booking import wait_for

EMERGENCY_REPLY = "Please call 911 now"

# Reaching each waiting state: the messages, then words of the question asked.
BOOKING_STATES = [
    pytest.param(
        [m for m, _ in BOOKING[: i + 1]], question, id=f"booking-{question.split()[0].lower()}"
    )
    for i, (_, question) in enumerate(BOOKING)
]
OTHER_STATES = [
    pytest.param(
        ["the injection spot is hot and there's pus coming out of it"],
        "full name",
        id="urgent-contact-name",
    ),
    pytest.param(
        ["the injection spot is hot and there's pus coming out of it", "Ana Diaz"],
        "number",
        id="urgent-contact-phone",
    ),
    pytest.param(
        ["the injection spot is hot and there's pus coming out of it", "Ana Diaz", "2015550123"],
        "treatment",
        id="urgent-contact-treatment-date",
    ),
    pytest.param(["can I talk to a real person please"], "full name", id="handoff-name"),
    pytest.param(
        ["can I talk to a real person please", "Ana Diaz", "2015550123"],
        "suit you for a call",
        id="handoff-callback-time",
    ),
    pytest.param(
        ["there's a small bruise where I was injected yesterday"],
        "call you back",
        id="expected-callback-offer",
    ),
    pytest.param(
        ["there's a small bruise where I was injected yesterday", "yes please"],
        "full name",
        id="expected-callback-name",
    ),
    pytest.param(
        ["my lips and tongue are swelling up fast"], "full name", id="emergency-contact-name"
    ),
    pytest.param(["can I talk to a real person please", "Ana Diaz"], "number", id="handoff-phone"),
    pytest.param(["how long does botox last?"], "touch-ups", id="faq-follow-up-offer"),
    pytest.param(
        ["I'd like to book an appointment", "Ana Diaz", "12", "123", "1234"],
        "call you back with what you've told me so far",
        id="booking-three-strikes-offer",
    ),
    pytest.param(
        [m for m, _ in BOOKING] + ["no, I want to change something"],
        "Which detail",
        id="booking-change-field",
    ),
    pytest.param(
        ["my forehead feels kind of funny since the injections"],
        "right now",
        id="screening-question",
    ),
    pytest.param(
        ["my forehead feels kind of funny since the injections", "no"],
        "full name",
        id="after-the-screen-contact-name",
    ),
]
# Emergencies in several wordings, one per case (cycled).
EMERGENCIES = [
    "I can't swallow properly since my treatment",
    "my lips and tongue are swelling up really fast",
    "I'm seeing double and my speech is slurred",
    "my whole body feels weak and I can't hold my head up",
    "my throat feels like it's closing",
    "I nearly fainted and my chest is tight",
]


def sender(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def notifications(assistant: RunningAssistant, conversation: str) -> list[dict]:
    bodies = [json.loads(r.body) for r in assistant.webhook.requests]
    return [b for b in bodies if b.get("conversation_id") == conversation]


def escalations(assistant: RunningAssistant, conversation: str) -> list[dict]:
    return [b for b in notifications(assistant, conversation) if b["type"] == "escalation"]


def drive(assistant: RunningAssistant, conversation: str, messages: list[str], question: str):
    assistant.send(conversation, "hello")
    replies: list[str] = []
    for message in messages:
        replies = assistant.texts(conversation, message)
    assert question in " ".join(replies), f"not waiting on {question!r}: {replies!r}"


@pytest.mark.parametrize("messages, question", BOOKING_STATES + OTHER_STATES)
def test_an_emergency_at_any_waiting_state_gets_the_emergency_reply_and_one_escalation(
    assistant: RunningAssistant, messages: list[str], question: str, request: pytest.FixtureRequest
) -> None:
    conversation = sender("preempt")
    drive(assistant, conversation, messages, question)
    emergency = EMERGENCIES[zlib.crc32(request.node.callspec.id.encode()) % len(EMERGENCIES)]
    texts = assistant.texts(conversation, emergency)
    assert texts and texts[0].startswith(EMERGENCY_REPLY), texts
    assert "alerted" in " ".join(texts[1:3])
    assert wait_for(
        lambda: any(n["severity"] == "emergency" for n in notifications(assistant, conversation))
    )
    time.sleep(1)
    assert len(escalations(assistant, conversation)) == 1, notifications(assistant, conversation)
    # Whatever form was waiting is over; only the emergency's own contact
    # questions (optional, after the advice) can follow.
    tracker = assistant.tracker(conversation)
    assert tracker["slots"]["triage_severity"] == "emergency"
    if tracker["active_loop"].get("name"):
        assert tracker["active_loop"]["name"] == "contact_form"
        assert tracker["slots"]["contact_purpose"] == "emergency"


def test_an_unplaced_report_gets_the_screening_question_first_and_yes_is_an_emergency(
    assistant: RunningAssistant,
) -> None:
    conversation = sender("screen")
    assistant.send(conversation, "hi")
    texts = assistant.texts(conversation, "my forehead feels kind of funny since the injections")
    assert "right now?" in texts[-1] and "breathing, swallowing, speaking or seeing" in texts[-1]
    # A report the rules cannot place is urgent at least: the clinic has it
    # before the question is asked.
    assert "alerted" in " ".join(texts[:-1])
    assert wait_for(lambda: escalations(assistant, conversation))
    (first,) = escalations(assistant, conversation)
    assert first["severity"] == "urgent"
    texts = assistant.texts(conversation, "yes")
    assert texts[0].startswith(EMERGENCY_REPLY)
    assert wait_for(
        lambda: any(n["severity"] == "emergency" for n in notifications(assistant, conversation))
    )
    time.sleep(1.5)
    assert len(escalations(assistant, conversation)) == 1  # the same escalation, raised
    update = notifications(assistant, conversation)[-1]
    assert update["type"] == "escalation_update" and update["reference"] == first["reference"]
    assert "screening question" in update["reason"]
    assert first["reference"] in " ".join(texts)


def test_a_possible_red_flag_in_new_words_is_screened_and_no_continues_the_triage(
    assistant: RunningAssistant,
) -> None:
    conversation = sender("semantic")
    assistant.send(conversation, "hello")
    texts = assistant.texts(
        conversation, "every time I sip water it comes back out through my nose"
    )
    joined = " ".join(texts)
    assert texts[0].startswith(EMERGENCY_REPLY) or "right now?" in joined, texts
    if "right now?" in joined:  # the semantic layer's screen: the answer decides
        texts = assistant.texts(conversation, "yes")
        assert texts[0].startswith(EMERGENCY_REPLY)
    assert wait_for(lambda: escalations(assistant, conversation))


def test_an_urgent_report_reaches_the_clinic_before_any_question_and_is_updated_after(
    assistant: RunningAssistant,
) -> None:
    conversation = sender("urgent")
    assistant.send(conversation, "hi")
    texts = assistant.texts(conversation, "I've had a fever of 38.5 since my botox yesterday")
    joined = " ".join(texts)
    assert "alerted" in joined and "ES-" in joined and "full name" in texts[-1]
    assert joined.index("alerted") < joined.index("full name")
    assert wait_for(lambda: escalations(assistant, conversation))
    (alert,) = escalations(assistant, conversation)
    assert alert["severity"] == "urgent" and alert["reference"] in joined
    assert alert["patient"] == {"name": None, "phone": None}
    assistant.send(conversation, "Ana Diaz")
    assistant.send(conversation, "201 555 0123")
    final = " ".join(assistant.texts(conversation, "last tuesday"))
    assert alert["reference"] in final
    assert wait_for(lambda: len(notifications(assistant, conversation)) >= 2)
    time.sleep(1)
    bodies = notifications(assistant, conversation)
    assert [b["type"] for b in bodies] == ["escalation", "escalation_update"]
    update = bodies[-1]
    assert update["reference"] == alert["reference"]
    assert update["patient"] == {"name": "Ana Diaz", "phone": "+12015550123"}
    assert update["treatment_date"] == "last tuesday"


def test_a_patient_who_stops_answering_after_an_urgent_report_still_reached_the_clinic(
    assistant: RunningAssistant,
) -> None:
    conversation = sender("urgent-silent")
    assistant.texts(conversation, "my forehead is red, hot and swollen and it's spreading")
    assistant.texts(conversation, "stop")
    assert wait_for(lambda: escalations(assistant, conversation))
    assert escalations(assistant, conversation)[0]["severity"] == "urgent"


def test_a_spanish_emergency_gets_the_spanish_reply_and_an_emergency_escalation(
    assistant: RunningAssistant,
) -> None:
    conversation = sender("es")
    texts = assistant.texts(conversation, "no puedo tragar y se me esta hinchando la lengua")
    spanish = [t for t in texts if "911" in t]
    assert spanish and spanish[0].startswith("Llame ahora mismo al 911")
    assert any("He avisado" in t and "ES-" in t for t in texts)
    assert wait_for(lambda: escalations(assistant, conversation))
    time.sleep(1)
    (alert,) = escalations(assistant, conversation)
    assert alert["severity"] == "emergency" and "tragar" in alert["symptoms"]


def test_a_slash_command_cannot_raise_an_emergency(assistant: RunningAssistant) -> None:
    conversation = sender("slash")
    assistant.texts(conversation, "/report_symptom")
    time.sleep(1.5)
    assert notifications(assistant, conversation) == []
