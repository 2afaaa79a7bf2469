"""SMS through the real servers: the Twilio connector enabled by environment variables.

The Twilio API is a local stub (`assistant.twilio_api`); webhooks are signed
the way Twilio signs them.
"""

from __future__ import annotations

import time
import urllib.parse
import uuid

from tests.receivers import twilio_signature
from tests.support import TWILIO_TEST_TOKEN, RunningAssistant, http
from tests.test_e2e_booking import wait_for


def sms(assistant: RunningAssistant, sender: str, body: str, signature: str | None = None):
    url = f"{assistant.rasa_url}/webhooks/twilio/webhook"
    fields = [
        ("AccountSid", "ACtest"),
        ("MessageSid", f"SM{uuid.uuid4().hex}"),
        ("From", sender),
        ("To", "+15550001111"),
        ("Body", body),
        ("NumMedia", "0"),
    ]
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature or twilio_signature(TWILIO_TEST_TOKEN, url, fields),
    }
    return http("POST", url, raw=urllib.parse.urlencode(fields).encode(), headers=headers)


def replies_to(assistant: RunningAssistant, number: str) -> list[dict[str, str]]:
    sent = [dict(urllib.parse.parse_qsl(r.body.decode())) for r in assistant.twilio_api.requests]
    return [m for m in sent if m.get("To") == number]


def test_a_signed_sms_is_answered_through_the_twilio_api(assistant: RunningAssistant) -> None:
    number = f"+1201555{uuid.uuid4().int % 10000:04d}"
    status, _ = sms(assistant, number, "how long does botox last?")
    assert status == 200
    assert wait_for(lambda: any("6 months" in m["Body"] for m in replies_to(assistant, number)))
    bodies = [m["Body"] for m in replies_to(assistant, number)]
    assert "automated assistant" in bodies[0]
    assert any("Reply 1 for" in body for body in bodies)  # buttons as numbered options
    assert all(m["From"] == "+15550001111" for m in replies_to(assistant, number))


def test_an_sms_patient_booking_is_not_asked_for_their_number(assistant: RunningAssistant) -> None:
    number = f"+1201555{uuid.uuid4().int % 10000:04d}"
    sms(assistant, number, "I'd like to book an appointment")
    assert wait_for(lambda: any("full name" in m["Body"] for m in replies_to(assistant, number)))
    sms(assistant, number, "Ana Diaz")
    assert wait_for(lambda: any("e-mail" in m["Body"] for m in replies_to(assistant, number)))
    assert not any("phone number" in m["Body"] for m in replies_to(assistant, number))


def test_a_forged_sms_is_refused_and_not_processed(assistant: RunningAssistant) -> None:
    number = f"+1201555{uuid.uuid4().int % 10000:04d}"
    status, _ = sms(assistant, number, "hello", signature="Zm9yZ2Vk")
    assert status == 403
    time.sleep(1)
    assert replies_to(assistant, number) == []
