"""No conversation is answered from nothing when its database fails.

Rasa wraps every tracker store in a FailSafeTrackerStore (rasa.core.agent).
When the database fails it reads the conversation as a new one (`retrieve`
returns None) and keeps the turn in the process's memory (`save` falls back
to an in-memory store).  During a PostgreSQL outage a patient would then get
answers without the context of the conversation (a form forgotten halfway),
and what they said would reach neither the record nor the event stream, nor
ever be written later.

This patch (installed by serving/patches.py) gives the agent a subclass
that lets the error through instead.  The turn fails as a whole; the
channel answers it itself (channels/failure_replies.py: the emergency
advice when the words read as an emergency, then "please try again in a
moment, or call the clinic"), and nothing is half-recorded.  When the
database is back (the tracker store checks its connections first), the
conversation goes on where it was.
"""

from __future__ import annotations

import rasa.core.agent
from rasa.core.tracker_store import FailSafeTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker

_original = rasa.core.agent.FailSafeTrackerStore


class StrictTrackerStore(FailSafeTrackerStore):
    """FailSafeTrackerStore without the fall-backs that hide a failing database."""

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        return await self._tracker_store.retrieve(sender_id)

    async def retrieve_full_tracker(self, sender_id: str) -> DialogueStateTracker | None:
        return await self._tracker_store.retrieve_full_tracker(sender_id)

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self._tracker_store.save(tracker)


def install() -> None:
    rasa.core.agent.FailSafeTrackerStore = StrictTrackerStore  # type: ignore[misc]


def uninstall() -> None:
    rasa.core.agent.FailSafeTrackerStore = _original  # type: ignore[misc]
