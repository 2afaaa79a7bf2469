"""Rasa's SQL tracker store, minus re-reading what this process just wrote.

Rasa loads and decodes the whole conversation session from the database on
every message (`make bench`: a fifth of a turn, growing with the
conversation) and counts the stored events again to find what to save (the
project configures no event broker on Rasa, whose publishing would load the
session once more: clinic_core/event_relay.py publishes instead).  This
subclass keeps the trackers of the conversations this process served last
(a small LRU) and reuses one only when it provably equals what
the database holds:

- the conversation's largest event id in the database is the one this
  process saw when it stored or loaded the tracker (one indexed query: any
  write by another process, or by anything else, changes it), and
- the tracker holds exactly the events stored (a turn that failed before
  its save appended events that are not in the database: not reused), and
- the domain is the one it was built with (a new model: not reused).

A cached tracker is handed to one turn at a time: `retrieve` takes it out of
the cache and the turn's save puts it back, so two requests for one
conversation in one process (the second waiting, or let through when a lock
expired) never share a tracker object; the second gets its own from the
database, as with Rasa's store.  Readers that change nothing (the check for
a message sent again) use `peek`, which leaves it in place
(`read_only_tracker` below).

A conversation's first message is answered "nothing stored" from the
fingerprint alone (Rasa's load would find no rows either); the tracker Rasa
then creates and saves stays handed out to that turn, whose caller holds it,
so the turn's own save is quick and the second message finds it cached: a
patient's short conversation is loaded from the database at most once.

Otherwise it loads from the database exactly as Rasa does.  The database
still gets every event before the reply is sent (Rasa saves before it
answers); the cache only saves reading them back.  So both profiles stay
correct: in production, a conversation served by another Rasa process since
is reloaded, and the Redis lock store keeps two processes from writing one
conversation at once.

With `event_outbox: true` (the production profile) it also installs the
outbox that `clinic_core/event_relay.py` publishes every stored event from,
in the same transaction as the event.

Every database call of a turn (load, check, save) runs on one thread of the
store's own, never on the event loop: Rasa's SQL store queries and commits
inside its coroutines, so while one conversation's turn waited for its
commit (SQLite syncs its log to disk on every commit) no other conversation
could be answered (`make bench`, 8 concurrent conversations: the commit
alone was 14 % of the Rasa process's time, most of it waiting).  One
thread, because SQLite has one writer at a time and the event loop did one
call at a time before; the cache itself is only read and changed on the
event loop.  (Rasa's own readers of whole conversations, `retrieve_full_tracker`
and `keys` for the HTTP API, and a save with an event broker, still query on
the loop.)

Its save (without an event broker) stores exactly the rows Rasa's save
stores, in one insert statement instead of the ORM's unit of work, and reads
the fingerprint for the cache in the same database session, after the commit.

It is a documented extension point (a tracker store class named in the
endpoints file), not a patch; the class is Rasa's, with its `retrieve` and
`save` extended.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

from clinic_core import event_relay, storage

if TYPE_CHECKING:
    from rasa.shared.core.domain import Domain
    from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

SQLITE_LOCK_WAIT_S = 30.0


def _write_ahead_log(connection: Any, _record: Any) -> None:
    """Readers never block the writer (the mode is kept in the file).  The log is
    cut back after each checkpoint: with connections kept open, SQLite never gets
    to remove it as it does when the last connection closes."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
    cursor.close()


WAL_SIZE_LIMIT = 16 * 1024 * 1024  # bytes


# SQLAlchemy 1.4 opens and closes a new connection for every session on an SQLite
# file (three per turn then, two now: `make bench` measured a tenth of an FAQ turn in
# connecting, setting the journal mode and closing).  A pool keeps them open, as
# SQLAlchemy 2.0 does by default; each is used by one thread at a time (the pool
# hands it out), and a file has no server whose restart a pre-ping would detect.
# Restoring a backup needs the assistant stopped (scripts/backup.py checks).
_SQLITE_FILE_POOL: dict[str, Any] = {"poolclass": sa.pool.QueuePool, "pool_pre_ping": False}

T = TypeVar("T")


def finish_now(coroutine: Coroutine[Any, Any, T]) -> T:
    """The result of a coroutine that never waits for anything, run outside any event loop.

    Rasa's SQL store reads in an `async def` method whose body is synchronous
    (`retrieve`, through `_retrieve`): run so, on the database thread, it does
    exactly what it does on the event loop.
    """
    try:
        coroutine.send(None)
    except StopIteration as finished:
        return finished.value
    coroutine.close()
    raise RuntimeError("a tracker store call waited for something outside the database")


