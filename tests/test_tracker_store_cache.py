"""The cached SQL tracker store gives exactly what Rasa's SQL store gives, reading less.

Run on SQLite and on the real PostgreSQL; two store objects on one database
stand for two Rasa processes of the production profile.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import sqlalchemy as sa
from rasa.core.tracker_store import FailSafeTrackerStore, SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from serving import tracker_store
from serving.tracker_store import CachedSQLTrackerStore

DOMAIN = Domain.from_dict(
    {
        "intents": ["greet"],
        "slots": {"name": {"type": "text", "mappings": [{"type": "custom"}]}},
        "responses": {"utter_greet": [{"text": "hi"}]},
    }
)

Factory = Callable[..., CachedSQLTrackerStore]


@pytest.fixture(params=["sqlite", "postgresql"])
def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """Makes store objects on one fresh database (each one is a Rasa process)."""
    if request.param == "sqlite":
        options: dict[str, Any] = {"dialect": "sqlite", "db": str(tmp_path / "conversations.db")}
    else:
        url = urlparse(request.getfixturevalue("postgres_url"))
        options = {
            "dialect": "postgresql",
            "host": url.hostname,
            "port": url.port,
            "db": url.path.lstrip("/"),
            "username": url.username,
        }
    made: list[SQLTrackerStore] = []

    def make(**extra: Any) -> CachedSQLTrackerStore:
        store = CachedSQLTrackerStore(domain=DOMAIN, **{**options, **extra})
        made.append(store)
        return store

    yield make
    for store in made:
        store.engine.dispose()


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def turn(tracker: DialogueStateTracker, text: str) -> None:
    """What a processed message appends: the patient's words, an answer, listen."""
    tracker.update(UserUttered(text, {"name": "greet", "confidence": 1.0}))
    tracker.update(ActionExecuted("utter_greet"))
    tracker.update(BotUttered(f"answer to {text}"))
    tracker.update(ActionExecuted("action_listen"))


def started(store: CachedSQLTrackerStore, sender: str) -> DialogueStateTracker:
    """A conversation's first turn, then one handed out and saved: the cached tracker.

    A tracker the store did not hand out (Rasa's own first save) is not cached:
    whoever saved it still holds it.
    """
    tracker = DialogueStateTracker.from_events(
        sender, [SessionStarted(), ActionExecuted("action_listen")], DOMAIN.slots
    )
    turn(tracker, "first")
    run(store.save(tracker))
    assert sender not in store._cache
    handed = run(store.retrieve(sender))
    run(store.save(handed))  # nothing new in this turn
    return handed


def stored_rows(store: SQLTrackerStore, sender: str) -> list[str]:
    with store.session_scope() as session:
        rows = store._event_query(session, sender, fetch_events_from_all_sessions=True).all()
        return [row.type_name for row in rows]


def plain_load(store: SQLTrackerStore, sender: str) -> DialogueStateTracker:
    return run(SQLTrackerStore.retrieve(store, sender))


def loads_counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    loads: list[str] = []
    original = SQLTrackerStore._retrieve

    async def counting(self: SQLTrackerStore, sender_id: str, **kwargs: Any) -> Any:
        loads.append(sender_id)
        return await original(self, sender_id, **kwargs)

    monkeypatch.setattr(SQLTrackerStore, "_retrieve", counting)
    return loads


