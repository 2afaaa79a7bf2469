"""A whole booking through the real servers reaches the clinic exactly once.

The clinic's webhook and mailbox are the local receivers of the `assistant`
fixture; the outbox worker started by scripts/run.py delivers to them.
"""

from __future__ import annotations

import email
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Callable
from datetime import datetime

from tests.support import WEBHOOK_SECRET, RunningAssistant

CONVERSATION = [
    ("I'd like to book an appointment", "full name"),
    ("Ana Diaz", "phone number"),
    ("201 555 0123", "e-mail"),
    ("ana.diaz@example.com", "When would you like to come in"),
    ("next tuesday afternoon", "Which area"),
    ("forehead", "first visit"),
    ("yes", "contact you"),
    ("yes", "Shall I send it"),
]


def wait_for(condition: Callable[[], bool], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def book(assistant: RunningAssistant, sender: str) -> str:
    """Run the booking conversation; return the reference the patient was given."""
    assistant.send(sender, "hello")
    for message, expected_question in CONVERSATION:
        replies = " ".join(assistant.texts(sender, message))
        assert expected_question in replies, f"after {message!r}: {replies!r}"
    final = " ".join(assistant.texts(sender, "yes, send it"))
    match = re.search(r"\bBK-[A-Z2-9]{6}\b", final)
    assert match, final
    assert "not a confirmed appointment" in final and "+1 555-0142" in final
    return match.group(0)


def deliveries_for(assistant: RunningAssistant, reference: str) -> list:
    return [r for r in assistant.webhook.requests if r.headers.get("Idempotency-Key") == reference]


def emails_for(assistant: RunningAssistant, reference: str) -> list:
    return [m for m in assistant.smtp.messages if reference in str(m["data"])]


def test_a_booking_reaches_the_clinic_webhook_and_mailbox_once(
    assistant: RunningAssistant,
) -> None:
    sender = f"book-{uuid.uuid4().hex[:10]}"
    reference = book(assistant, sender)
    assert wait_for(
        lambda: deliveries_for(assistant, reference) and emails_for(assistant, reference)
    )
    time.sleep(1.5)  # anything duplicated would have arrived by now
    (request,) = deliveries_for(assistant, reference)
    signed = hmac.new(WEBHOOK_SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Signature"] == f"sha256={signed}"
    body = json.loads(request.body)
    start = datetime.fromisoformat(body["booking"].pop("preferred_start"))
    end = datetime.fromisoformat(body["booking"].pop("preferred_end"))
    created_at = datetime.fromisoformat(body.pop("created_at"))
    assert (start.strftime("%A"), start.hour, end.hour) == ("Tuesday", 12, 17)
    assert start.utcoffset() is not None and created_at.utcoffset() is not None
    assert body == {
        "type": "booking",
        "reference": reference,
        "conversation_id": sender,
        "channel": "rest",
        "patient": {
            "name": "Ana Diaz",
            "phone": "+12015550123",
            "email": "ana.diaz@example.com",
            "new_patient": True,
        },
        "booking": {
            "preferred_time_text": "next tuesday afternoon",
            "treatment_area": "forehead lines",
        },
        "consent_to_contact": True,
    }
    (mail,) = emails_for(assistant, reference)
    parsed = email.message_from_string(str(mail["data"]))
    assert parsed["Subject"] == f"New booking request {reference}"
    assert "Phone: +12015550123" in parsed.get_payload(decode=True).decode()


def test_a_booking_made_while_the_clinic_is_down_is_delivered_when_it_recovers(
    assistant: RunningAssistant,
) -> None:
    assistant.webhook.stop()
    try:
        reference = book(assistant, f"book-{uuid.uuid4().hex[:10]}")
        time.sleep(2)
        assert deliveries_for(assistant, reference) == []
    finally:
        assistant.webhook.start()
    assert wait_for(lambda: deliveries_for(assistant, reference), seconds=30)
    time.sleep(2)
    assert len(deliveries_for(assistant, reference)) == 1