# Conversations kept per process: the ones being talked in now.  A tracker of
# a ten-turn conversation is about half a megabyte in memory.
DEFAULT_CACHE_SIZE = 32


# What the database holds of a conversation: its number of rows and largest id.
# A write by anyone changes it, a late commit of a lower id included.
Fingerprint = tuple[int, "int | None"]


@dataclass
class _Entry:
    tracker: DialogueStateTracker
    stored_events: int  # len(tracker.events) when it matched the database
    fingerprint: Fingerprint  # the conversation's rows in the database then
    domain: Domain | None


def _event_row(sender_id: str, event: Any) -> dict[str, Any]:
    """The events table's row for an event, column for column as Rasa's save writes it."""
    data = event.as_dict()
    return {
        "sender_id": sender_id,
        "type_name": event.type_name,
        "timestamp": data.get("timestamp"),
        "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
        "action_name": data.get("name"),
        "data": json.dumps(data),
    }


def _latest_session(tracker: DialogueStateTracker) -> list[Any]:
    """The tracker's events that Rasa's load of the latest session selects: those
    stamped at or after the latest SessionStarted's timestamp, in order."""
    starts = [e.timestamp for e in tracker.events if isinstance(e, SessionStarted)]
    if not starts:
        return list(tracker.events)
    latest = max(starts)
    return [e for e in tracker.events if e.timestamp >= latest]


class CachedSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore that reuses the tracker it last stored or loaded, when still current."""

    def __init__(
        self,
        *args: Any,
        cache_size: int = DEFAULT_CACHE_SIZE,
        event_outbox: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._make_engine_safe()
        if event_outbox and not event_relay.install_outbox(self.engine):
            raise ValueError("event_outbox needs a PostgreSQL tracker store")
        # Trackers that match the database and that nobody holds.
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        # Trackers handed out for a turn (one per conversation), until they are saved.
        self._out: OrderedDict[str, _Entry] = OrderedDict()
        self._cache_size = max(0, int(cache_size))
        # Built once: SQLAlchemy caches its compiled form (an ORM query is rebuilt each call).
        events = self.SQLEvent.__table__
        self._fingerprint_statement = sa.select(
            sa.func.count(events.c.id), sa.func.max(events.c.id)
        ).where(events.c.sender_id == sa.bindparam("sender_id"))
        self._database_thread = ThreadPoolExecutor(1, thread_name_prefix="tracker-store")

    async def _off_loop(self, work: Callable[[], T]) -> T:
        """`work()` on the store's database thread, the event loop free meanwhile.

        A turn cancelled meanwhile (Sanic cancels a request whose client went
        away) still waits for the work to finish before the cancellation goes
        on: otherwise the conversation's lock would be released while its save
        is still to be committed, and another Rasa process could load the
        conversation without that turn, then store its own turn over it.
        """
        done = asyncio.get_running_loop().run_in_executor(self._database_thread, work)
        try:
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            while not done.done():
                try:
                    await asyncio.wait({done})
                except asyncio.CancelledError:
                    continue
            raise

    def _make_engine_safe(self) -> None:
        """Rasa's engine, made again with the project's options (clinic_core/storage.py):
        no patient's words in an error's log line (SQLAlchemy puts a failed statement's
        values there), connections checked before use (after a PostgreSQL restart every
        pooled one is dead), time limits on a silent database; and, for SQLite,
        write-ahead logging with a 30-s wait for a lock, so that a backup, an export or
        a retention run reading the conversations does not fail a patient's turn."""
        old = self.engine
        url = old.url.render_as_string(hide_password=False)
        rasa_options = create_engine_kwargs(url)
        connect_args = rasa_options.pop("connect_args", {})
        if old.dialect.name == "sqlite":
            connect_args = {**connect_args, "timeout": SQLITE_LOCK_WAIT_S}
        options = {**storage.engine_options(url, connect_args), **rasa_options}
        if storage.sqlite_path(url) is not None:
            options.update(_SQLITE_FILE_POOL)
            options["connect_args"] = {**options["connect_args"], "check_same_thread": False}
        self.engine = sa.create_engine(url, **options)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _write_ahead_log)
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        old.dispose()

    # What the database holds now --------------------------------------------------------

    def _fingerprint(self, session: Session, sender_id: str) -> Fingerprint:
        count, last_id = session.execute(
            self._fingerprint_statement, {"sender_id": sender_id}
        ).one()
        return int(count), last_id

    def _unchanged_since(self, session: Session, entry: _Entry, sender_id: str) -> bool:
        """Nothing was written to the conversation since the entry was made, and the
        entry belongs to the current model's domain."""
        return entry.domain is self.domain and (
            self._fingerprint(session, sender_id) == entry.fingerprint
        )

    def _still_current(self, entry: _Entry, sender_id: str) -> bool:
        """The entry still equals the database (on the database thread)."""
        if len(entry.tracker.events) != entry.stored_events:
            return False  # a turn appended events and did not save them
        with self.session_scope() as session:
            return self._unchanged_since(session, entry, sender_id)

    def _load_now(self, sender_id: str) -> _Entry | None:
        """Rasa's own load, with the conversation's fingerprint read just before it
        (a write in between makes the entry look stale, never current); on the
        database thread.  The entry names the domain read before the load: a model
        replaced during the load makes it stale, never current."""
        domain = self.domain
        with self.session_scope() as session:
            fingerprint = self._fingerprint(session, sender_id)
        if fingerprint[0] == 0:
            return None  # nothing stored: Rasa's load would find no rows either
        tracker = finish_now(SQLTrackerStore.retrieve(self, sender_id))
        if tracker is None:
            return None
        return _Entry(tracker, len(tracker.events), fingerprint, domain)

    # Rasa's methods, extended -----------------------------------------------------------

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        """The conversation for a turn: its tracker is handed out, never shared.

        A cached tracker leaves the cache (before the database is asked whether it
        is current) until it is saved, so a second request for the same
        conversation meanwhile (the first one still running) gets its own tracker
        from the database, exactly as with Rasa's store.
        """
        entry = self._cache.pop(sender_id, None)
        if entry is not None and not await self._off_loop(
            lambda: self._still_current(entry, sender_id)
        ):
            entry = None
        if entry is None:
            entry = await self._off_loop(lambda: self._load_now(sender_id))
            if entry is None:
                return None
        self._hand_out(entry)
        return entry.tracker

    async def peek(self, sender_id: str) -> DialogueStateTracker | None:
        """The conversation, for reading only (the caller must not change it)."""
        entry = self._cache.get(sender_id)
        if entry is not None:
            current = await self._off_loop(lambda: self._still_current(entry, sender_id))
            if self._cache.get(sender_id) is entry:  # not handed to a turn meanwhile
                if current:
                    return entry.tracker
                del self._cache[sender_id]
        loaded = await self._off_loop(lambda: self._load_now(sender_id))
        if loaded is None:
            return None
        self._keep(loaded)
        return loaded.tracker

    def _handed_out(self, tracker: DialogueStateTracker) -> _Entry | None:
        entry = self._out.get(tracker.sender_id)
        return entry if entry is not None and entry.tracker is tracker else None

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store the turn's events; the tracker is cached again only if this save
        provably made the database hold exactly its events (the quick path, and
        nobody else wrote).

        A tracker that was not handed out but is the first of its conversation
        (Rasa's `create_tracker` at a conversation's first message, whose caller
        goes on with it for the rest of the turn) is handed out after such a
        save instead: the end of that turn is then a quick save too, and the
        conversation's second message finds it cached rather than loading it.
        """
        sender_id = tracker.sender_id
        handed_out = self._handed_out(tracker)
        # Read here, with no wait since the caller built the tracker: a model
        # replaced from now on makes a first save's entry stale, never current.
        domain = self.domain
        try:
            if self.event_broker is not None:
                # Rasa's own, on the event loop, where its broker publishes (no Rasa
                # process of this project has one: clinic_core/event_relay.py publishes).
                await super().save(tracker)
                saved = None
            else:
                saved = await self._off_loop(lambda: self._save_now(tracker, handed_out, domain))
        finally:
            if handed_out is not None and self._out.get(sender_id) is handed_out:
                del self._out[sender_id]
        self._cache.pop(sender_id, None)
        if saved is None:
            return
        if handed_out is None and saved.tracker is tracker:
            self._hand_out(saved)  # its holder goes on with it (a first save, above)
        else:
            self._keep(saved)

    def _save_now(
        self, tracker: DialogueStateTracker, before: _Entry | None, domain: Domain | None = None
    ) -> _Entry | None:
        """The turn's new events stored, then the cache entry for the tracker if it
        may be cached; on the database thread, in one database session.

        The rows are exactly those Rasa's save stores (`_event_row`), inserted in
        one statement rather than through the ORM's unit of work (`make bench`:
        the ORM's flush was most of a save).  Which events are new: those after
        the ones the tracker was handed out with when nobody wrote since (the
        quick path), or none when the database holds nothing of the
        conversation (its first save: Rasa's count would be 0 too), else Rasa's
        own count of the latest session's stored events.  What the cache needs
        is read after the commit, so that a failure there loses only the cache,
        never the turn.
        """
        sender_id = tracker.sender_id
        with self.session_scope() as session:
            if before is None:
                before = self._first_save(session, tracker, domain)
                quick = before is not None
            else:
                quick = self._unchanged_since(session, before, sender_id)
            if quick:
                first_new = before.stored_events
            else:
                first_new = self._event_query(
                    session, sender_id, fetch_events_from_all_sessions=False
                ).count()
            rows = [
                _event_row(sender_id, event)
                for event in itertools.islice(tracker.events, first_new, None)
            ]
            if rows:
                session.execute(self.SQLEvent.__table__.insert(), rows)
            session.commit()
            if before is None or not quick:
                return None  # Rasa's count-based save: equal counts need not be equal events
            try:
                return self._entry_after_save(session, tracker, before, first_new + len(rows))
            except Exception as error:  # noqa: BLE001 - the events are stored; only the cache is lost
                logger.warning("Could not cache a saved conversation (%s).", type(error).__name__)
                return None

    def _first_save(
        self, session: Session, tracker: DialogueStateTracker, domain: Domain | None
    ) -> _Entry | None:
        """An entry standing for "nothing stored yet" when the database holds no row
        of the conversation (its fingerprint is then (0, None)); else None.  It names
        `domain`, read when the save began."""
        fingerprint = self._fingerprint(session, tracker.sender_id)
        if fingerprint != (0, None):
            return None
        return _Entry(tracker, 0, fingerprint, domain)

    def _entry_after_save(
        self, session: Session, tracker: DialogueStateTracker, before: _Entry, stored_now: int
    ) -> _Entry | None:
        """The cache entry for a tracker whose first `stored_now` events are now stored,
        if the database holds exactly those (or its latest session's).  It names the
        domain the tracker was loaded with: a model replaced since makes it stale."""
        sender_id = tracker.sender_id
        domain = before.domain
        if len(tracker.events) != stored_now:
            return None  # shorter than when it was handed out: not what the database holds
        fingerprint = self._fingerprint(session, sender_id)
        if fingerprint[0] != before.fingerprint[0] + stored_now - before.stored_events:
            return None  # someone else wrote too: the next turn loads
        new_session = any(
            isinstance(event, SessionStarted)
            for event in itertools.islice(tracker.events, before.stored_events, None)
        )
        if not new_session:
            return _Entry(tracker, stored_now, fingerprint, domain)
        # A new session began in this turn: a load returns only the latest session,
        # the events stamped from its SessionStarted's time on (Rasa's query).  The
        # tracker's own such events must be exactly the rows that query counts
        # (timestamps sent out of order through the HTTP API may make them differ).
        session_only = _latest_session(tracker)
        stored = self._event_query(session, sender_id, fetch_events_from_all_sessions=False).count()
        if stored != len(session_only) or not session_only:
            return None
        if len(session_only) == stored_now:
            return _Entry(tracker, stored, fingerprint, domain)
        loaded_form = DialogueStateTracker.from_events(sender_id, session_only, domain.slots)
        return _Entry(loaded_form, stored, fingerprint, domain)

    # The cache ------------------------------------------------------------------------

    def _keep(self, entry: _Entry) -> None:
        """Make `entry` the conversation's cached tracker (the least recent one goes)."""
        if not self._cache_size:
            return
        sender_id = entry.tracker.sender_id
        self._cache[sender_id] = entry
        self._cache.move_to_end(sender_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _hand_out(self, entry: _Entry) -> None:
        """Note the tracker given for a turn; a turn that never saves is forgotten in time."""
        sender_id = entry.tracker.sender_id
        self._out[sender_id] = entry
        self._out.move_to_end(sender_id)
        while len(self._out) > max(self._cache_size, 1):
            self._out.popitem(last=False)


async def read_only_tracker(store: Any, sender_id: str) -> DialogueStateTracker | None:
    """The conversation for a caller that only reads it.

    `store` is the agent's store (Rasa wraps ours in a FailSafeTrackerStore);
    with ours inside, the cached tracker is read in place instead of taken out
    of the cache.  Any other store, or a failure, is Rasa's own `retrieve`.
    """
    inner = getattr(store, "_tracker_store", store)
    if isinstance(inner, CachedSQLTrackerStore):
        try:
            return await inner.peek(sender_id)
        except Exception:  # noqa: BLE001 - the wrapper's own error handling still applies
            logger.warning("Reading the cached conversation failed; loading it.", exc_info=True)
    return await store.retrieve(sender_id)