def test_the_tracker_just_stored_is_reused_without_a_load(
    new_store: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = new_store()
    tracker = started(store, "a")
    loads = loads_counted(monkeypatch)
    again = run(store.retrieve("a"))
    assert again is tracker and loads == []
    turn(again, "second")
    run(store.save(again))
    assert run(store.retrieve("a")) is tracker and loads == []
    # What is stored is every event once, in order: exactly what a plain load gives.
    fresh = plain_load(store, "a")
    assert [e.as_dict() for e in fresh.events] == [e.as_dict() for e in tracker.events]
    assert stored_rows(store, "a").count("user") == 2


def test_a_write_by_another_process_is_seen(new_store: Factory) -> None:
    ours, theirs = new_store(), new_store()
    started(ours, "b")
    other = run(theirs.retrieve("b"))
    turn(other, "written elsewhere")
    run(theirs.save(other))
    seen = run(ours.retrieve("b"))
    assert [e.text for e in seen.events if isinstance(e, UserUttered)] == [
        "first",
        "written elsewhere",
    ]
    turn(seen, "third")
    run(ours.save(seen))
    assert stored_rows(ours, "b").count("user") == 3  # nothing lost, nothing twice


def test_a_turn_that_failed_before_its_save_is_not_reused(new_store: Factory) -> None:
    store = new_store()
    tracker = started(store, "c")
    turn(tracker, "never stored")  # the turn died: nothing saved
    again = run(store.retrieve("c"))
    assert again is not tracker
    assert [e.text for e in again.events if isinstance(e, UserUttered)] == ["first"]


def test_a_slot_set_in_a_turn_is_kept(new_store: Factory) -> None:
    store = new_store()
    tracker = started(store, "d")
    tracker.update(SlotSet("name", "Ana"))
    run(store.save(tracker))
    assert run(store.retrieve("d")).get_slot("name") == "Ana"
    assert plain_load(store, "d").get_slot("name") == "Ana"


def test_a_new_session_is_loaded_as_rasa_loads_it(new_store: Factory) -> None:
    store = new_store()
    tracker = started(store, "e")
    time.sleep(0.01)  # sessions are found by timestamp
    tracker.update(ActionExecuted("action_session_start"))
    tracker.update(SessionStarted())
    tracker.update(ActionExecuted("action_listen"))
    turn(tracker, "new session")
    run(store.save(tracker))
    again = run(store.retrieve("e"))
    assert again is not tracker  # the old session is not part of what a load gives
    assert [e.as_dict() for e in again.events] == [
        e.as_dict() for e in plain_load(store, "e").events
    ]
    assert [e.text for e in again.events if isinstance(e, UserUttered)] == ["new session"]


def test_a_new_model_domain_reloads(new_store: Factory) -> None:
    store = new_store()
    tracker = started(store, "f")
    store.domain = Domain.from_dict(DOMAIN.as_dict())
    assert run(store.retrieve("f")) is not tracker


def test_the_cache_holds_a_bounded_number_of_conversations(new_store: Factory) -> None:
    store = new_store(cache_size=2)
    trackers = {sender: started(store, sender) for sender in ("h1", "h2", "h3")}
    assert list(store._cache) == ["h2", "h3"]
    assert run(store.retrieve("h1")) is not trackers["h1"]  # loaded again, still correct
    assert [e.text for e in run(store.retrieve("h1")).events if isinstance(e, UserUttered)] == [
        "first"
    ]


def test_a_cache_of_size_zero_is_plain_rasa(new_store: Factory) -> None:
    store = new_store(cache_size=0)
    tracker = started(store, "i")
    assert run(store.retrieve("i")) is not tracker


def test_a_conversation_opened_by_rasa_is_reused_from_its_first_turn(
    new_store: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rasa's session start comes before SessionStarted, which a load leaves out:
    what the first save caches is the session as a load gives it, without a load."""
    store = new_store()
    now = time.time()
    tracker = DialogueStateTracker.from_events(
        "j",
        [
            ActionExecuted("action_session_start", timestamp=now - 1),
            SessionStarted(timestamp=now),
            ActionExecuted("action_listen", timestamp=now),
        ],
        DOMAIN.slots,
    )
    turn(tracker, "first")
    run(store.save(tracker))
    loads = loads_counted(monkeypatch)
    again = run(store.retrieve("j"))
    assert loads == [] and again is not tracker  # the session's own tracker object
    expected = plain_load(store, "j")
    assert [e.as_dict() for e in again.events] == [e.as_dict() for e in expected.events]
    assert len(again.events) == len(tracker.events) - 1
    turn(again, "second")
    run(store.save(again))
    loads.clear()
    assert stored_rows(store, "j").count("user") == 2
    assert run(store.retrieve("j")) is again and loads == []
    assert [e.as_dict() for e in again.events] == [
        e.as_dict() for e in plain_load(store, "j").events
    ]


def test_a_tracker_is_handed_to_one_turn_at_a_time(new_store: Factory) -> None:
    """A second request for the conversation while the first runs gets its own copy."""
    store = new_store()
    tracker = started(store, "k")
    first = run(store.retrieve("k"))
    second = run(store.retrieve("k"))
    assert first is tracker and second is not first
    assert [e.as_dict() for e in second.events] == [e.as_dict() for e in first.events]
    turn(first, "second")
    run(store.save(first))
    # Two turns were in flight: the cache trusts neither; the next turn loads.
    again = run(store.retrieve("k"))
    assert again is not first
    assert [e.as_dict() for e in again.events] == [e.as_dict() for e in first.events]
    assert stored_rows(store, "k").count("user") == 2


def test_reading_leaves_the_tracker_in_place(new_store: Factory) -> None:
    from rasa.core.tracker_store import FailSafeTrackerStore

    from serving.tracker_store import read_only_tracker

    store = new_store()
    tracker = started(store, "l")
    wrapped = FailSafeTrackerStore(store)  # as Rasa's agent holds it
    assert run(read_only_tracker(wrapped, "l")) is tracker
    assert run(store.peek("l")) is tracker
    assert run(wrapped.retrieve("l")) is tracker  # still cached: the turn gets it
    assert run(read_only_tracker(wrapped, "nobody")) is None


def test_a_save_over_another_process_write_is_not_cached(new_store: Factory) -> None:
    """Two processes wrote one conversation (a lock that expired): the next turn
    reads what the database holds, as with Rasa's store, not this process's view."""
    ours, theirs = new_store(), new_store()
    started(ours, "m")
    mine = run(ours.retrieve("m"))
    other = run(theirs.retrieve("m"))
    turn(other, "written elsewhere")
    run(theirs.save(other))
    turn(mine, "written here")
    run(ours.save(mine))  # Rasa's count-based save: not trusted
    assert "m" not in ours._cache
    again = run(ours.retrieve("m"))
    assert again is not mine
    assert [e.as_dict() for e in again.events] == [
        e.as_dict() for e in plain_load(ours, "m").events
    ]


def stored_columns(store: SQLTrackerStore, sender: str) -> list[tuple[Any, ...]]:
    """Every column of the conversation's rows but the id, in the order of their ids."""
    events = store.SQLEvent.__table__
    query = (
        sa.select(
            events.c.type_name,
            events.c.timestamp,
            events.c.intent_name,
            events.c.action_name,
            events.c.data,
        )
        .where(events.c.sender_id == sender)
        .order_by(events.c.id)
    )
    with store.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query)]


