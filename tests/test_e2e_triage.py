"""Symptom reports and call-backs through the real servers reach the clinic exactly once."""

from __future__ import annotations

import email
import json
import time
import uuid

from tests.support import RunningAssistant
from tests.test_e2e_booking import wait_for


def sender() -> str:
    return f"triage-{uuid.uuid4().hex[:10]}"


def escalations_for(assistant: RunningAssistant, conversation: str) -> list[dict]:
    bodies = [json.loads(r.body) for r in assistant.webhook.requests]
    return [b for b in bodies if b.get("conversation_id") == conversation]


def after_greeting(assistant: RunningAssistant, message: str) -> tuple[str, list[str]]:
    """A new conversation's first message after the greeting: (conversation, replies)."""
    conversation = sender()
    assistant.send(conversation, "hello")
    return conversation, assistant.texts(conversation, message)


def emergency_alert(assistant: RunningAssistant, conversation: str, texts: list[str]) -> dict:
    """The emergency advice came first and the clinic got exactly one emergency alert: it."""
    assert "911" in texts[0] and "emergency department" in texts[0]
    assert wait_for(lambda: escalations_for(assistant, conversation))
    time.sleep(1)
    (alert,) = escalations_for(assistant, conversation)
    assert alert["severity"] == "emergency"
    return alert


def mails_about(assistant: RunningAssistant, reference: str) -> list:
    return [m for m in assistant.smtp.messages if reference in str(m["data"])]


def test_emergency_is_told_to_call_911_first_and_the_clinic_is_alerted_before_any_question(
    assistant: RunningAssistant,
) -> None:
    conversation, texts = after_greeting(
        assistant, "i had botox two days ago and now i can't swallow and my voice is hoarse"
    )
    alert = emergency_alert(assistant, conversation, texts)
    assert "alerted" in texts[1]
    assert alert["type"] == "escalation"
    assert alert["patient"] == {"name": None, "phone": None}
    assert "can't swallow" in alert["symptoms"] and alert["reason"].startswith("emergency")
    assert alert["reference"] in texts[1]
    assert wait_for(lambda: mails_about(assistant, alert["reference"]))
    subject = email.message_from_string(str(mails_about(assistant, alert["reference"])[0]["data"]))
    assert subject["Subject"] == f"Emergency escalation {alert['reference']}"
    # Contact details come after, and update the same escalation.
    assert "name" in texts[-1].lower()
    assistant.send(conversation, "Ana Diaz")
    assistant.send(conversation, "201 555 0123")
    assert wait_for(lambda: len(escalations_for(assistant, conversation)) == 2)
    update = escalations_for(assistant, conversation)[1]
    assert update["type"] == "escalation_update" and update["reference"] == alert["reference"]
    assert update["patient"] == {"name": "Ana Diaz", "phone": "+12015550123"}


def test_an_emergency_in_the_middle_of_a_booking_preempts_it(
    assistant: RunningAssistant,
) -> None:
    conversation = sender()
    assistant.send(conversation, "I'd like to book an appointment")
    assistant.send(conversation, "Ana Diaz")
    texts = assistant.texts(conversation, "oh no my lips and tongue are swelling up fast")
    assert "911" in texts[0]
    assert wait_for(lambda: escalations_for(assistant, conversation))
    assert escalations_for(assistant, conversation)[0]["severity"] == "emergency"


def test_a_carer_writing_about_someone_elses_emergency_now_is_told_to_call_first(
    assistant: RunningAssistant,
) -> None:
    conversation, texts = after_greeting(
        assistant, "my husband had botox this morning and now he is struggling to breathe"
    )
    emergency_alert(assistant, conversation, texts)
    # Someone else's past reaction stays a question: no alert, the safety line.
    other, texts = after_greeting(
        assistant, "my friend had trouble swallowing after her botox last year"
    )
    assert not any("alerted" in t for t in texts)
    time.sleep(1)
    assert not escalations_for(assistant, other)


def test_urgent_symptom_is_escalated_once_with_contact_details(
    assistant: RunningAssistant,
) -> None:
    conversation = sender()
    assistant.send(conversation, "hi")
    texts = assistant.texts(
        conversation, "the spot where i was injected is hot and red and there's pus coming out"
    )
    assert "clinic should look at" in " ".join(texts)
    assistant.send(conversation, "Ana Diaz")
    assistant.send(conversation, "201 555 0123")
    final = " ".join(assistant.texts(conversation, "last tuesday"))
    assert "ES-" in final
    assert wait_for(lambda: len(escalations_for(assistant, conversation)) == 2)
    time.sleep(1.5)
    # Sent at once when reported, then updated with the details given after.
    escalation, update = escalations_for(assistant, conversation)
    assert escalation["type"] == "escalation" and update["type"] == "escalation_update"
    assert escalation["severity"] == "urgent" and escalation["reference"] in final
    assert escalation["patient"] == {"name": None, "phone": None}
    assert update["reference"] == escalation["reference"]
    assert update["patient"] == {"name": "Ana Diaz", "phone": "+12015550123"}
    assert update["treatment_date"] == "last tuesday"
    assert "pus" in escalation["symptoms"]
    assert wait_for(lambda: mails_about(assistant, escalation["reference"]))


def test_a_call_back_request_is_a_routine_escalation_with_the_conversation(
    assistant: RunningAssistant,
) -> None:
    conversation = sender()
    assistant.send(conversation, "hello")
    assistant.send(conversation, "can i talk to a real person please")
    assistant.send(conversation, "Ana Diaz")
    assistant.send(conversation, "201 555 0123")
    final = " ".join(assistant.texts(conversation, "tomorrow morning"))
    assert "ES-" in final
    assert wait_for(lambda: escalations_for(assistant, conversation))
    time.sleep(1.5)
    (escalation,) = escalations_for(assistant, conversation)
    assert escalation["severity"] == "routine"
    assert escalation["preferred_callback_time"] == "tomorrow morning"
    assert "Patient: can i talk to a real person please" in escalation["conversation"]


def test_a_question_about_a_red_flag_is_answered_with_the_safety_line_and_not_escalated(
    assistant: RunningAssistant,
) -> None:
    conversation = sender()
    assistant.send(conversation, "hi")
    texts = assistant.texts(conversation, "can botox cause trouble swallowing?")
    assert "911" in texts[-1]
    time.sleep(1.5)
    assert escalations_for(assistant, conversation) == []
