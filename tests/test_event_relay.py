"""Every stored event reaches RabbitMQ, also across outages: the outbox relay.

Against the real PostgreSQL and RabbitMQ.  Events are stored through the
production profile's tracker store (`event_outbox: true`); the relay
(clinic_core/event_relay.py) runs in the test's event loop, reaching RabbitMQ
through a TCP proxy the test can cut to play an outage.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from clinic_core import event_relay, settings
from serving.tracker_store import CachedSQLTrackerStore
from tests.proxy import TcpProxy
from tests.support import greet_domain, require_rabbitmq

pytestmark = pytest.mark.integration

DOMAIN = greet_domain()
RABBITMQ = ("127.0.0.1", 5672)


@pytest.fixture
def queue_name() -> Iterator[str]:
    import aio_pika

    name = f"relay_test_{uuid.uuid4().hex[:10]}"
    require_rabbitmq(f"amqp://guest:guest@{RABBITMQ[0]}:{RABBITMQ[1]}/")
    yield name

    async def delete() -> None:
        connection = await aio_pika.connect(host=RABBITMQ[0], port=RABBITMQ[1])
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(name)
            await channel.exchange_delete(exchange_of(name))

    asyncio.run(delete())


def store_on(url: str) -> CachedSQLTrackerStore:
    parsed = sa.engine.make_url(url)
    return CachedSQLTrackerStore(
        domain=DOMAIN,
        dialect="postgresql",
        host=parsed.host,
        port=parsed.port,
        db=parsed.database,
        username=parsed.username,
        event_outbox=True,
    )


def exchange_of(queue: str) -> str:
    return f"{queue}_exchange"


def relay_settings(url: str, queue: str, rabbitmq_port: int = RABBITMQ[1]) -> settings.Settings:
    return settings.load(
        {
            "TRACKER_STORE_URL": url,
            "RABBITMQ_QUEUE": queue,
            # Its own exchange: a queue someone else bound to the shared one would
            # take the messages a test expects RabbitMQ to return.
            "RABBITMQ_EXCHANGE": exchange_of(queue),
            "RABBITMQ_PORT": str(rabbitmq_port),
        }
    )


def conversation(sender: str, turns: int) -> DialogueStateTracker:
    events: list[Any] = [ActionExecuted("action_listen")]
    for turn in range(turns):
        events += [
            UserUttered(f"hello {turn}", {"name": "greet", "confidence": 1.0}),
            ActionExecuted("utter_greet"),
            BotUttered("hi"),
            ActionExecuted("action_listen"),
        ]
    return DialogueStateTracker.from_events(sender, events, DOMAIN.slots)


async def save(store: CachedSQLTrackerStore, tracker: DialogueStateTracker) -> None:
    await store.save(tracker)


def stored_events(url: str, senders: set[str]) -> list[tuple[int, str, dict[str, Any]]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text("SELECT id, sender_id, data FROM events ORDER BY id")
            ).all()
    finally:
        engine.dispose()
    return [(row[0], row[1], json.loads(row[2])) for row in rows if row[1] in senders]


def outbox_size(url: str) -> int | None:
    engine = sa.create_engine(url)
    try:
        return event_relay.waiting_count(engine)
    finally:
        engine.dispose()


class Stream:
    """What a consumer of the queue has received so far."""

    def __init__(self, queue: str) -> None:
        self.queue = queue
        self.messages: list[tuple[str | None, dict[str, Any]]] = []

    async def take_all(self) -> None:
        import aio_pika

        connection = await aio_pika.connect(host=RABBITMQ[0], port=RABBITMQ[1])
        async with connection:
            channel = await connection.channel()
            try:
                queue = await channel.declare_queue(self.queue, passive=True)
            except aio_pika.exceptions.ChannelClosed:
                return  # not declared yet: nothing relayed
            while (message := await queue.get(no_ack=True, fail=False, timeout=5)) is not None:
                self.messages.append((message.message_id, json.loads(message.body)))

    def event_ids(self) -> list[int]:
        return [body["event_id"] for _, body in self.messages]


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.1)


async def with_relay(config: settings.Settings, body: Callable[[], Awaitable[None]]) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(event_relay.run(config, stop))
    try:
        await body()
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=15)


def test_every_stored_event_is_published_once_in_order_with_its_id(
    fresh_postgres: str, queue_name: str
) -> None:
    store = store_on(fresh_postgres)
    stream = Stream(queue_name)
    senders = {"patient-a", "patient-b"}

    async def body() -> None:
        await save(store, conversation("patient-a", 3))
        await save(store, conversation("patient-b", 2))
        await eventually(lambda: _empty(fresh_postgres))
        await stream.take_all()

    asyncio.run(with_relay(relay_settings(fresh_postgres, queue_name), body))
    stored = stored_events(fresh_postgres, senders)
    assert len(stored) == 1 + 4 * 3 + 1 + 4 * 2
    assert stream.event_ids() == [event_id for event_id, _, _ in stored]
    pairs = zip(stream.messages, stored, strict=True)
    for (message_id, published), (event_id, sender, data) in pairs:
        # What Rasa's broker published, plus the stable id, also as the AMQP message id.
        assert published == {"sender_id": sender, **data, "event_id": event_id}
        assert message_id == str(event_id)
    assert [body["text"] for _, body in stream.messages if body["event"] == "user"] == [
        "hello 0", "hello 1", "hello 2", "hello 0", "hello 1"
    ]  # fmt: skip
    store.engine.dispose()


async def _empty(url: str) -> bool:
    return await asyncio.to_thread(outbox_size, url) == 0


def test_events_stored_while_rabbitmq_is_down_go_out_when_it_is_back(
    fresh_postgres: str, queue_name: str
) -> None:
    store = store_on(fresh_postgres)
    stream = Stream(queue_name)
    proxy = TcpProxy(*RABBITMQ).start()

    async def scenario() -> None:
        config = relay_settings(fresh_postgres, queue_name, proxy.port)

        async def body() -> None:
            await save(store, conversation("before", 1))
            await eventually(lambda: _empty(fresh_postgres))
            proxy.cut()
            # The assistant goes on storing while RabbitMQ is unreachable.
            await save(store, conversation("during", 2))
            await asyncio.sleep(2.0)
            assert await asyncio.to_thread(outbox_size, fresh_postgres) == 1 + 4 * 2
            await stream.take_all()
            assert {body["sender_id"] for _, body in stream.messages} == {"before"}
            proxy.restore()
            await eventually(lambda: _empty(fresh_postgres), timeout=30)
            await stream.take_all()

        await with_relay(config, body)

    try:
        asyncio.run(scenario())
    finally:
        proxy.stop()
    stored = stored_events(fresh_postgres, {"before", "during"})
    assert sorted(set(stream.event_ids())) == [event_id for event_id, _, _ in stored]
    assert len(stream.event_ids()) == len(stored), "an event was published twice"
    during = [body["event_id"] for _, body in stream.messages if body["sender_id"] == "during"]
    assert during == sorted(during), "the conversation's events came out of order"
    store.engine.dispose()


def test_a_relay_that_dies_before_clearing_the_outbox_publishes_again_with_the_same_id(
    fresh_postgres: str, queue_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = store_on(fresh_postgres)
    stream = Stream(queue_name)
    real_done = event_relay.Outbox.done
    failures = []

    def done_failing_once(self: event_relay.Outbox, outbox_ids: list[int]) -> None:
        if outbox_ids and not failures:
            failures.append(list(outbox_ids))
            raise sa.exc.OperationalError("DELETE", {}, ConnectionError("connection lost"))
        real_done(self, outbox_ids)

    monkeypatch.setattr(event_relay.Outbox, "done", done_failing_once)

    async def body() -> None:
        await save(store, conversation("patient", 1))
        await eventually(lambda: _empty(fresh_postgres))
        await stream.take_all()

    asyncio.run(with_relay(relay_settings(fresh_postgres, queue_name), body))
    stored = [event_id for event_id, _, _ in stored_events(fresh_postgres, {"patient"})]
    assert failures, "the failure was never injected"
    ids = stream.event_ids()
    assert sorted(set(ids)) == stored  # nothing lost
    repeats = [event_id for event_id in set(ids) if ids.count(event_id) > 1]
    assert repeats and set(repeats) <= set(stored)  # repeated, under the same id
    store.engine.dispose()


def test_events_of_a_conversation_erased_before_relaying_are_not_published(
    fresh_postgres: str, queue_name: str
) -> None:
    store = store_on(fresh_postgres)
    stream = Stream(queue_name)
    asyncio.run(save(store, conversation("erased", 1)))
    asyncio.run(save(store, conversation("kept", 1)))
    engine = sa.create_engine(fresh_postgres)
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM events WHERE sender_id = 'erased'"))
    engine.dispose()

    async def body() -> None:
        await eventually(lambda: _empty(fresh_postgres))
        await stream.take_all()

    asyncio.run(with_relay(relay_settings(fresh_postgres, queue_name), body))
    assert {body["sender_id"] for _, body in stream.messages} == {"kept"}
    assert len(stream.messages) == 5
    store.engine.dispose()


def test_a_second_relay_waits_while_one_runs(fresh_postgres: str, queue_name: str) -> None:
    store_on(fresh_postgres).engine.dispose()  # creates the tables and the outbox
    engine = sa.create_engine(fresh_postgres)
    first, second = event_relay.Outbox(engine), event_relay.Outbox(engine)
    try:
        assert first.claim()
        assert not second.claim()
        first.release()
        assert second.claim()
    finally:
        first.release()
        second.release()
        engine.dispose()


def test_the_outbox_needs_postgresql(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'c.db'}")
    assert event_relay.install_outbox(engine) is False
    engine.dispose()
    with pytest.raises(ValueError, match="PostgreSQL"):
        CachedSQLTrackerStore(
            domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "c.db"), event_outbox=True
        )


def test_events_are_not_dropped_when_the_queue_disappears(
    fresh_postgres: str, queue_name: str
) -> None:
    """Someone deletes the queue while the relay runs: RabbitMQ returns what no queue
    takes; the relay keeps those events, declares the queue again and delivers them."""
    import aio_pika

    store = store_on(fresh_postgres)
    stream = Stream(queue_name)

    async def delete_queue() -> None:
        connection = await aio_pika.connect(host=RABBITMQ[0], port=RABBITMQ[1])
        async with connection:
            channel = await connection.channel()
            await channel.queue_delete(queue_name)

    async def body() -> None:
        await save(store, conversation("first", 1))
        await eventually(lambda: _empty(fresh_postgres))
        await stream.take_all()
        await delete_queue()
        await save(store, conversation("second", 1))
        await eventually(lambda: _empty(fresh_postgres), timeout=30)
        await stream.take_all()

    asyncio.run(with_relay(relay_settings(fresh_postgres, queue_name), body))
    stored = [event_id for event_id, _, _ in stored_events(fresh_postgres, {"first", "second"})]
    assert sorted(set(stream.event_ids())) == stored
    store.engine.dispose()


def test_the_staff_console_counts_the_events_waiting_for_rabbitmq(
    fresh_postgres: str, tmp_path: Path
) -> None:
    from clinic_core import storage
    from staff.pages.backlog import backlog

    store = store_on(fresh_postgres)
    asyncio.run(save(store, conversation("waiting", 1)))  # no relay runs
    project = f"sqlite:///{tmp_path / 'clinic.db'}"
    storage.migrate(project)
    assert backlog(project, fresh_postgres).events_waiting == 5
    store.engine.dispose()
