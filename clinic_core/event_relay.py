"""Every stored conversation event reaches RabbitMQ: a relay from an outbox in PostgreSQL.

Rasa's Pika event broker publishes from background tasks of each Rasa
process: a process that is killed loses the events of its last seconds, and
an event is dropped silently when the exchange is not ready.  The
production profile therefore publishes from what is stored instead:

- a trigger on Rasa's `events` table adds each new event's row id to
  `event_outbox` in the very transaction that stores the event
  (`install_outbox`, run by the tracker store when it creates its tables), so
  an event is waiting in the outbox exactly when it is stored;
- this relay (one process: `python -m clinic_core.event_relay`) publishes the
  waiting events in order to the same fanout exchange and queue Rasa's broker
  used, with publisher confirms, and deletes outbox rows only once RabbitMQ has
  confirmed them.

Delivery is at least once: a relay killed between RabbitMQ's confirm and the
delete publishes those events again when it restarts.  Every message carries
a stable id, the event's row id (`event_id` in the body and the AMQP message
id), so a consumer drops repeats.  While RabbitMQ is down, events wait in the
outbox and go out in order when it is back; the assistant never waits for
RabbitMQ.  Events of a conversation erased before the relay read them are
never published (their outbox rows are dropped; an erasure that commits while
the relay is publishing the batch holding them comes too late for those).  A
PostgreSQL advisory lock keeps a second relay idle while one runs, so the
order of the stream is the order of the outbox.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from clinic_core import settings, storage

logger = logging.getLogger(__name__)

OUTBOX_TABLE = "event_outbox"
# Two arbitrary numbers naming this project's advisory locks.
_INSTALL_LOCK = 0x0C11_1C01
_RELAY_LOCK = 0x0C11_1C02
BATCH = 200
IDLE_POLL_S = 0.25
RETRY_MAX_S = 10.0

# One transaction: the advisory lock keeps two Rasa processes starting at once
# from changing the catalogue concurrently (PostgreSQL refuses that).
_INSTALL_STATEMENTS = (
    f"SELECT pg_advisory_xact_lock({_INSTALL_LOCK})",
    f"CREATE TABLE IF NOT EXISTS {OUTBOX_TABLE} "
    "(id BIGSERIAL PRIMARY KEY, event_id BIGINT NOT NULL)",
    "CREATE OR REPLACE FUNCTION clinic_event_to_outbox() RETURNS trigger "
    f"LANGUAGE plpgsql AS $$ BEGIN INSERT INTO {OUTBOX_TABLE} (event_id) VALUES (NEW.id); "
    "RETURN NEW; END $$",
    "CREATE OR REPLACE TRIGGER clinic_event_outbox AFTER INSERT ON events "
    "FOR EACH ROW EXECUTE FUNCTION clinic_event_to_outbox()",
)

_WAITING = sa.text(
    f"SELECT o.id, o.event_id, e.sender_id, e.data FROM {OUTBOX_TABLE} o "
    "LEFT JOIN events e ON e.id = o.event_id ORDER BY o.id LIMIT :limit"
)
_DELETE = sa.text(f"DELETE FROM {OUTBOX_TABLE} WHERE id = ANY(:ids)")
_COUNT = sa.text(f"SELECT count(*) FROM {OUTBOX_TABLE}")


def install_outbox(engine: Engine) -> bool:
    """Create the outbox and the trigger that fills it (PostgreSQL only; idempotent).

    Returns False, changing nothing, for any other database: the default
    profile (SQLite) has no event stream.
    """
    if engine.dialect.name != "postgresql":
        return False
    with engine.begin() as connection:
        for statement in _INSTALL_STATEMENTS:
            connection.execute(sa.text(statement))
    return True


def waiting_count(engine: Engine) -> int | None:
    """Events stored but not yet confirmed by RabbitMQ (None when there is no outbox)."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table(OUTBOX_TABLE):
            return None
        return int(connection.execute(_COUNT).scalar_one())


@dataclass(frozen=True)
class WaitingEvent:
    outbox_id: int
    event_id: int
    sender_id: str | None  # None: the event was erased since
    data: str | None

    def body(self) -> bytes:
        """What Rasa's broker published for the event, plus its stable id."""
        event = json.loads(self.data or "{}")
        body = {"sender_id": self.sender_id, **event, "event_id": self.event_id}
        return json.dumps(body).encode()


