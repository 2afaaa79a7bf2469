"""Conversations as CSV (spreadsheet-safe cells) or JSON."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from staff.conversations.store import EVENTS, TrackerDB, chunks, has_events_table, tracker_engine
from staff.conversations.transcripts import (
    BotReply,
    PatientMessage,
    load_event_data,
    transcript_items,
)

EXPORT_COLUMNS = (
    "sender_id",
    "timestamp",
    "who",
    "text",
    "intent",
    "topic",
    "confidence",
    "action",
)
# Cells a spreadsheet would run as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class MessageRow:
    """One message of an export: a patient message or a bot reply."""

    sender_id: str
    timestamp: datetime | None
    who: str  # patient | bot
    text: str | None
    intent: str | None
    topic: str | None
    confidence: float | None
    action: str | None  # the response/action that produced a bot reply

    def as_dict(self) -> dict[str, Any]:
        return {
            "sender_id": self.sender_id,
            "timestamp": self.timestamp.isoformat() if self.timestamp else None,
            "who": self.who,
            "text": self.text,
            "intent": self.intent,
            "topic": self.topic,
            "confidence": self.confidence,
            "action": self.action,
        }


def export_rows(url: TrackerDB, sender_ids: Iterable[str]) -> list[MessageRow]:
    """The messages of these conversations, conversation by conversation, in order."""
    wanted = list(dict.fromkeys(sender_ids))
    engine = tracker_engine(url)
    if not wanted or not has_events_table(engine):
        return []
    by_sender: dict[str, list[dict[str, Any]]] = {sender: [] for sender in wanted}
    e = EVENTS.c
    with engine.connect() as conn:
        for batch in chunks(wanted):
            query = (
                sa.select(e.sender_id, e.data)
                .where(e.sender_id.in_(batch), e.type_name.in_(("user", "bot", "action")))
                .order_by(e.sender_id, e.id)
            )
            for sender_id, data in conn.execute(query):
                by_sender[sender_id].append(load_event_data(data))
    rows = []
    for sender_id in wanted:
        for item in transcript_items(by_sender[sender_id]):
            if isinstance(item, PatientMessage):
                rows.append(
                    MessageRow(
                        sender_id,
                        item.timestamp,
                        "patient",
                        item.text,
                        item.intent,
                        item.topic,
                        item.confidence,
                        None,
                    )
                )
            elif isinstance(item, BotReply):
                rows.append(
                    MessageRow(
                        sender_id,
                        item.timestamp,
                        "bot",
                        item.text,
                        None,
                        None,
                        None,
                        item.produced_by,
                    )
                )
    return rows


def _safe_cell(column: str, value: Any) -> Any:
    """Defuse a cell a spreadsheet would run as a formula.

    Message texts are untrusted; sender ids passed the channels' id check
    (letters, digits and `_.:@+-` only), and an SMS sender's "+15550100" is
    a phone number to keep as it is.
    """
    if not isinstance(value, str) or not value.startswith(_FORMULA_START):
        return value
    if column == "sender_id" and re.fullmatch(r"\+\d+", value):
        return value
    if column in ("text", "sender_id"):
        return "'" + value
    return value


def export_conversations_csv(
    url: TrackerDB, sender_ids: Iterable[str], *, spreadsheet_safe: bool = True
) -> str:
    """CSV, one row per message, with a header row (EXPORT_COLUMNS).

    With `spreadsheet_safe` (the default) texts a spreadsheet would run as a
    formula (starting with = + - @) get a leading apostrophe: exports are
    opened in Excel, and patients' texts are untrusted input.  Turn it off
    for exports read by programs.
    """
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in export_rows(url, sender_ids):
        values = row.as_dict()
        if spreadsheet_safe:
            values = {key: _safe_cell(key, value) for key, value in values.items()}
        writer.writerow(values)
    return out.getvalue()


def export_conversations_json(url: TrackerDB, sender_ids: Iterable[str]) -> str:
    """JSON: an array of message objects (EXPORT_COLUMNS, ISO 8601 UTC timestamps)."""
    rows = [row.as_dict() for row in export_rows(url, sender_ids)]
    return json.dumps(rows, ensure_ascii=False, indent=2)
