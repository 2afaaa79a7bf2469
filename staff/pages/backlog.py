"""What is waiting to leave the system, shown on the escalations page.

When the clinic's webhook or mail server is down, notifications wait in the
outbox and are retried (clinic_core/notifications.py); when RabbitMQ is
down, conversation events wait for the event relay (clinic_core/event_relay.py).
Nothing is lost either way, but staff should know: a waiting emergency
notification means nobody else at the clinic has seen it yet.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func

from clinic_core import event_relay, storage
from staff.conversations.store import TrackerDB, tracker_engine

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backlog:
    notifications_waiting: int
    oldest_waiting_since: datetime | None
    notifications_failed: int
    events_waiting: int | None  # None: no event stream (the default profile)

    @property
    def any(self) -> bool:
        return bool(self.notifications_waiting or self.notifications_failed or self.events_waiting)


def backlog(project_url: str, tracker: TrackerDB) -> Backlog:
    with storage.transaction(project_url) as db:
        waiting, oldest = (
            db.query(
                func.count(storage.OutboxMessage.id), func.min(storage.OutboxMessage.created_at)
            )
            .filter(storage.OutboxMessage.status == "pending", storage.OutboxMessage.attempts > 0)
            .one()
        )
        failed = (
            db.query(func.count(storage.OutboxMessage.id))
            .filter(storage.OutboxMessage.status == "failed")
            .scalar()
        )
    events = None
    try:
        events = event_relay.waiting_count(tracker_engine(tracker))
    except Exception:  # noqa: BLE001 - the queue page must still show
        logger.warning("Could not count the events waiting for RabbitMQ.", exc_info=True)
    return Backlog(int(waiting or 0), oldest, int(failed or 0), events)
