"""Retention and erasure: deleting conversations, bookings and escalations.

Why here and not in Rasa: the tracker store never forgets on its own, and a
patient's data is spread over two databases (the conversation in the
tracker store, bookings/escalations and their queued notifications in the
project DB).  Deleting in one place only would leave the rest behind.

Order matters for erasure: everything to delete is looked up first, then the
conversations are deleted, then the project rows.  If the second step fails
the request can simply be run again: the phone number and conversation ids
still find the project rows.

Only counts are returned and printed, never ids, numbers or texts.

CLI (tracker store from `TRACKER_STORE_URL`, default the SQLite file of
endpoints.yml in DATA_DIR; project DB from `clinic_core.settings.database_url()`):

    python -m staff.retention older-than DAYS
    python -m staff.retention erase --conversation ID
    python -m staff.retention erase --phone NUMBER [--region GB]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa

from clinic_core import settings, storage
from staff.conversations import (
    EVENTS,
    TrackerDB,
    chunks,
    has_events_table,
    normalise_phone,
    phone_senders,
    project_records,
    tracker_engine,
)


@dataclass
class DeletionReport:
    """How many rows of each kind were deleted."""

    conversations: int = 0
    events: int = 0
    bookings: int = 0
    escalations: int = 0
    outbox: int = 0

    def lines(self) -> list[str]:
        return [f"{name}: {count}" for name, count in asdict(self).items()]


def default_tracker_url() -> str:
    """The tracker store of endpoints.yml: `TRACKER_STORE_URL`, else SQLite in DATA_DIR."""
    return str(settings.load().tracker_store_url)


def _utc(moment: datetime | None) -> datetime:
    moment = moment or datetime.now(timezone.utc)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _delete_events(conn: Any, sender_ids: Iterable[str]) -> tuple[int, int]:
    """Delete the events of these conversations; (conversations, events) deleted."""
    conversations = events = 0
    e = EVENTS.c
    for batch in chunks(sorted(set(sender_ids))):
        present = conn.execute(
            sa.select(sa.func.count(sa.distinct(e.sender_id))).where(e.sender_id.in_(batch))
        ).scalar_one()
        conversations += present
        if present:
            events += conn.execute(sa.delete(EVENTS).where(e.sender_id.in_(batch))).rowcount
    return conversations, events


def _delete_project_rows(
    session: Any, bookings: Sequence[int], escalations: Sequence[int]
) -> tuple[int, int, int]:
    """Delete bookings and escalations by id, and their outbox rows by reference."""
    counts = []
    references: set[str] = set()
    for model, ids in ((storage.Booking, bookings), (storage.Escalation, escalations)):
        deleted = 0
        for batch in chunks(sorted(set(ids))):
            references.update(
                r for (r,) in session.execute(sa.select(model.reference).where(model.id.in_(batch)))
            )
            table = model.__table__
            deleted += session.execute(sa.delete(table).where(table.c.id.in_(batch))).rowcount
        counts.append(deleted)
    outbox = 0
    for batch in chunks(sorted(references)):
        table = storage.OutboxMessage.__table__
        outbox += session.execute(sa.delete(table).where(table.c.reference.in_(batch))).rowcount
    return counts[0], counts[1], outbox


def delete_older_than(
    tracker_url: TrackerDB,
    project_url: str | None,
    days: float,
    now: datetime | None = None,
) -> DeletionReport:
    """Apply the retention period: delete what is older than `days`.

    Conversations go when their *last* event is older than the cutoff (a
    conversation still going on is kept whole, however old its start);
    bookings and escalations go when they were created before the cutoff,
    together with their outbox rows.
    """
    if days < 0:
        raise ValueError("days must not be negative")
    cutoff = _utc(now) - timedelta(days=days)
    report = DeletionReport()

    engine = tracker_engine(tracker_url)
    if has_events_table(engine):
        e = EVENTS.c
        stale = (
            sa.select(e.sender_id)
            .group_by(e.sender_id)
            .having(sa.func.max(e.timestamp) < cutoff.timestamp())
        )
        with engine.begin() as conn:
            report.conversations = conn.execute(
                sa.select(sa.func.count()).select_from(stale.subquery())
            ).scalar_one()
            # One statement, so a conversation that becomes active meanwhile
            # is judged on its newest event.
            report.events = conn.execute(
                sa.delete(EVENTS).where(e.sender_id.in_(stale.scalar_subquery()))
            ).rowcount

    if project_url:
        naive_cutoff = cutoff.astimezone(timezone.utc).replace(tzinfo=None)  # stored as UTC
        with storage.transaction(project_url) as session:
            bookings = session.scalars(
                sa.select(storage.Booking.id).where(storage.Booking.created_at < naive_cutoff)
            ).all()
            escalations = session.scalars(
                sa.select(storage.Escalation.id).where(storage.Escalation.created_at < naive_cutoff)
            ).all()
            report.bookings, report.escalations, report.outbox = _delete_project_rows(
                session, bookings, escalations
            )
    return report


def erase_patient(
    tracker_url: TrackerDB,
    project_url: str | None,
    *,
    conversation_id: str | None = None,
    phone: str | None = None,
    region: str | None = None,
) -> DeletionReport:
    """Erase one patient's data on request.

    By conversation id: that conversation's events, bookings and escalations.
    By phone: every conversation linked to the number (through its bookings
    or escalations, or written from it over SMS/WhatsApp), with all their
    bookings and escalations, plus any other booking or escalation carrying
    the number.  Outbox rows of every deleted booking/escalation go too.
    `region` reads national numbers (e.g. the clinic's country).
    """
    if not conversation_id and not phone:
        raise ValueError("Give a conversation id or a phone number.")
    number = normalise_phone(phone, region) if phone else None
    conversations: set[str] = set()
    if conversation_id:
        conversations.add(conversation_id)
    if number:
        conversations.update(phone_senders(number))

    bookings: list[int] = []
    escalations: list[int] = []
    if project_url:
        with storage.transaction(project_url) as session:
            by_phone = project_records(session, phone=number, region=region) if number else []
            conversations.update(record.conversation_id for record in by_phone)
            records = project_records(session, conversation_ids=conversations)
            for record in {(r.kind, r.id): r for r in [*by_phone, *records]}.values():
                (bookings if record.kind == "booking" else escalations).append(record.id)

    report = DeletionReport()
    engine = tracker_engine(tracker_url)
    if has_events_table(engine):
        with engine.begin() as conn:
            report.conversations, report.events = _delete_events(conn, conversations)
    if project_url and (bookings or escalations):
        with storage.transaction(project_url) as session:
            report.bookings, report.escalations, report.outbox = _delete_project_rows(
                session, bookings, escalations
            )
    return report


def _clinic_region() -> str | None:
    """The clinic's country, to read national phone numbers (None if unavailable)."""
    try:
        from clinic_core.clinic import load_clinic

        return load_clinic().country
    except Exception:  # noqa: BLE001 - a broken clinic file must not block an erasure
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m staff.retention",
        description="Delete old conversation data, or erase one patient's data. "
        "Prints counts only.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    older = commands.add_parser("older-than", help="delete data older than DAYS days")
    older.add_argument("days", type=float, metavar="DAYS")
    erase = commands.add_parser("erase", help="erase one patient's data")
    who = erase.add_mutually_exclusive_group(required=True)
    who.add_argument("--conversation", metavar="ID", help="conversation (sender) id")
    who.add_argument("--phone", metavar="NUMBER", help="the patient's phone number")
    erase.add_argument(
        "--region", help="country for national numbers (default: the clinic's country)"
    )
    args = parser.parse_args(argv)

    tracker_url, project_url = default_tracker_url(), settings.database_url()
    try:
        if args.command == "older-than":
            if args.days < 0:
                parser.error("DAYS must not be negative")
            report = delete_older_than(tracker_url, project_url, args.days)
        else:
            report = erase_patient(
                tracker_url,
                project_url,
                conversation_id=args.conversation,
                phone=args.phone,
                region=args.region or _clinic_region(),
            )
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for line in report.lines():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