class Outbox:
    """The relay's side of the outbox: one connection that holds the relay lock."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._connection: Connection | None = None
        self._has_table = False  # checked until Rasa has made its tables

    def claim(self) -> bool:
        """Take the relay lock (False: another relay holds it)."""
        self.release()
        connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        if connection.execute(sa.text(f"SELECT pg_try_advisory_lock({_RELAY_LOCK})")).scalar():
            self._connection = connection
            return True
        connection.close()
        return False

    def waiting(self, limit: int = BATCH) -> list[WaitingEvent]:
        """The oldest waiting events, in the order they were stored ([] before Rasa made
        its tables)."""
        assert self._connection is not None, "claim() first"
        if not self._has_table:
            self._has_table = sa.inspect(self._connection).has_table(OUTBOX_TABLE)
            if not self._has_table:
                return []
        rows = self._connection.execute(_WAITING, {"limit": limit}).all()
        return [WaitingEvent(*row) for row in rows]

    def done(self, outbox_ids: Sequence[int]) -> None:
        assert self._connection is not None, "claim() first"
        if outbox_ids:
            self._connection.execute(_DELETE, {"ids": list(outbox_ids)})

    def release(self, unlock: bool = True) -> None:
        """Give the relay lock back, at once.

        The lock is unlocked explicitly before the connection closes: a
        closed connection's lock is only freed when the server process of
        its session has ended, a moment later, so another relay claiming
        right after could still find it held (seen on a busy machine).
        `unlock=False` after a database error: a dead connection could make
        the unlock wait for the network timeout, and its session's end frees
        the lock anyway.
        """
        if self._connection is not None:
            if unlock and not self._connection.invalidated:
                with contextlib.suppress(Exception):
                    self._connection.execute(sa.text(f"SELECT pg_advisory_unlock({_RELAY_LOCK})"))
            try:
                # Closed for real, not returned to the pool: a pooled session
                # would keep any lock the unlock above could not release.
                self._connection.invalidate()
                self._connection.close()
            except Exception:  # noqa: BLE001 - a broken connection holds nothing
                pass
            self._connection = None


class Publisher:
    """A confirmed channel to the exchange, with the configured queue bound to it."""

    def __init__(self, config: settings.Settings) -> None:
        self._config = config
        self._connection: Any = None
        self._exchange: Any = None

    async def open(self) -> None:
        import aio_pika

        config = self._config
        self._connection = await aio_pika.connect(
            host=config.rabbitmq_host,
            port=config.rabbitmq_port,
            login=config.rabbitmq_user,
            password=config.rabbitmq_password.get_secret_value(),
            timeout=10,
        )
        # A message no queue takes (the queue deleted or unbound meanwhile) is returned
        # by RabbitMQ: raise, so that it stays in the outbox, instead of counting it
        # as published.
        channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
        # Rasa's Pika broker declares "rasa-exchange" (the default); consumers
        # bind their queues to it.
        self._exchange = await channel.declare_exchange(
            config.rabbitmq_exchange, aio_pika.ExchangeType.FANOUT, durable=True
        )
        queue = await channel.declare_queue(config.rabbitmq_queue, durable=True)
        await queue.bind(self._exchange, "")

    async def publish(self, event: WaitingEvent) -> None:
        """Returns once RabbitMQ has confirmed the message (raises otherwise)."""
        import aio_pika

        message = aio_pika.Message(
            event.body(),
            message_id=str(event.event_id),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        await self._exchange.publish(message, routing_key="", timeout=10)

    @property
    def is_open(self) -> bool:
        return self._connection is not None and not self._connection.is_closed

    async def close(self) -> None:
        connection, self._connection, self._exchange = self._connection, None, None
        if connection is not None and not connection.is_closed:
            with contextlib.suppress(Exception):  # closing a broken connection
                await connection.close()


async def relay_once(outbox: Outbox, publisher: Publisher) -> int:
    """Publish one batch of waiting events; return how many left the outbox."""
    waiting = await asyncio.to_thread(outbox.waiting)
    published: list[int] = []
    try:
        for event in waiting:
            if event.sender_id is not None:
                await publisher.publish(event)
            published.append(event.outbox_id)
    finally:
        # What RabbitMQ confirmed leaves the outbox even if a later publish failed.
        await asyncio.to_thread(outbox.done, published)
    return len(published)


def tracker_engine(config: settings.Settings) -> Engine:
    """An engine on the tracker store's database, in Rasa's schema when one is set."""
    url = str(config.tracker_store_url)
    return sa.create_engine(url, **storage.tracker_store_options(url))


async def run(config: settings.Settings, stop: asyncio.Event) -> None:
    """Relay until `stop` is set, riding out PostgreSQL and RabbitMQ outages."""
    engine = tracker_engine(config)
    outbox, publisher = Outbox(engine), Publisher(config)
    delay = 0.5
    holding = False
    try:
        while not stop.is_set():
            try:
                if not holding:
                    holding = await asyncio.to_thread(outbox.claim)
                    if not holding:
                        await _sleep(stop, 2.0)  # another relay runs
                        continue
                    logger.info("Relaying stored events to RabbitMQ.")
                if not publisher.is_open:
                    await publisher.open()
                relayed = await relay_once(outbox, publisher)
                delay = 0.5
                if relayed == 0:
                    await _sleep(stop, IDLE_POLL_S)
            except Exception as error:  # noqa: BLE001 - any outage: wait and try again
                logger.warning(
                    "Event relay paused (%s); retrying in %.1f s.", type(error).__name__, delay
                )
                await publisher.close()
                database_error = isinstance(error, sa.exc.SQLAlchemyError)
                await asyncio.to_thread(outbox.release, not database_error)
                holding = False
                await _sleep(stop, delay)
                delay = min(RETRY_MAX_S, delay * 2)
    finally:
        await publisher.close()
        await asyncio.to_thread(outbox.release)
        engine.dispose()


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["run", "show"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    config = settings.load()
    if args.command == "show":
        engine = tracker_engine(config)
        try:
            count = waiting_count(engine)
        finally:
            engine.dispose()
        print("no event outbox" if count is None else f"events waiting for RabbitMQ: {count}")
        return 0

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        print("Event relay running.", flush=True)
        await run(config, stop)

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
