"""A failing tracker store fails the turn (serving/strict_storage.py).

Rasa's FailSafeTrackerStore would answer a conversation whose database is down
as a new one and keep the turn in memory; the agent's store lets the error
through instead.  (The whole path, PostgreSQL cut off under the running
production profile, is in tests/test_production_profile.py.)
"""

from __future__ import annotations

import asyncio

import pytest
import rasa.core.agent
from rasa.core.tracker_store import InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker

from serving import patches, strict_storage

DOMAIN = Domain.from_dict({"intents": ["greet"]})


class BrokenStore(InMemoryTrackerStore):
    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        raise ConnectionError("the database is down")

    async def retrieve_full_tracker(self, sender_id: str) -> DialogueStateTracker | None:
        raise ConnectionError("the database is down")

    async def save(self, tracker: DialogueStateTracker) -> None:
        raise ConnectionError("the database is down")


def test_the_agents_store_lets_a_database_error_through() -> None:
    patches.install()
    store = rasa.core.agent.Agent._create_tracker_store(BrokenStore(DOMAIN), DOMAIN)
    assert isinstance(store, strict_storage.StrictTrackerStore)
    with pytest.raises(ConnectionError):
        asyncio.run(store.retrieve("p1"))
    with pytest.raises(ConnectionError):
        asyncio.run(store.retrieve_full_tracker("p1"))
    with pytest.raises(ConnectionError):
        asyncio.run(store.save(DialogueStateTracker("p1", DOMAIN.slots)))
    # Nothing went to an in-memory fall-back either.
    assert store._fallback_tracker_store is None


def test_without_the_patch_rasa_would_answer_from_nothing() -> None:
    """What the patch prevents (and how the test above could fail)."""
    store = rasa.core.agent.Agent._create_tracker_store(BrokenStore(DOMAIN), DOMAIN)
    assert not isinstance(store, strict_storage.StrictTrackerStore)
    assert asyncio.run(store.retrieve("p1")) is None
