"""Conversations for the staff console, read straight from Rasa's SQL tracker store.

Why read the tracker store itself: it is the only complete record of what
patients wrote and what the assistant answered, and any copy would go stale
(or outlive a deletion request).  Rasa owns that schema (one `events` table:
id, sender_id, type_name, timestamp, intent_name, action_name and `data`,
the JSON of the event), so this module only ever *reads* it, with
SQLAlchemy Core, on SQLite (the default profile) and PostgreSQL (production).

Why the queries look the way they do: a clinic accumulates thousands of
conversations, so listing them is a single aggregate query (one row per
conversation, flags computed in SQL, reading the few JSON fields it needs
with the database's JSON functions) rather than one query per conversation;
text and phone searches first narrow the candidates in SQL and then confirm
in Python.  Bookings and escalations live in the project's own database
(`clinic_core.storage`), possibly another server, so they are joined in Python
by conversation id.

Nothing here logs message texts (nor anything else about patients).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import phonenumbers
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection, Engine

from clinic_core import settings, storage

TrackerDB = str | sa.engine.URL | Engine
Moment = datetime | date | float | int

# --- what the assistant's events mean ----------------------------------------

ESCALATION_ACTIONS = ("action_triage", "action_escalate")
BOOKING_ACTION = "action_submit_booking"
HANDOFF_INTENT = "human_handoff"
HANDOFF_ACTION = "action_start_handoff"
FALLBACK_INTENT = "nlu_fallback"
FALLBACK_RESPONSES = ("utter_fallback", "utter_fallback_handoff")
OUT_OF_SCOPE_INTENT = "out_of_scope"
OUT_OF_SCOPE_RESPONSE = "utter_out_of_scope"
# Replies that mean "the assistant did not answer the question".
UNANSWERED_RESPONSES = (*FALLBACK_RESPONSES, OUT_OF_SCOPE_RESPONSE)
FAQ_INTENT = "faq"
# Below this intent confidence a conversation is flagged `fallback`.
LOW_CONFIDENCE = 0.5

FLAG_ESCALATED = "escalated"
FLAG_BOOKED = "booked"
FLAG_HANDOFF = "handoff"
FLAG_FALLBACK = "fallback"
FLAG_OUT_OF_SCOPE = "out_of_scope"
FLAGS = (FLAG_ESCALATED, FLAG_BOOKED, FLAG_HANDOFF, FLAG_FALLBACK, FLAG_OUT_OF_SCOPE)

# Slots the dialogue keeps for itself rather than facts the patient gave:
# shown in transcripts (staff sometimes need them to follow a form) but
# marked so the console can fold them away.
INTERNAL_SLOTS = frozenset(
    {
        "requested_slot",
        "session_started_metadata",
        "clinic_name",
        "clinic_phone",
        "emergency_number",
        "after_hours_line",
        "booking_change_field",
        "form_state",
        "form_attempt",
        "form_skippable",
        "form_recovery",
        "form_outcome",
    }
)

# Twilio senders are the patient's number, bare (SMS) or prefixed.
PHONE_SENDER_PREFIXES = ("", "whatsapp:", "sms:", "tel:")

# Large `IN (...)` lists are split so no database hits its parameter limit.
CHUNK = 500

# --- the tracker store's table (owned by Rasa: never created here) ----------

_METADATA = sa.MetaData()
EVENTS = sa.Table(
    "events",
    _METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False),
    sa.Column("type_name", sa.String(255), nullable=False),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),
    sa.Column("data", sa.Text),
)

_engines: dict[str, Engine] = {}


def tracker_engine(db: TrackerDB) -> Engine:
    """The engine for a tracker store URL (one per URL, reused), or `db` itself.

    A missing SQLite file is an error rather than a new empty database:
    a mistyped path must not look like "no conversations" (or, for an
    erasure request, like "nothing to erase").  `POSTGRESQL_SCHEMA` is
    honoured exactly as Rasa's tracker store honours it.
    """
    if isinstance(db, Engine):
        return db
    url = sa.engine.make_url(db)
    key = url.render_as_string(hide_password=False)
    if key not in _engines:
        backend = url.get_backend_name()
        database = url.database or ""
        on_disk = backend == "sqlite" and database not in ("", ":memory:")
        if on_disk and not database.startswith("file:") and not Path(database).exists():
            raise FileNotFoundError(f"No tracker store at {database}")
        kwargs: dict[str, Any] = {}
        schema = settings.load().postgresql_schema
        if backend == "postgresql" and schema:
            kwargs["connect_args"] = {"options": f"-csearch_path={schema}"}
        _engines[key] = sa.create_engine(url, future=True, pool_pre_ping=True, **kwargs)
    return _engines[key]


def dispose_engines() -> None:
    """Close the pooled connections of every engine made by `tracker_engine`."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