def rich_turn(tracker: DialogueStateTracker, now: float) -> None:
    """A turn with every column filled: an intent, an action, a slot, an answer."""
    parse = {
        "intent": {"name": "greet", "confidence": 0.97},
        "intent_ranking": [{"name": "greet", "confidence": 0.97}],
        "entities": [],
        "text": "héllo, is that normal?",
    }
    tracker.update(
        UserUttered("héllo, is that normal?", parse["intent"], parse_data=parse, timestamp=now)
    )
    tracker.update(SlotSet("name", "Ana", timestamp=now + 0.001))
    tracker.update(ActionExecuted("utter_greet", timestamp=now + 0.002))
    tracker.update(BotUttered("hi", {"buttons": [{"title": "Yes"}]}, timestamp=now + 0.003))
    tracker.update(ActionExecuted("action_listen", timestamp=now + 0.004))


def first_turn(
    get_or_create: Callable[..., Any], save: Callable[[Any], Any], sender: str, listen: bool
) -> DialogueStateTracker:
    """What Rasa's processor does at a conversation's first message: get or create
    (a new tracker is saved once, empty as the processor asks for it, or with a
    first listen as Rasa's other callers ask), the session start, the turn, the
    turn's save."""
    tracker = run(get_or_create(sender, append_action_listen=listen))
    now = time.time()
    tracker.update(ActionExecuted("action_session_start", timestamp=now))
    tracker.update(SessionStarted(timestamp=now))
    tracker.update(ActionExecuted("action_listen", timestamp=now))
    turn(tracker, "first")
    run(save(tracker))
    return tracker


