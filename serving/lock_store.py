"""A Redis lock store whose ticket updates are atomic across processes.

Rasa's RedisLockStore changes a conversation's lock by reading it, changing
it in the process and writing it back.  Two Rasa processes that take a
message for the same conversation at the same moment can therefore both draw
the same ticket, or one can overwrite (or delete) the ticket the other just
drew: both then process the conversation at once, and one of them loses the
other's events, or the message fails with a LockError.  Here every change is
a Redis transaction on the lock's key (WATCH/MULTI/EXEC, retried when another
process changed the key in between), so tickets are unique and served in
order whichever process drew them.

Configured in endpoints.production.yml as
`type: serving.lock_store.AtomicRedisLockStore`, with the same settings as
Rasa's `type: redis`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

Change = Callable[[TicketLock | None], TicketLock | None]


class AtomicRedisLockStore(RedisLockStore):
    def __init__(self, endpoint_config: EndpointConfig) -> None:
        super().__init__(host=endpoint_config.url or "localhost", **endpoint_config.kwargs)

    def _change(self, conversation_id: str, change: Change) -> TicketLock | None:
        """Apply `change` to the stored lock atomically; None from it deletes the lock."""
        key = self.key_prefix + conversation_id
        while True:
            with self.red.pipeline() as pipe:
                try:
                    pipe.watch(key)
                    stored = pipe.get(key)
                    lock = TicketLock.from_dict(json.loads(stored)) if stored else None
                    changed = change(lock)
                    pipe.multi()
                    if changed is None:
                        pipe.delete(key)
                    else:
                        pipe.set(key, changed.dumps())
                    pipe.execute()
                    return changed
                except redis.WatchError:
                    continue  # another process changed this lock first: redo

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        issued: dict[str, Any] = {}

        def draw(lock: TicketLock | None) -> TicketLock:
            lock = lock or self.create_lock(conversation_id)
            issued["ticket"] = lock.issue_ticket(lock_lifetime)
            return lock

        self._change(conversation_id, draw)
        return issued["ticket"]

    def update_lock(self, conversation_id: str) -> None:
        def drop_expired(lock: TicketLock | None) -> TicketLock | None:
            if lock is not None:
                lock.remove_expired_tickets()
            return lock

        self._change(conversation_id, drop_expired)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        def finish(lock: TicketLock | None) -> TicketLock | None:
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
            return lock

        self._change(conversation_id, finish)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        # Finishing and deleting happen in one step, so a ticket drawn by
        # another process in between is never deleted with the lock.
        def finish_and_delete_if_unused(lock: TicketLock | None) -> TicketLock | None:
            if lock is None:
                return None
            lock.remove_ticket_for(ticket_number)
            return lock if lock.is_someone_waiting() else None

        self._change(conversation_id, finish_and_delete_if_unused)
