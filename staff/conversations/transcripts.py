"""One conversation as the staff read it: patient messages with what the
assistant understood, its replies, buttons, slot changes and links.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clinic_core import storage
from staff.conversations.names import INTERNAL_SLOTS
from staff.conversations.patients import project_records
from staff.conversations.store import (
    EVENTS,
    TrackerDB,
    from_epoch,
    has_events_table,
    tracker_engine,
)


@dataclass(frozen=True)
class Button:
    title: str
    payload: str | None


@dataclass(frozen=True)
class PatientMessage:
    """What the patient wrote and how the assistant understood it."""

    timestamp: datetime | None
    text: str | None
    intent: str | None
    confidence: float | None  # of the intent
    topic: str | None  # FAQ topic ("faq/duration") when the intent is faq
    topic_confidence: float | None
    channel: str | None
    kind: str = field(default="patient", init=False)


@dataclass(frozen=True)
class BotReply:
    """What the assistant answered, and which response or action produced it."""

    timestamp: datetime | None
    text: str | None
    buttons: tuple[Button, ...]
    produced_by: str | None  # metadata utter_action, else the preceding action
    attachment: str | None = None  # image or attachment URL, if any
    kind: str = field(default="bot", init=False)


@dataclass(frozen=True)
class SlotChange:
    timestamp: datetime | None
    name: str
    value: Any
    internal: bool  # dialogue bookkeeping rather than something the patient gave
    kind: str = field(default="slot", init=False)


TranscriptItem = PatientMessage | BotReply | SlotChange


@dataclass(frozen=True)
class Link:
    """A booking or escalation that came out of the conversation."""

    kind: str  # booking | escalation
    reference: str
    created_at: datetime | None = None
    status: str | None = None
    severity: str | None = None  # escalations only


@dataclass(frozen=True)
class Transcript:
    sender_id: str
    items: tuple[TranscriptItem, ...]
    links: tuple[Link, ...]


def load_event_data(data: str | None) -> dict[str, Any]:
    try:
        value = json.loads(data or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def as_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) else float(value)


def understanding(
    event: dict[str, Any],
) -> tuple[str | None, float | None, str | None, float | None]:
    """(intent, confidence, FAQ topic, topic confidence) of a user event."""
    parse_data = event.get("parse_data") or {}
    intent = parse_data.get("intent") or {}
    name = intent.get("name")
    topic = topic_confidence = None
    selector = (parse_data.get("response_selector") or {}).get(name) if name else None
    if isinstance(selector, dict):
        response = selector.get("response") or {}
        topic = response.get("intent_response_key")
        topic_confidence = as_number(response.get("confidence"))
    return name, as_number(intent.get("confidence")), topic, topic_confidence


def _buttons(data: dict[str, Any]) -> tuple[Button, ...]:
    raw = data.get("buttons") or data.get("quick_replies") or []
    return tuple(
        Button(title=str(b.get("title") or ""), payload=b.get("payload"))
        for b in raw
        if isinstance(b, dict)
    )


def transcript_items(events: Iterable[dict[str, Any]]) -> Iterator[TranscriptItem]:
    """Transcript items from one conversation's events, in order."""
    last_action: str | None = None
    for event in events:
        kind = event.get("event")
        when = from_epoch(as_number(event.get("timestamp")))
        if kind == "user":
            intent, confidence, topic, topic_confidence = understanding(event)
            yield PatientMessage(
                timestamp=when,
                text=event.get("text"),
                intent=intent,
                confidence=confidence,
                topic=topic,
                topic_confidence=topic_confidence,
                channel=event.get("input_channel"),
            )
        elif kind == "bot":
            data = event.get("data") or {}
            metadata = event.get("metadata") or {}
            yield BotReply(
                timestamp=when,
                text=event.get("text"),
                buttons=_buttons(data),
                produced_by=metadata.get("utter_action") or last_action,
                attachment=data.get("image") or data.get("attachment"),
            )
        elif kind == "slot":
            name = str(event.get("name"))
            yield SlotChange(
                timestamp=when,
                name=name,
                value=event.get("value"),
                internal=name in INTERNAL_SLOTS or name.startswith("knowledge_base_"),
            )
        elif kind == "action" and event.get("name") != "action_listen":
            last_action = event.get("name")


def _conversation_events(conn: Connection, sender_id: str) -> list[dict[str, Any]]:
    e = EVENTS.c
    query = sa.select(e.data).where(e.sender_id == sender_id).order_by(e.id)
    return [load_event_data(data) for (data,) in conn.execute(query)]


def transcript(
    url: TrackerDB,
    sender_id: str,
    *,
    project_db_url: str | None = None,
) -> Transcript:
    """Everything said in one conversation, with what came out of it.

    Links are the conversation's bookings and escalations from the project DB
    (when given), plus escalation references the conversation itself recorded
    in the `escalation_reference` slot (still useful once the project row is
    gone, or when the project DB is not at hand).  An unknown conversation
    gives an empty transcript.
    """
    engine = tracker_engine(url)
    events: list[dict[str, Any]] = []
    if has_events_table(engine):
        with engine.connect() as conn:
            events = _conversation_events(conn, sender_id)
    items = tuple(transcript_items(events))

    links: list[Link] = []
    if project_db_url:
        with storage.transaction(project_db_url) as session:
            for record in project_records(session, conversation_ids=[sender_id]):
                links.append(
                    Link(
                        kind=record.kind,
                        reference=record.reference,
                        created_at=record.created_at,
                        status=record.status,
                        severity=record.severity,
                    )
                )
    known = {link.reference for link in links}
    for item in items:
        if isinstance(item, SlotChange) and item.name == "escalation_reference":
            reference = item.value
            if isinstance(reference, str) and reference and reference not in known:
                known.add(reference)
                links.append(Link(kind="escalation", reference=reference))
    return Transcript(sender_id=sender_id, items=items, links=tuple(links))