def rows_but_times(store: SQLTrackerStore, sender: str) -> list[tuple[Any, ...]]:
    """The conversation's rows without their timestamps (two runs differ only there)."""
    rows = []
    for type_name, _time, intent, action, data in stored_columns(store, sender):
        event = json.loads(data)
        event.pop("timestamp", None)
        rows.append((type_name, intent, action, event))
    return rows


@pytest.mark.parametrize("listen", [False, True], ids=["processor", "api"])
def test_a_new_conversation_is_reused_from_its_second_message(
    new_store: Factory, monkeypatch: pytest.MonkeyPatch, listen: bool
) -> None:
    """No load at a new conversation's first message (nothing is stored) nor at its
    second (the first turn's tracker is cached), through the wrapper Rasa puts
    around every tracker store; the rows are exactly those Rasa's own store
    writes for the same two messages."""
    store = new_store()
    wrapped = FailSafeTrackerStore(store)
    ours, rasas = f"new-ours-{listen}", f"new-rasa-{listen}"  # one database for both runs
    loads = loads_counted(monkeypatch)
    first_turn(wrapped.get_or_create_tracker, wrapped.save, ours, listen)
    assert loads == [] and ours in store._cache
    second = run(wrapped.retrieve(ours))
    assert loads == []
    assert [e.as_dict() for e in second.events] == [
        e.as_dict() for e in plain_load(store, ours).events
    ]
    loads.clear()  # that comparison's own load
    turn(second, "second")
    run(wrapped.save(second))
    assert run(wrapped.retrieve(ours)) is second and loads == []

    async def rasas_get_or_create(sender: str, append_action_listen: bool) -> Any:
        found = await SQLTrackerStore.retrieve(store, sender)
        if found is not None:
            return found
        created = store.init_tracker(sender)
        if append_action_listen:
            created.update(ActionExecuted("action_listen"))
        await SQLTrackerStore.save(store, created)
        return created

    def rasas_save(tracker: DialogueStateTracker) -> Any:
        return SQLTrackerStore.save(store, tracker)

    first_turn(rasas_get_or_create, rasas_save, rasas, listen)
    rasas_second = run(SQLTrackerStore.retrieve(store, rasas))
    turn(rasas_second, "second")
    run(rasas_save(rasas_second))
    assert rows_but_times(store, ours) == rows_but_times(store, rasas)
    assert [e.as_dict() for e in plain_load(store, ours).events] == [
        e.as_dict() for e in second.events
    ]


def test_a_first_save_after_another_process_wrote_is_rasas_own(new_store: Factory) -> None:
    """Another process stored the conversation after this one found it empty: the
    first save counts what is stored, as Rasa's does, and hands nothing out."""
    ours, theirs = new_store(), new_store()
    store_listen_event(theirs, "q")
    mine = run(FailSafeTrackerStore(ours).create_tracker("q"))
    assert "q" not in ours._out and "q" not in ours._cache
    assert stored_rows(ours, "q") == ["action"]  # Rasa's count: the listen is stored already
    again = run(ours.retrieve("q"))
    assert again is not mine
    assert [e.as_dict() for e in again.events] == [
        e.as_dict() for e in plain_load(ours, "q").events
    ]


