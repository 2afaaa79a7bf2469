"""Bookings are stored with their notifications, which are delivered until acknowledged.

Runs against SQLite and the real PostgreSQL server, a real local HTTP
receiver and a real local SMTP server.
"""

from __future__ import annotations

import email
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from actions.booking import booking_notification
from clinic_core import notifications, settings, storage
from tests.receivers import SmtpReceiver, WebhookReceiver
from tests.support import free_port

SECRET = "test-webhook-secret"


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(free_port()).start()
    monkeypatch.setenv("CLINIC_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("CLINIC_WEBHOOK_SECRET", SECRET)
    yield receiver
    receiver.stop()


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver(free_port()).start()
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(receiver.port))
    monkeypatch.setenv("CLINIC_EMAIL_TO", "desk@clinic.test")
    monkeypatch.setenv("SMTP_FROM", "assistant@clinic.test")
    yield receiver
    receiver.stop()


def a_booking(dedupe: str = "key-1") -> storage.Booking:
    return storage.Booking(
        dedupe_key=dedupe,
        conversation_id="conv-1",
        channel="rest",
        patient_name="Ana Diaz",
        phone="+447911123456",
        email=None,
        new_patient=True,
        preferred_start="2026-12-01T12:00:00-05:00",
        preferred_end="2026-12-01T17:00:00-05:00",
        preferred_time_text="next tuesday afternoon",
        treatment_area="forehead lines",
        consent_to_contact=True,
    )


def notify(row: storage.Booking) -> storage.Notification:
    created = row.created_at.replace(tzinfo=timezone.utc)
    return booking_notification(row, created)


def outbox_rows(url: str) -> list[storage.OutboxMessage]:
    with storage.transaction(url) as session:
        return session.query(storage.OutboxMessage).order_by(storage.OutboxMessage.id).all()


def make_due(url: str) -> None:
    """Skip the backoff wait, as time passing would."""
    with storage.transaction(url) as session:
        session.query(storage.OutboxMessage).update({"next_attempt_at": storage.utcnow()})


def test_booking_and_its_notifications_are_stored_together(database_url: str) -> None:
    reference, created = storage.save_booking(
        a_booking(), notify, ["webhook", "email"], database_url
    )
    assert created and reference.startswith("BK-") and len(reference) == 9
    rows = outbox_rows(database_url)
    assert [(r.transport, r.status, r.reference) for r in rows] == [
        ("webhook", "pending", reference),
        ("email", "pending", reference),
    ]
    assert json.loads(rows[0].payload)["patient"]["phone"] == "+447911123456"


def test_a_replayed_submission_creates_one_booking(database_url: str) -> None:
    first, _ = storage.save_booking(a_booking(), notify, ["webhook"], database_url)
    again, created = storage.save_booking(a_booking(), notify, ["webhook"], database_url)
    assert (again, created) == (first, False)
    with storage.transaction(database_url) as session:
        assert session.query(storage.Booking).count() == 1
    assert len(outbox_rows(database_url)) == 1


def test_a_failing_notification_rolls_back_the_booking(database_url: str) -> None:
    def broken(_: storage.Booking) -> storage.Notification:
        raise RuntimeError("cannot build")

    with pytest.raises(RuntimeError):
        storage.save_booking(a_booking(), broken, ["webhook"], database_url)
    with storage.transaction(database_url) as session:
        assert session.query(storage.Booking).count() == 0


def test_webhook_gets_exact_json_idempotency_key_and_signature(
    database_url: str, webhook: WebhookReceiver
) -> None:
    reference, _ = storage.save_booking(a_booking(), notify, ["webhook"], database_url)
    assert notifications.deliver_due(url=database_url) == 1
    (request,) = webhook.requests
    assert request.headers["Idempotency-Key"] == reference
    expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Signature"] == expected
    body = json.loads(request.body)
    created_at = body.pop("created_at")
    assert datetime.fromisoformat(created_at).utcoffset() is not None
    assert body == {
        "type": "booking",
        "reference": reference,
        "conversation_id": "conv-1",
        "channel": "rest",
        "patient": {
            "name": "Ana Diaz",
            "phone": "+447911123456",
            "email": None,
            "new_patient": True,
        },
        "booking": {
            "preferred_start": "2026-12-01T12:00:00-05:00",
            "preferred_end": "2026-12-01T17:00:00-05:00",
            "preferred_time_text": "next tuesday afternoon",
            "treatment_area": "forehead lines",
        },
        "consent_to_contact": True,
    }
    assert [r.status for r in outbox_rows(database_url)] == ["delivered"]


def test_email_is_plain_and_readable(database_url: str, smtp: SmtpReceiver) -> None:
    reference, _ = storage.save_booking(a_booking(), notify, ["email"], database_url)
    notifications.deliver_due(url=database_url)
    (message,) = smtp.messages
    assert message["to"] == ["desk@clinic.test"]
    parsed = email.message_from_string(message["data"])
    assert parsed["Subject"] == f"New booking request {reference}"
    text = parsed.get_payload(decode=True).decode()
    for line in (
        "Name: Ana Diaz",
        "Phone: +447911123456",
        "Email: -",
        "New patient: yes",
        "Preferred time text: next tuesday afternoon",
        "Consent to contact: yes",
    ):
        assert line in text