def has_events_table(engine: Engine) -> bool:
    """Whether Rasa has created its table yet (a fresh install has none)."""
    return sa.inspect(engine).has_table("events")


def chunks(values: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- time --------------------------------------------------------------------


def to_epoch(moment: Moment | None, *, end_of_day: bool = False) -> float | None:
    """Seconds since the epoch, as Rasa stores event timestamps.

    Naive datetimes are taken as UTC (the project stores UTC everywhere).  A
    bare date means its whole day: its start, or with `end_of_day` its last
    microsecond, so `until=date(...)` includes that day.
    """
    if moment is None:
        return None
    if isinstance(moment, int | float):
        return float(moment)
    if not isinstance(moment, datetime):
        day = moment + timedelta(days=1) if end_of_day else moment
        moment = datetime.combine(day, time.min, tzinfo=timezone.utc)
        if end_of_day:
            moment -= timedelta(microseconds=1)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def from_epoch(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, timezone.utc)


# --- phone numbers -------------------------------------------------------------


def normalise_phone(value: str, region: str | None = None) -> str:
    """A phone number in E.164 when it can be read as one, else its bare digits.

    `region` (e.g. the clinic's country, "GB") lets national numbers such as
    07700 900123 be read; without it only international ones can.  Fewer than
    six digits is refused: an erasure "by phone" must never match broadly.
    """
    raw = re.sub(r"^(whatsapp|sms|tel):", "", (value or "").strip(), flags=re.IGNORECASE)
    digits = re.sub(r"\D", "", raw)
    if len(digits) < 6:
        raise ValueError("Not a phone number: fewer than six digits.")
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_possible_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if raw.startswith("+"):
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    return digits


def phone_senders(number: str) -> list[str]:
    """Sender ids an SMS/WhatsApp patient with this (normalised) number writes from."""
    return [prefix + number for prefix in PHONE_SENDER_PREFIXES]


@dataclass(frozen=True)
class ProjectRecord:
    """A booking or escalation of the project DB, as the staff layer needs it."""

    kind: str  # booking | escalation
    id: int
    reference: str
    conversation_id: str
    created_at: datetime | None
    status: str | None
    severity: str | None = None


def _record(kind: str, row: Any) -> ProjectRecord:
    return ProjectRecord(
        kind=kind,
        id=row.id,
        reference=row.reference,
        conversation_id=row.conversation_id,
        created_at=row.created_at,
        status=row.status,
        severity=getattr(row, "severity", None),
    )


def project_records(
    session: Any,
    *,
    conversation_ids: Iterable[str] = (),
    phone: str | None = None,
    region: str | None = None,
) -> list[ProjectRecord]:
    """Bookings and escalations of these conversations or with this phone number.

    Stored numbers are compared after normalisation (escalations keep what
    the patient typed when it could not be read as E.164), with an SQL
    pre-filter on the last digits so the whole table is never read.
    """
    found: dict[tuple[str, int], ProjectRecord] = {}
    ids = sorted(set(conversation_ids))
    for kind, model in (("booking", storage.Booking), ("escalation", storage.Escalation)):
        for batch in chunks(ids):
            for row in session.execute(sa.select(model).where(model.conversation_id.in_(batch))):
                record = _record(kind, row[0])
                found[(kind, record.id)] = record
        if phone:
            number = normalise_phone(phone, region)
            tail = re.sub(r"\D", "", number)[-4:]
            query = sa.select(model).where(model.phone.like(f"%{tail}%"))
            for (row,) in session.execute(query):
                if _same_phone(row.phone, number, region):
                    found[(kind, row.id)] = _record(kind, row)
    return sorted(found.values(), key=lambda r: (r.kind, r.id))


def _same_phone(stored: str | None, number: str, region: str | None) -> bool:
    try:
        return bool(stored) and normalise_phone(stored, region) == number
    except ValueError:
        return False


def conversations_for_phone(
    phone: str, project_db_url: str | None = None, *, region: str | None = None
) -> set[str]:
    """Conversation ids linked to a phone number.

    Those of its bookings and escalations (when the project DB is given) and
    the SMS/WhatsApp sender ids equal to the number.
    """
    number = normalise_phone(phone, region)
    found = set(phone_senders(number))
    if project_db_url:
        with storage.transaction(project_db_url) as session:
            for record in project_records(session, phone=number, region=region):
                found.add(record.conversation_id)
    return found


# --- JSON inside SQL -------------------------------------------------------------


def _json_text(dialect: str, column: Any, *path: str) -> Any:
    """SQL for one field of the event JSON, as text (NULL when absent)."""
    if dialect == "sqlite":
        return sa.func.json_extract(column, "$." + ".".join(path))
    if dialect == "postgresql":
        return sa.cast(column, postgresql.JSON)[path].astext
    if dialect in ("mysql", "mariadb"):
        return sa.func.json_unquote(sa.func.json_extract(column, "$." + ".".join(path)))
    raise NotImplementedError(f"Tracker stores on {dialect} are not supported.")


def _json_number(dialect: str, column: Any, *path: str) -> Any:
    return sa.cast(_json_text(dialect, column, *path), sa.Float)


# --- listing -------------------------------------------------------------------


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
    confidence = _json_number(dialect, e.data, "parse_data", "intent", "confidence")
    utter = _json_text(dialect, e.data, "metadata", "utter_action")
    channel = _json_text(dialect, e.data, "input_channel")

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


def _fold(text: str) -> str:
    return " ".join(text.split()).lower()


def _senders_with_text(conn: Connection, text: str, within: set[str] | None) -> set[str]:
    """Conversations where a patient message or bot reply contains `text`."""
    needle = _fold(text)
    e = EVENTS.c
    query = sa.select(e.sender_id, e.data).where(e.type_name.in_(("user", "bot")))
    for token in _search_tokens(needle):
        query = query.where(sa.func.lower(e.data).like(f"%{token}%"))
    batches: Iterable[list[str] | None] = [None] if within is None else chunks(sorted(within))
    found: set[str] = set()
    for batch in batches:
        scoped = query if batch is None else query.where(e.sender_id.in_(batch))
        for sender_id, data in conn.execute(scoped):
            if sender_id not in found and needle in _fold(_load(data).get("text") or ""):
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


# --- transcripts -------------------------------------------------------------------


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


def _load(data: str | None) -> dict[str, Any]:
    try:
        value = json.loads(data or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) else float(value)


def _understanding(
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
        topic_confidence = _number(response.get("confidence"))
    return name, _number(intent.get("confidence")), topic, topic_confidence


def _buttons(data: dict[str, Any]) -> tuple[Button, ...]:
    raw = data.get("buttons") or data.get("quick_replies") or []
    return tuple(
        Button(title=str(b.get("title") or ""), payload=b.get("payload"))
        for b in raw
        if isinstance(b, dict)
    )


def _items(events: Iterable[dict[str, Any]]) -> Iterator[TranscriptItem]:
    """Transcript items from one conversation's events, in order."""
    last_action: str | None = None
    for event in events:
        kind = event.get("event")
        when = from_epoch(_number(event.get("timestamp")))
        if kind == "user":
            intent, confidence, topic, topic_confidence = _understanding(event)
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
    return [_load(data) for (data,) in conn.execute(query)]


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
    items = tuple(_items(events))

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


# --- unanswered questions -----------------------------------------------------------

# Greedy clustering on normalised token sets: deterministic, explainable to
# staff ("these messages share most of their words") and cheap enough for a
# few thousand messages.  Normalisation: lower case, apostrophes dropped,
# common texting shorthands expanded, a light plural stemming, and stop words
# removed (unless nothing else is left), so "do u do lip fillers?" and
# "do you do lip filler" are the same set, while "do you do botox" is not.
SIMILARITY = 0.5

_SHORTHANDS = {
    "u": "you",
    "ya": "you",
    "ur": "your",
    "yr": "your",
    "r": "are",
    "pls": "please",
    "plz": "please",
    "thx": "thanks",
    "ty": "thanks",
    "wat": "what",
    "wot": "what",
    "abt": "about",
    "b4": "before",
    "appt": "appointment",
    "hw": "how",
    "cn": "can",
}
_STOP_WORDS = frozenset(
    """a an the and or but if of to in on at by for with from about as into is are was were
    be been being am do does did doing have has had i me my we our you your it its this that
    these those there here what which who whom when where why how can could would should will
    shall may might must any some please hi hello hey thanks thank just so not no yes""".split()
)


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def question_tokens(text: str) -> frozenset[str]:
    """The normalised token set two questions are compared on."""
    words = re.findall(r"[a-z0-9]+", re.sub(r"['’`]", "", text.lower()))
    words = [_SHORTHANDS.get(w, w) for w in words]
    content = {_stem(w) for w in words if w not in _STOP_WORDS}
    return frozenset(content or {_stem(w) for w in words})


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


@dataclass(frozen=True)
class UnansweredMessage:
    sender_id: str
    timestamp: datetime | None
    text: str
    intent: str | None
    confidence: float | None
    # nlu_fallback | low_confidence | low_topic_confidence | fallback_reply |
    # out_of_scope_reply
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class QuestionGroup:
    """Similar patient messages the assistant could not answer."""

    representative: str
    count: int
    first_seen: datetime | None
    last_seen: datetime | None
    messages: tuple[UnansweredMessage, ...]


def _reasons(event: dict[str, Any], threshold: float) -> list[str]:
    intent, confidence, topic, topic_confidence = _understanding(event)
    reasons = []
    if intent == FALLBACK_INTENT:
        reasons.append("nlu_fallback")
    elif confidence is not None and confidence < threshold:
        reasons.append("low_confidence")
    if intent == FAQ_INTENT and topic_confidence is not None and topic_confidence < threshold:
        reasons.append("low_topic_confidence")
    return reasons


def _unanswered_candidates(
    conn: Connection, dialect: str, low: float | None, threshold: float
) -> list[str]:
    """Conversations with at least one sign of an unanswered message."""
    e = EVENTS.c
    user = e.type_name == "user"
    confidence = _json_number(dialect, e.data, "parse_data", "intent", "confidence")
    topic_confidence = _json_number(
        dialect, e.data, "parse_data", "response_selector", FAQ_INTENT, "response", "confidence"
    )
    utter = _json_text(dialect, e.data, "metadata", "utter_action")
    query = (
        sa.select(e.sender_id)
        .where(
            sa.or_(
                sa.and_(user, e.intent_name == FALLBACK_INTENT),
                sa.and_(user, confidence < threshold),
                sa.and_(user, e.intent_name == FAQ_INTENT, topic_confidence < threshold),
                sa.and_(e.type_name == "bot", utter.in_(UNANSWERED_RESPONSES)),
            )
        )
        .distinct()
    )
    if low is not None:
        query = query.where(e.timestamp >= low)
    return sorted(sender for (sender,) in conn.execute(query))


def _unanswered_messages(
    conn: Connection, senders: list[str], low: float | None, high: float | None, threshold: float
) -> list[UnansweredMessage]:
    e = EVENTS.c
    found: list[tuple[float, str, int, UnansweredMessage]] = []

    def finish(turn: tuple[int, str, dict[str, Any], list[str]] | None) -> None:
        if turn is None:
            return
        event_id, sender_id, event, reasons = turn
        text = (event.get("text") or "").strip()
        timestamp = _number(event.get("timestamp"))
        if not reasons or not text or text.startswith("/"):
            return
        if timestamp is not None and (
            (low is not None and timestamp < low) or (high is not None and timestamp > high)
        ):
            return
        intent, confidence, _, _ = _understanding(event)
        message = UnansweredMessage(
            sender_id=sender_id,
            timestamp=from_epoch(timestamp),
            text=text,
            intent=intent,
            confidence=confidence,
            reasons=tuple(reasons),
        )
        found.append((timestamp or 0.0, sender_id, event_id, message))

    for batch in chunks(senders):
        query = (
            sa.select(e.id, e.sender_id, e.data)
            .where(e.sender_id.in_(batch), e.type_name.in_(("user", "bot")))
            .order_by(e.sender_id, e.id)
        )
        current: tuple[int, str, dict[str, Any], list[str]] | None = None
        for event_id, sender_id, data in conn.execute(query):
            event = _load(data)
            if current is not None and current[1] != sender_id:
                finish(current)
                current = None
            if event.get("event") == "user":
                finish(current)
                current = (event_id, sender_id, event, _reasons(event, threshold))
            elif current is not None:
                name = (event.get("metadata") or {}).get("utter_action")
                reason = (
                    "out_of_scope_reply"
                    if name == OUT_OF_SCOPE_RESPONSE
                    else "fallback_reply"
                    if name in FALLBACK_RESPONSES
                    else None
                )
                if reason and reason not in current[3]:
                    current[3].append(reason)
        finish(current)
    found.sort(key=lambda item: item[:3])
    return [message for *_, message in found]


def group_questions(
    messages: Sequence[UnansweredMessage], similarity: float = SIMILARITY
) -> list[QuestionGroup]:
    """Greedy clustering: each message (oldest first) joins the group whose first
    message is most similar to it (Jaccard of `question_tokens` >= `similarity`,
    earliest group on ties), or starts a new group."""
    seeds: list[frozenset[str]] = []
    members: list[list[UnansweredMessage]] = []
    for message in messages:
        tokens = question_tokens(message.text)
        best, best_score = -1, -1.0
        for number, seed in enumerate(seeds):
            score = jaccard(tokens, seed)
            if score > best_score:
                best, best_score = number, score
        if best >= 0 and best_score >= similarity:
            members[best].append(message)
        else:
            seeds.append(tokens)
            members.append([message])

    groups = []
    for group in members:
        forms = Counter(_fold(m.text) for m in group)
        top = max(forms.values())
        representative = next(m.text for m in group if forms[_fold(m.text)] == top)
        times = [m.timestamp for m in group if m.timestamp is not None]
        groups.append(
            QuestionGroup(
                representative=representative,
                count=len(group),
                first_seen=min(times) if times else None,
                last_seen=max(times) if times else None,
                messages=tuple(group),
            )
        )
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    groups.sort(key=lambda g: (-g.count, -(g.last_seen or epoch).timestamp(), g.representative))
    return groups


def unanswered_questions(
    url: TrackerDB,
    *,
    since: Moment | None = None,
    until: Moment | None = None,
    threshold: float = LOW_CONFIDENCE,
    similarity: float = SIMILARITY,
) -> list[QuestionGroup]:
    """Patient messages the assistant did not answer, grouped, most frequent first.

    A message counts when its intent is nlu_fallback, its intent confidence
    (or, for an FAQ, the topic's confidence) is below `threshold`, or the
    bot's reply to it was utter_fallback, utter_fallback_handoff or
    utter_out_of_scope.  Button payloads ("/intent") are left out: the
    patient did not type them.  Only conversations showing one of those
    signs are read (found with one SQL query), so the cost follows the
    number of problem conversations, not the size of the store.
    """
    low, high = to_epoch(since), to_epoch(until, end_of_day=True)
    engine = tracker_engine(url)
    if not has_events_table(engine):
        return []
    with engine.connect() as conn:
        senders = _unanswered_candidates(conn, engine.dialect.name, low, threshold)
        messages = _unanswered_messages(conn, senders, low, high, threshold)
    return group_questions(messages, similarity)


# --- exports ------------------------------------------------------------------------

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
                by_sender[sender_id].append(_load(data))
    rows = []
    for sender_id in wanted:
        for item in _items(by_sender[sender_id]):
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


# --- NLU training data from staff annotations ------------------------------------------

_LABEL = re.compile(r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)?$")
# `[text](entity)`, `[text]{"entity": ...}` and `[text][...]` are entity
# annotations in Rasa's training data; a "]" directly followed by "(", "{" or
# "[" is what makes them so, and Rasa has no escape for it.
_ENTITY_JOIN = re.compile(r"\](?=[(\[{])")


def _yaml_safe_char(char: str) -> bool:
    """Characters YAML allows in a document (its printable set), minus the BOM."""
    code = ord(char)
    return (
        0x20 <= code <= 0x7E
        or 0xA0 <= code <= 0xD7FF
        or (0xE000 <= code <= 0xFFFD and code != 0xFEFF)
        or 0x10000 <= code <= 0x10FFFF
    )


def training_text(text: str) -> str:
    """A message as one line of an NLU example that Rasa reads back unchanged.

    Whitespace (including line and paragraph separators) collapses to single
    spaces; characters YAML forbids are dropped; and a space is put between
    "]" and a following "(", "{" or "[" so a patient's brackets are never
    read as an entity annotation.  Other brackets are kept as written.
    """
    cleaned = "".join(char for char in " ".join(text.split()) if _yaml_safe_char(char))
    return _ENTITY_JOIN.sub("] ", " ".join(cleaned.split()))


def export_nlu_yaml(annotations: Iterable[tuple[str, str]]) -> str:
    """Rasa NLU training data (version "3.1") from (message text, label) pairs.

    Labels are intents ("book_appointment") or retrieval intents
    ("faq/duration").  Duplicates are dropped; the same text under two labels
    raises ValueError, because `rasa data validate` rejects it.  Examples are
    written as literal blocks, where no character of the text needs escaping.
    """
    by_label: dict[str, list[str]] = {}
    label_of: dict[str, str] = {}
    conflicts = 0
    for text, label in annotations:
        if not isinstance(label, str) or not _LABEL.match(label):
            raise ValueError(f"Not an intent name: {label!r}")
        example = training_text(text or "")
        if not example:
            continue
        if example in label_of:
            conflicts += label_of[example] != label
            continue
        label_of[example] = label
        by_label.setdefault(label, []).append(example)
    if conflicts:
        raise ValueError(f"{conflicts} message(s) annotated with two different labels.")

    lines = ['version: "3.1"', "", "nlu:"]
    for label, examples in by_label.items():
        lines.append(f'- intent: "{label}"')
        lines.append("  examples: |")
        lines.extend(f"    - {example}" for example in examples)
    if not by_label:
        lines[-1] = "nlu: []"
    return "\n".join(lines) + "\n"