def test_a_write_between_a_first_saves_check_and_its_insert_is_not_trusted(
    new_store: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process stores the conversation after the first save found it empty:
    the count read after the commit tells, nothing is handed out or cached."""
    ours, theirs = new_store(), new_store()
    found_empty = ours._first_save

    def then_another_process_writes(*args: Any) -> Any:
        entry = found_empty(*args)
        store_listen_event(theirs, "r")
        return entry

    monkeypatch.setattr(ours, "_first_save", then_another_process_writes)
    mine = run(FailSafeTrackerStore(ours).create_tracker("r"))
    assert "r" not in ours._out and "r" not in ours._cache
    assert run(ours.retrieve("r")) is not mine


def test_a_model_replaced_during_a_first_save_makes_it_stale(
    new_store: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tracker was built with the old model's slots: a new model's domain set
    while its first save runs must not make it look current."""
    store = new_store()
    newer = Domain.from_dict({**DOMAIN.as_dict(), "slots": {}})
    found_empty = store._first_save

    def model_replaced_meanwhile(*args: Any) -> Any:
        store.domain = newer
        return found_empty(*args)

    monkeypatch.setattr(store, "_first_save", model_replaced_meanwhile)
    tracker = DialogueStateTracker.from_events("s", [SessionStarted()], DOMAIN.slots)
    run(store.save(tracker))  # the first save, as Rasa's create_tracker makes it
    monkeypatch.undo()
    turn(tracker, "first")
    run(store.save(tracker))  # the end of that turn
    loads = loads_counted(monkeypatch)
    run(store.retrieve("s"))
    assert loads == ["s"]


def test_a_session_stamped_out_of_order_is_cached_only_as_rasa_loads_it(
    new_store: Factory,
) -> None:
    """Events sent through the HTTP API may carry any timestamps: what a load of
    the latest session returns (by timestamp) is what the cache holds, or nothing."""
    store = new_store()
    events = [
        SessionStarted(timestamp=10),
        UserUttered("old", {"name": "greet", "confidence": 1.0}, timestamp=11),
        SessionStarted(timestamp=20),
        ActionExecuted("action_listen", timestamp=15),
        UserUttered("new", {"name": "greet", "confidence": 1.0}, timestamp=21),
    ]
    replaced = DialogueStateTracker.from_events("t", events, DOMAIN.slots)
    run(FailSafeTrackerStore(store).save(replaced))
    served = run(store.retrieve("t"))
    assert [e.as_dict() for e in served.events] == [
        e.as_dict() for e in plain_load(store, "t").events
    ]


def test_a_save_stores_exactly_the_rows_rasas_save_stores(new_store: Factory) -> None:
    """The insert statement writes what Rasa's ORM save writes, column for column and
    in event order, on a conversation's first save and on a cached tracker's turn."""
    store = new_store()
    now = time.time()
    ours = started(store, "rows-ours")
    rasas = DialogueStateTracker.from_events("rows-rasa", [e for e in ours.events], DOMAIN.slots)
    run(SQLTrackerStore.save(store, rasas))
    assert run(store.retrieve("rows-ours")) is ours  # handed to the turn
    rich_turn(ours, now)
    rich_turn(rasas, now)
    run(store.save(ours))
    assert "rows-ours" in store._cache  # the quick path was taken
    run(SQLTrackerStore.save(store, rasas))
    ours_rows = stored_columns(store, "rows-ours")
    assert ours_rows == stored_columns(store, "rows-rasa")
    assert [row[0] for row in ours_rows][-5:] == ["user", "slot", "action", "bot", "action"]
    assert ours_rows[-5][2] == "greet" and ours_rows[-3][3] == "utter_greet"


def store_listen_event(store: SQLTrackerStore, sender: str) -> None:
    """Another process's write: one event row, committed."""
    elsewhere = ActionExecuted("action_listen").as_dict()
    with store.engine.begin() as connection:
        connection.execute(
            store.SQLEvent.__table__.insert(),
            {
                "sender_id": sender,
                "type_name": "action",
                "timestamp": elsewhere["timestamp"],
                "action_name": "action_listen",
                "data": json.dumps(elsewhere),
            },
        )


def save_turn_and_expect_reload(store: CachedSQLTrackerStore, mine: DialogueStateTracker) -> None:
    """Save a turn while another process writes (the caller's patch): it is not
    cached, and the next turn loads exactly what the database holds."""
    sender = mine.sender_id
    turn(mine, "written here")
    run(store.save(mine))
    assert sender not in store._cache
    again = run(store.retrieve(sender))
    assert again is not mine
    assert [e.as_dict() for e in again.events] == [
        e.as_dict() for e in plain_load(store, sender).events
    ]


def test_a_write_committed_while_a_turn_is_saved_is_not_cached(
    new_store: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process stores an event after this save found the conversation unchanged
    and before it inserts: the fingerprint read after the commit counts it, so the
    next turn loads what the database holds instead of trusting the cache."""
    ours, theirs = new_store(), new_store()
    started(ours, "n")
    mine = run(ours.retrieve("n"))
    checked = ours._unchanged_since
    written: list[bool] = []

    def then_another_process_writes(session: Any, entry: Any, sender_id: str) -> bool:
        unchanged = checked(session, entry, sender_id)
        if not written:  # once, during the save
            store_listen_event(theirs, "n")
            written.append(True)
        return unchanged

    monkeypatch.setattr(ours, "_unchanged_since", then_another_process_writes)
    save_turn_and_expect_reload(ours, mine)
    assert stored_rows(ours, "n").count("user") == 2


def test_a_write_committed_right_after_a_save_is_not_cached(
    new_store: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process stores an event between this save's commit and its reading of
    the fingerprint: the count tells, and the next turn loads."""
    ours, theirs = new_store(), new_store()
    started(ours, "o")
    mine = run(ours.retrieve("o"))
    entry_after_save = ours._entry_after_save

    def another_process_writes_first(*args: Any) -> Any:
        store_listen_event(theirs, "o")
        return entry_after_save(*args)

    monkeypatch.setattr(ours, "_entry_after_save", another_process_writes_first)
    save_turn_and_expect_reload(ours, mine)


def test_a_failure_reading_for_the_cache_loses_only_the_cache(new_store: Factory) -> None:
    """The turn is committed before what the cache needs is read: a failure there (a
    query timed out) stores the turn all the same and caches nothing."""
    store = new_store()
    started(store, "p")
    mine = run(store.retrieve("p"))
    fingerprints: list[str] = []

    def second_fingerprint_fails(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT COUNT(EVENTS.ID)"):
            fingerprints.append(statement)
            if len(fingerprints) == 2:
                raise RuntimeError("statement timeout")

    sa.event.listen(store.engine, "before_cursor_execute", second_fingerprint_fails)
    try:
        turn(mine, "stored anyway")
        run(store.save(mine))
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", second_fingerprint_fails)
    assert len(fingerprints) == 2  # the check before the insert, then the cache's read
    assert "p" not in store._cache
    assert stored_rows(store, "p").count("user") == 2
    again = run(store.retrieve("p"))
    assert [e.as_dict() for e in again.events] == [e.as_dict() for e in mine.events]


def test_an_sqlite_file_keeps_its_connections_open(tmp_path: Path) -> None:
    """SQLAlchemy 1.4 would open, set up and close a connection for every query."""
    store = CachedSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "c.db"))
    other = CachedSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "c.db"))
    opened: list[object] = []
    sa.event.listen(store.engine, "connect", lambda connection, _record: opened.append(connection))
    try:
        tracker = started(store, "pooled")
        for text in ("second", "third", "fourth"):
            tracker = run(store.retrieve("pooled"))
            turn(tracker, text)
            run(store.save(tracker))
        assert len(opened) == 1
        # Write-ahead logging is set on the connection that is kept.
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            limit = connection.exec_driver_sql("PRAGMA journal_size_limit").scalar()
            assert limit == tracker_store.WAL_SIZE_LIMIT
        # The pooled connection serves another thread, as Rasa's executor threads may.
        assert run(asyncio.to_thread(plain_load, store, "pooled")).events == tracker.events
        # Another process's write is still seen through the kept connection.
        theirs = run(other.retrieve("pooled"))
        turn(theirs, "from the other process")
        run(other.save(theirs))
        assert stored_rows(store, "pooled").count("user") == 5
        assert run(store.retrieve("pooled")).latest_message.text == "from the other process"
    finally:
        store.engine.dispose()
        other.engine.dispose()


