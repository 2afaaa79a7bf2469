"""The conversation list: one aggregate query, flags computed in SQL, text and
phone searches narrowed in SQL and confirmed in Python.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from clinic_core import storage
from staff.conversations.names import (
    BOOKING_ACTION,
    CHUNK,
    ESCALATION_ACTIONS,
    FALLBACK_INTENT,
    FALLBACK_RESPONSES,
    FLAG_BOOKED,
    FLAG_ESCALATED,
    FLAG_FALLBACK,
    FLAG_HANDOFF,
    FLAG_OUT_OF_SCOPE,
    FLAGS,
    HANDOFF_ACTION,
    HANDOFF_INTENT,
    LOW_CONFIDENCE,
    OUT_OF_SCOPE_INTENT,
    OUT_OF_SCOPE_RESPONSE,
)
from staff.conversations.patients import conversations_for_phone
from staff.conversations.sql_json import json_number, json_text
from staff.conversations.store import (
    EVENTS,
    Moment,
    TrackerDB,
    chunks,
    from_epoch,
    has_events_table,
    to_epoch,
    tracker_engine,
)
from staff.conversations.transcripts import load_event_data


@dataclass(frozen=True)
class ConversationSummary:
    """One line of the conversation list."""

    sender_id: str
    started_at: datetime | None
    last_at: datetime | None
    channel: str | None  # input channel of the patient's messages
    turns: int  # number of patient messages
    flags: frozenset[str]


def _flag_set(flags: str | Iterable[str] | None) -> frozenset[str]:
    if flags is None:
        return frozenset()
    wanted = frozenset([flags] if isinstance(flags, str) else flags)
    unknown = wanted - set(FLAGS)
    if unknown:
        raise ValueError(f"Unknown flag(s) {sorted(unknown)}; known: {list(FLAGS)}")
    return wanted


def _summary_query(dialect: str, senders: Sequence[str] | None) -> Any:
    """One row per conversation: times, turns, channel and the tracker-side flags."""
    e = EVENTS.c
    user = e.type_name == "user"
    bot = e.type_name == "bot"
    action = e.type_name == "action"
    confidence = json_number(dialect, e.data, "parse_data", "intent", "confidence")
    utter = json_text(dialect, e.data, "metadata", "utter_action")
    channel = json_text(dialect, e.data, "input_channel")

    def seen(*conditions: Any) -> Any:
        return sa.func.max(sa.case((sa.or_(*conditions), 1), else_=0))

    query = sa.select(
        e.sender_id,
        sa.func.min(e.timestamp).label("started"),
        sa.func.max(e.timestamp).label("last"),
        sa.func.sum(sa.case((user, 1), else_=0)).label("turns"),
        sa.func.min(sa.case((user, channel))).label("channel"),
        seen(sa.and_(action, e.action_name.in_(ESCALATION_ACTIONS))).label("escalation_action"),
        seen(sa.and_(action, e.action_name == BOOKING_ACTION)).label("booking_action"),
        seen(
            sa.and_(user, e.intent_name == HANDOFF_INTENT),
            sa.and_(action, e.action_name == HANDOFF_ACTION),
        ).label("handoff"),
        seen(
            sa.and_(user, e.intent_name == FALLBACK_INTENT),
            sa.and_(user, confidence < LOW_CONFIDENCE),
            sa.and_(bot, utter.in_(FALLBACK_RESPONSES)),
            sa.and_(action, e.action_name.in_(FALLBACK_RESPONSES)),
        ).label("fallback"),
        seen(
            sa.and_(user, e.intent_name == OUT_OF_SCOPE_INTENT),
            sa.and_(bot, utter == OUT_OF_SCOPE_RESPONSE),
            sa.and_(action, e.action_name == OUT_OF_SCOPE_RESPONSE),
        ).label("out_of_scope"),
    ).group_by(e.sender_id)
    if senders is not None:
        query = query.where(e.sender_id.in_(list(senders)))
    return query


@dataclass(frozen=True)
class _ProjectIndex:
    booked: frozenset[str]
    escalated: frozenset[str]


def _project_index(project_db_url: str) -> _ProjectIndex:
    """Which conversations have a booking / an escalation (ids only)."""
    with storage.transaction(project_db_url) as session:
        booked = session.execute(sa.select(storage.Booking.conversation_id).distinct())
        escalated = session.execute(sa.select(storage.Escalation.conversation_id).distinct())
        return _ProjectIndex(frozenset(r for (r,) in booked), frozenset(r for (r,) in escalated))


def _flags(row: Any, index: _ProjectIndex | None) -> frozenset[str]:
    flags = set()
    if row.escalation_action or (index and row.sender_id in index.escalated):
        flags.add(FLAG_ESCALATED)
    # Without the project DB the booking cannot be confirmed; the action
    # having run is the best evidence there is.
    if row.booking_action and (index is None or row.sender_id in index.booked):
        flags.add(FLAG_BOOKED)
    for name in (FLAG_HANDOFF, FLAG_FALLBACK, FLAG_OUT_OF_SCOPE):
        if getattr(row, name):
            flags.add(name)
    return frozenset(flags)


def _search_tokens(needle: str) -> list[str]:
    """The ASCII letter/digit runs of the search, for an SQL pre-filter.

    Event JSON is stored with non-ASCII characters escaped (`\\u00e9`), so
    only such runs are sure to appear verbatim in the stored text (all of
    them, in any match); the full, case-insensitive match is then confirmed
    in Python on the message text alone (not on JSON keys or buttons).
    """
    return sorted(set(re.findall(r"[a-z0-9]+", needle)), key=len, reverse=True)


def fold(text: str) -> str:
    return " ".join(text.split()).lower()


def _senders_with_text(conn: Connection, text: str, within: set[str] | None) -> set[str]:
    """Conversations where a patient message or bot reply contains `text`."""
    needle = fold(text)
    e = EVENTS.c
    query = sa.select(e.sender_id, e.data).where(e.type_name.in_(("user", "bot")))
    for token in _search_tokens(needle):
        query = query.where(sa.func.lower(e.data).like(f"%{token}%"))
    batches: Iterable[list[str] | None] = [None] if within is None else chunks(sorted(within))
    found: set[str] = set()
    for batch in batches:
        scoped = query if batch is None else query.where(e.sender_id.in_(batch))
        for sender_id, data in conn.execute(scoped):
            if sender_id not in found and needle in fold(load_event_data(data).get("text") or ""):
                found.add(sender_id)
    return found


def list_conversations(
    url: TrackerDB,
    *,
    flags: str | Iterable[str] | None = None,
    channel: str | None = None,
    since: Moment | None = None,
    until: Moment | None = None,
    text: str | None = None,
    phone: str | None = None,
    project_db_url: str | None = None,
    region: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[ConversationSummary]:
    """Conversations, most recently active first, filtered for the console.

    - `flags`: one flag or several, all of which a conversation must have
      (see FLAGS).  `escalated`: action_triage/action_escalate ran, or an
      escalation exists (project DB).  `booked`: action_submit_booking ran
      and a booking exists (only the former is checked without the project
      DB).  `handoff`: human_handoff intent or action_start_handoff.
      `fallback`: nlu_fallback intent, utter_fallback(_handoff), or an intent
      confidence below LOW_CONFIDENCE.  `out_of_scope`: the intent or
      utter_out_of_scope.
    - `channel`: the input channel ("rest", "twilio", "telegram", ...).
    - `since`/`until`: the conversation was active in that period (its first
      event is not after `until` and its last not before `since`).
    - `text`: case-insensitive substring of a patient message or bot reply.
    - `phone`: linked to that number through a booking or escalation
      (project DB) or written from it over SMS/WhatsApp; `region` reads
      national numbers.

    Cost: one aggregate query over the events table (plus one for a text
    search and two small ones on the project DB), whatever the page size.
    """
    wanted = _flag_set(flags)
    if limit < 0 or offset < 0:
        raise ValueError("limit and offset must not be negative")
    low, high = to_epoch(since), to_epoch(until, end_of_day=True)
    engine = tracker_engine(url)
    if not has_events_table(engine):
        return []
    index = _project_index(project_db_url) if project_db_url else None
    within: set[str] | None = None
    if phone is not None:
        within = conversations_for_phone(phone, project_db_url, region=region)
    with engine.connect() as conn:
        if text is not None and text.strip():
            within = _senders_with_text(conn, text, within)
        if within is not None and not within:
            return []
        pushed = sorted(within) if within is not None and len(within) <= CHUNK else None
        rows = conn.execute(_summary_query(engine.dialect.name, pushed)).all()

    found = []
    for row in rows:
        if within is not None and row.sender_id not in within:
            continue
        if low is not None and (row.last is None or row.last < low):
            continue
        if high is not None and (row.started is None or row.started > high):
            continue
        if channel is not None and row.channel != channel:
            continue
        row_flags = _flags(row, index)
        if not wanted <= row_flags:
            continue
        found.append((row.last if row.last is not None else -math.inf, row, row_flags))
    found.sort(key=lambda item: (item[0], item[1].sender_id), reverse=True)
    return [
        ConversationSummary(
            sender_id=row.sender_id,
            started_at=from_epoch(row.started),
            last_at=from_epoch(row.last),
            channel=row.channel,
            turns=int(row.turns or 0),
            flags=row_flags,
        )
        for _, row, row_flags in found[offset : offset + limit]
    ]
