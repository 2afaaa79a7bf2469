"""Staff annotations of patient messages ("this should have been intent X"), in the database.

They lived in a JSON file guarded by an in-process lock, so two console
workers could each read the file, add one annotation and write it back, and
one of the two was lost.  In the project database a unique key on
(conversation, message) makes "add or replace" one statement that every
worker can run at once.  Migration 0004 moved the old file's annotations here.

An annotation keeps the message's position and timestamp, never its text:
the NLU export re-reads the text from the tracker store, so an annotation of
an erased conversation drops out of the export, and `prune` deletes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from clinic_core import storage
from clinic_core.tables import StaffAnnotation
from staff import conversations as conv


@dataclass(frozen=True)
class Annotation:
    sender_id: str
    index: int
    timestamp: str | None  # the message's, ISO 8601: the export checks it still matches
    label: str
    by: str
    at: datetime  # naive UTC


def _annotation(row: StaffAnnotation) -> Annotation:
    return Annotation(
        row.sender_id,
        row.message_index,
        row.message_timestamp,
        row.label,
        row.annotated_by,
        row.annotated_at,
    )


def save(
    sender_id: str,
    index: int,
    timestamp: str | None,
    label: str,
    by: str,
    url: str | None = None,
) -> None:
    """Add the annotation of one message, or replace that message's earlier one."""
    values = {
        "message_timestamp": timestamp,
        "label": label,
        "annotated_by": by,
        "annotated_at": storage.utcnow(),
    }
    for _ in range(2):  # a concurrent first insert of the same message: update it instead
        try:
            with storage.transaction(url) as session:
                row = session.execute(
                    select(StaffAnnotation)
                    .where(
                        StaffAnnotation.sender_id == sender_id,
                        StaffAnnotation.message_index == index,
                    )
                    .with_for_update()
                ).scalar_one_or_none()
                if row is None:
                    session.add(StaffAnnotation(sender_id=sender_id, message_index=index, **values))
                else:
                    for name, value in values.items():
                        setattr(row, name, value)
            return
        except IntegrityError:
            continue
    raise RuntimeError("could not store the annotation")


def all_annotations(url: str | None = None) -> list[Annotation]:
    with storage.transaction(url) as session:
        rows = session.execute(
            select(StaffAnnotation).order_by(
                StaffAnnotation.sender_id, StaffAnnotation.message_index
            )
        ).scalars()
        return [_annotation(row) for row in rows]


def for_conversation(sender_id: str, url: str | None = None) -> dict[int, str]:
    """Message index -> label, for one conversation's transcript."""
    with storage.transaction(url) as session:
        rows = session.execute(
            select(StaffAnnotation.message_index, StaffAnnotation.label).where(
                StaffAnnotation.sender_id == sender_id
            )
        )
        return {index: label for index, label in rows}


def count(url: str | None = None) -> int:
    with storage.transaction(url) as session:
        return session.execute(select(func.count()).select_from(StaffAnnotation)).scalar_one()


def conversations(url: str | None = None) -> list[str]:
    with storage.transaction(url) as session:
        return list(session.execute(select(StaffAnnotation.sender_id).distinct()).scalars())


def prune(existing: Callable[[Iterable[str]], set[str]], url: str | None = None) -> int:
    """Delete annotations of conversations `existing` no longer finds; how many went."""
    annotated = conversations(url)
    if not annotated:
        return 0
    gone = sorted(set(annotated) - existing(annotated))
    if not gone:
        return 0
    with storage.transaction(url) as session:
        result = session.execute(delete(StaffAnnotation).where(StaffAnnotation.sender_id.in_(gone)))
        return result.rowcount or 0


def prune_missing(tracker_url: conv.TrackerDB, project_url: str) -> int:
    """Delete annotations of conversations no longer in the tracker store; how many went.

    Sender ids can be phone numbers (SMS/WhatsApp): after a deletion they
    must not linger.  Called after the console's retention actions and
    before an NLU export (the retention command line does not call it).
    """

    def still_stored(sender_ids: Iterable[str]) -> set[str]:
        try:
            engine = conv.tracker_engine(tracker_url)
        except FileNotFoundError:
            return set()
        if not conv.has_events_table(engine):
            return set()
        found: set[str] = set()
        with engine.connect() as connection:
            for batch in conv.chunks(sorted(sender_ids)):
                query = (
                    sa.select(conv.EVENTS.c.sender_id)
                    .where(conv.EVENTS.c.sender_id.in_(batch))
                    .distinct()
                )
                found.update(connection.scalars(query))
        return found

    return prune(still_stored, project_url)