def test_the_event_loop_answers_others_while_a_save_waits_for_the_database(
    tmp_path: Path,
) -> None:
    """A save that waits (here for another writer's lock on the SQLite file) does not
    stop the event loop: other conversations are served meanwhile.  On the event loop
    itself, the wait would block the very callback that releases the lock, and the
    save would fail after SQLite's 30-second lock timeout."""
    import sqlite3

    path = tmp_path / "c.db"
    store = CachedSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(path))
    try:
        started(store, "waiting")

        async def scenario() -> tuple[float, int]:
            writer = sqlite3.connect(path, isolation_level=None)
            writer.execute("BEGIN IMMEDIATE")  # holds the write lock
            loop = asyncio.get_running_loop()
            loop.call_later(0.5, writer.execute, "COMMIT")
            ticks = 0

            async def other_conversations() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.02)
                    ticks += 1

            ticker = asyncio.ensure_future(other_conversations())
            handed = await store.retrieve("waiting")
            turn(handed, "while another writer holds the lock")
            started_at = time.monotonic()
            await store.save(handed)
            waited = time.monotonic() - started_at
            ticker.cancel()
            writer.close()
            return waited, ticks

        waited, ticks = run(scenario())
        assert 0.4 < waited < 5
        assert ticks >= 10
        assert stored_rows(store, "waiting").count("user") == 2
    finally:
        store.engine.dispose()


