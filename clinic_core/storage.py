"""The project's own database: booking requests and the notification outbox.

A booking and the notifications that tell the clinic about it are written in
one transaction (a transactional outbox): either both exist or neither, so a
booking the patient was told about can never miss its notification, and a
crash between "stored" and "sent" only delays delivery.  The schema is owned
by Alembic migrations (migrations/), never created ad hoc.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    create_engine,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from clinic_core import settings

# The tables and time helpers, re-exported: callers see one storage API.
from clinic_core.tables import (  # noqa: F401
    Base,
    Booking,
    Escalation,
    OutboxMessage,
    StaffAnnotation,
    StaffAuditRow,
    StaffUser,
    as_naive_utc,
    utcnow,
)

MIGRATIONS = settings.PROJECT_ROOT / "migrations"
# No 0/O or 1/I: references are read out over the phone.
REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
SEVERITY_RANK = {"routine": 0, "urgent": 1, "emergency": 2}
# Emergencies are delivered before anything else waiting in the outbox.
SEVERITY_PRIORITY = {"routine": 0, "urgent": 50, "emergency": 100}


_engines: dict[str, Engine] = {}


def sqlite_path(url: str | None) -> Path | None:
    """The file of a sqlite:/// URL; None for any other database."""
    if not url or not url.startswith("sqlite:///"):
        return None
    return Path(url.removeprefix("sqlite:///"))


# A PostgreSQL that stops answering (a dead network, not a refused connection)
# must fail a request in seconds, not hang it for the kernel's minutes.
POSTGRES_CONNECT_ARGS = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 15_000,  # ms: unacknowledged data fails the connection
}


def engine_options(url: str, connect_args: dict[str, Any] | None = None) -> dict[str, Any]:
    """What every engine of the project is made with.

    - `hide_parameters`: an error message never carries the statement's values
      (a patient's words, a phone number) into a log;
    - `pool_pre_ping`: after a database restart no request is the one that finds
      a dead pooled connection;
    - PostgreSQL: time limits on connecting and on a silent connection.
    """
    merged = dict(connect_args or {})
    if url.startswith("postgresql"):
        merged = {**POSTGRES_CONNECT_ARGS, **merged}
    options: dict[str, Any] = {"hide_parameters": True, "pool_pre_ping": True}
    if merged:
        options["connect_args"] = merged
    return options


def tracker_store_options(url: str) -> dict[str, Any]:
    """`engine_options` for the tracker store's database, in the PostgreSQL schema
    Rasa's store uses (`POSTGRESQL_SCHEMA`), for the processes that read it too."""
    schema = settings.load().postgresql_schema
    in_schema = schema and url.startswith("postgresql")
    return engine_options(url, {"options": f"-csearch_path={schema}"} if in_schema else None)


def engine(url: str | None = None) -> Engine:
    """One engine per database URL for the life of the process."""
    url = url or settings.database_url()
    if url not in _engines:
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        _engines[url] = create_engine(url, future=True, **engine_options(url))
    return _engines[url]


@contextmanager
def transaction(url: str | None = None) -> Iterator[Session]:
    """A session whose work is committed together, or not at all."""
    factory = sessionmaker(bind=engine(url), future=True, expire_on_commit=False)
    with factory() as session, session.begin():
        yield session


