"""Rasa's tracker store as the console reads it: the `events` table (owned by
Rasa, never created here), one engine per store, batching, and epoch times.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from clinic_core import storage
from staff.conversations.names import CHUNK

TrackerDB = str | sa.engine.URL | Engine
Moment = datetime | date | float | int


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
        options = storage.tracker_store_options(key)
        _engines[key] = sa.create_engine(url, future=True, **options)
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