def test_a_turn_cancelled_while_saving_keeps_the_lock_until_its_events_are_stored(
    tmp_path: Path,
) -> None:
    """Sanic cancels a turn whose client went away.  If that happens while the save
    waits on the database thread, the turn must not end (and release the
    conversation's lock) before the save is committed: another process would load
    the conversation without that turn, then store its own turn over it."""
    import sqlite3
    import threading

    from rasa.core.lock_store import InMemoryLockStore

    path = tmp_path / "c.db"
    one = CachedSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(path))
    two = CachedSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(path))
    try:
        started(one, "cancelled")

        async def scenario() -> None:
            locks = InMemoryLockStore()  # stands for the production profile's Redis lock
            writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            writer.execute("BEGIN IMMEDIATE")  # e.g. a backup holding the write lock
            threading.Timer(1.0, lambda: writer.execute("COMMIT")).start()

            async def first_process_turn() -> None:
                async with locks.lock("cancelled", lock_lifetime=60, wait_time_in_seconds=0.01):
                    tracker = await one.retrieve("cancelled")
                    turn(tracker, "cancelled while saving")
                    await one.save(tracker)

            task = asyncio.ensure_future(first_process_turn())
            await asyncio.sleep(0.2)
            task.cancel()  # the patient's connection dropped
            with pytest.raises(asyncio.CancelledError):
                await task
            async with locks.lock("cancelled", lock_lifetime=60, wait_time_in_seconds=0.01):
                tracker = await two.retrieve("cancelled")
                turn(tracker, "next turn, other process")
                await asyncio.sleep(1.5)  # its turn takes a while (an action...)
                await two.save(tracker)
            writer.close()

        run(scenario())
        users = [
            event.text for event in plain_load(one, "cancelled").events if event.type_name == "user"
        ]
        assert users == ["first", "cancelled while saving", "next turn, other process"]
    finally:
        one.engine.dispose()
        two.engine.dispose()