def test_an_unreachable_endpoint_is_retried_until_it_recovers(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    monkeypatch.setenv("CLINIC_WEBHOOK_URL", f"http://127.0.0.1:{port}/clinic-hook")
    reference, _ = storage.save_booking(a_booking(), notify, ["webhook"], database_url)
    for attempt in (1, 2, 3):
        make_due(database_url)
        notifications.deliver_due(url=database_url)
        (row,) = outbox_rows(database_url)
        assert (row.status, row.attempts) == ("pending", attempt)
        assert row.next_attempt_at > storage.utcnow()
    receiver = WebhookReceiver(port).start()
    try:
        make_due(database_url)
        notifications.deliver_due(url=database_url)
        notifications.deliver_due(url=database_url)
    finally:
        receiver.stop()
    assert [r.headers["Idempotency-Key"] for r in receiver.requests] == [reference]
    assert outbox_rows(database_url)[0].status == "delivered"


@pytest.mark.parametrize(
    "status, outcome",
    [
        (503, "pending"),
        (500, "pending"),
        (429, "pending"),
        (408, "pending"),
        (400, "failed"),
        (404, "failed"),
        (410, "failed"),
    ],
)
def test_temporary_and_permanent_http_failures(
    database_url: str, webhook: WebhookReceiver, status: int, outcome: str
) -> None:
    webhook.statuses.append(status)
    storage.save_booking(a_booking(), notify, ["webhook"], database_url)
    notifications.deliver_due(url=database_url)
    (row,) = outbox_rows(database_url)
    assert (row.status, row.last_error) == (outcome, f"HTTP {status}")


def test_a_permanently_failed_notification_is_kept_and_never_retried(
    database_url: str, webhook: WebhookReceiver
) -> None:
    webhook.statuses.append(400)
    storage.save_booking(a_booking(), notify, ["webhook"], database_url)
    notifications.deliver_due(url=database_url)
    make_due(database_url)
    assert notifications.deliver_due(url=database_url) == 0
    assert outbox_rows(database_url)[0].status == "failed"


def test_higher_priority_is_delivered_first(database_url: str, webhook: WebhookReceiver) -> None:
    with storage.transaction(database_url) as session:
        for key, priority in (("routine", 0), ("emergency", 100), ("urgent", 50)):
            storage.enqueue(
                session,
                storage.Notification(key, key, "escalation", {"k": key}, priority),
                ["webhook"],
            )
    notifications.deliver_due(url=database_url)
    assert [r.headers["Idempotency-Key"] for r in webhook.requests] == [
        "emergency",
        "urgent",
        "routine",
    ]


def test_backoff_grows_and_is_capped() -> None:
    delays = [notifications.backoff(n).total_seconds() for n in (1, 2, 3, 4, 30)]
    assert delays[0] < delays[1] < delays[2] < delays[3]
    assert delays[-1] <= settings.load().outbox_backoff_max


def test_show_lists_the_outbox(database_url: str, capsys: pytest.CaptureFixture) -> None:
    storage.save_booking(a_booking(), notify, ["webhook"], database_url)
    notifications.show(database_url)
    out = capsys.readouterr().out
    assert out.startswith("outbox: pending 1, delivered 0, failed 0")
    assert "booking" in out and "webhook" in out


def test_the_schema_comes_from_the_migrations(database_url: str) -> None:
    tables = set(sa.inspect(storage.engine(database_url)).get_table_names())
    assert {"bookings", "outbox", "alembic_version"} <= tables


def test_an_update_never_overtakes_the_escalation_it_updates(
    database_url: str, webhook: WebhookReceiver
) -> None:
    """An urgent escalation still waiting, then an emergency update: sent in that order."""

    def escalation(row: storage.Escalation, created: bool) -> storage.Notification:
        kind = "escalation" if created else "escalation_update"
        body = {"type": kind, "reference": row.reference, "severity": row.severity}
        key = row.reference if created else f"{row.reference}-U{row.update_count}"
        return storage.Notification(
            key, row.reference, kind, body, storage.SEVERITY_PRIORITY[row.severity]
        )

    other, _ = storage.save_booking(a_booking(), notify, ["webhook"], database_url)
    urgent = storage.EscalationChange(severity="urgent", reason="urgent: fever", symptoms="fever")
    reference, _ = storage.save_escalation(
        "conv-9", "rest", urgent, escalation, ["webhook"], database_url
    )
    emergency = storage.EscalationChange(severity="emergency", reason="emergency: breathing")
    storage.save_escalation("conv-9", "rest", emergency, escalation, ["webhook"], database_url)
    assert notifications.deliver_due(url=database_url) == 3
    sent = [json.loads(r.body) for r in webhook.requests]
    assert [(b["type"], b.get("reference")) for b in sent] == [
        ("escalation", reference),
        ("escalation_update", reference),
        ("booking", other),
    ]