def migrate(url: str | None = None) -> None:
    """Bring the schema to the latest migration (idempotent)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", (url or settings.database_url()).replace("%", "%%"))
    command.upgrade(config, "head")


def new_reference(prefix: str) -> str:
    return f"{prefix}-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))


@dataclass(frozen=True)
class Notification:
    """What the clinic must be told, in the exact JSON its webhook receives."""

    idempotency_key: str
    reference: str
    message_type: str
    body: dict[str, Any]
    priority: int = 0


def enqueue(session: Session, notification: Notification, transports: list[str]) -> None:
    """Add outbox rows in the caller's transaction, one per transport."""
    payload = json.dumps(notification.body, ensure_ascii=False, sort_keys=False)
    # An update must not overtake what it updates (an urgent escalation,
    # then an emergency update): earlier rows of the same reference still
    # waiting are raised to the new priority, and equal priorities go in order.
    session.query(OutboxMessage).filter(
        OutboxMessage.reference == notification.reference,
        OutboxMessage.status == "pending",
        OutboxMessage.priority < notification.priority,
    ).update({OutboxMessage.priority: notification.priority}, synchronize_session=False)
    for transport in transports:
        session.add(
            OutboxMessage(
                idempotency_key=notification.idempotency_key,
                reference=notification.reference,
                message_type=notification.message_type,
                transport=transport,
                payload=payload,
                priority=notification.priority,
            )
        )


def save_booking(
    booking: Booking, build_notification, transports: list[str], url: str | None = None
) -> tuple[str, bool]:
    """Store a booking and its notifications; return (reference, created).

    `build_notification(booking)` makes the notification from the stored row
    (it needs the reference and creation time).  A booking with the same
    dedupe key already stored is returned instead of stored twice.
    """
    existing = find_booking(booking.dedupe_key, url)
    if existing:
        return existing, False
    try:
        with transaction(url) as session:
            booking.reference = booking.reference or new_reference("BK")
            booking.created_at = booking.created_at or utcnow()
            session.add(booking)
            session.flush()
            enqueue(session, build_notification(booking), transports)
            return booking.reference, True
    except IntegrityError:
        # A concurrent duplicate won the race: theirs is the booking.
        existing = find_booking(booking.dedupe_key, url)
        if existing:
            return existing, False
        raise


def find_booking(dedupe_key: str, url: str | None = None) -> str | None:
    with transaction(url) as session:
        row = session.query(Booking.reference).filter_by(dedupe_key=dedupe_key).first()
        return row[0] if row else None


@dataclass(frozen=True)
class EscalationChange:
    """What a message adds to a conversation's escalation (None: unchanged)."""

    severity: str
    reason: str
    symptoms: str | None = None
    patient_name: str | None = None
    phone: str | None = None
    treatment_date: str | None = None
    preferred_time_text: str | None = None
    transcript: str | None = None


def save_escalation(
    conversation_id: str,
    channel: str,
    change: EscalationChange,
    build_notification,
    transports: list[str],
    url: str | None = None,
) -> tuple[str, bool]:
    """Create the conversation's escalation, or update its open one; return (reference, created).

    Either way the matching notification is queued in the same transaction:
    `escalation` for a new one, `escalation_update` (same reference) for a
    change.  The severity only ever goes up.
    """
    with transaction(url) as session:
        row = (
            session.query(Escalation)
            .filter_by(conversation_id=conversation_id, status="open")
            .order_by(Escalation.id.desc())
            .with_for_update()
            .first()
        )
        created = row is None
        if created:
            row = Escalation(
                reference=new_reference("ES"),
                conversation_id=conversation_id,
                channel=channel,
                severity=change.severity,
                reason=change.reason,
                symptoms=change.symptoms or "",
                created_at=utcnow(),
                update_count=0,
                status="open",
            )
            session.add(row)
        else:
            row.update_count += 1
            if SEVERITY_RANK[change.severity] > SEVERITY_RANK[row.severity]:
                row.severity, row.reason = change.severity, change.reason
            if change.symptoms and change.symptoms not in row.symptoms:
                row.symptoms = "\n".join(part for part in (row.symptoms, change.symptoms) if part)
        for name in (
            "patient_name",
            "phone",
            "treatment_date",
            "preferred_time_text",
            "transcript",
        ):
            value = getattr(change, name)
            if value:
                setattr(row, name, value)
        row.updated_at = utcnow()
        session.flush()
        enqueue(session, build_notification(row, created), transports)
        return row.reference, created
