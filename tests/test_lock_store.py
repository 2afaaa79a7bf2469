"""The production profile's lock store, against the real Redis on this machine.

Two store objects stand for two Rasa processes (each has its own connection).
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from rasa.utils.endpoints import EndpointConfig

from tests.support import require_redis

pytestmark = pytest.mark.integration

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


@pytest.fixture
def prefix() -> Iterator[str]:
    import redis

    require_redis(f"redis://{REDIS_HOST}:{REDIS_PORT}/1")
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=1, socket_timeout=5)
    name = f"locktest{uuid.uuid4().hex[:8]}"
    yield name
    for key in client.scan_iter(f"{name}:*"):
        client.delete(key)
    client.close()


def store(prefix: str):
    from serving.lock_store import AtomicRedisLockStore

    config = EndpointConfig(url=REDIS_HOST, port=REDIS_PORT, db=1, password="", key_prefix=prefix)
    return AtomicRedisLockStore(config)


def test_tickets_drawn_at_once_by_two_processes_are_all_different(prefix: str) -> None:
    first, second = store(prefix), store(prefix)
    with ThreadPoolExecutor(max_workers=16) as pool:
        tickets = list(
            pool.map(lambda n: (first if n % 2 else second).issue_ticket("c1", 30), range(200))
        )
    assert sorted(tickets) == list(range(200))
    assert len(first.get_lock("c1").tickets) == 200


def test_finishing_never_deletes_a_ticket_another_process_just_drew(prefix: str) -> None:
    first, second = store(prefix), store(prefix)
    mine = first.issue_ticket("c2", 30)
    theirs = second.issue_ticket("c2", 30)
    first.cleanup("c2", mine)
    lock = second.get_lock("c2")
    assert lock is not None and [ticket.number for ticket in lock.tickets] == [theirs]
    assert not lock.is_locked(theirs)
    second.cleanup("c2", theirs)
    assert second.get_lock("c2") is None


def test_one_conversation_is_served_by_one_process_at_a_time(prefix: str) -> None:
    """40 turns from two processes: never two inside the lock, none lost."""
    inside: list[int] = [0]
    most_inside: list[int] = [0]
    turns: list[str] = []
    guard = threading.Lock()

    async def turn(lock_store, name: str) -> None:
        async with lock_store.lock("c3", lock_lifetime=30, wait_time_in_seconds=0.005):
            with guard:
                inside[0] += 1
                most_inside[0] = max(most_inside[0], inside[0])
            await asyncio.sleep(0.002)
            turns.append(name)
            with guard:
                inside[0] -= 1

    def process(name: str) -> None:
        lock_store = store(prefix)

        async def all_turns() -> None:
            await asyncio.gather(*(turn(lock_store, f"{name}{n}") for n in range(20)))

        asyncio.run(all_turns())

    threads = [threading.Thread(target=process, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert most_inside[0] == 1
    assert sorted(turns) == sorted([f"a{n}" for n in range(20)] + [f"b{n}" for n in range(20)])
    assert store(prefix).get_lock("c3") is None


def test_numbered_options_are_shared_by_every_process(prefix: str) -> None:
    """An SMS "2" may reach another Rasa process than the one that offered the options."""
    from channels.buttons import Option, RedisOfferedOptions

    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/1"
    offering, answering = RedisOfferedOptions(url, prefix), RedisOfferedOptions(url, prefix)
    options = [Option("Book an appointment", "/book"), Option("Talk to a person", "/handoff")]
    offering.remember("+15550001111", options)
    assert answering.resolve("+15550001111", "2") == "/handoff"
    # Answered once: a later "2" (part of a date, say) reaches the assistant unchanged.
    assert answering.resolve("+15550001111", "2") == "2"
    offering.remember("+15550002222", options)
    offering.remember("+15550002222", [])
    assert answering.take("+15550002222") == []
