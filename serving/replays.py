"""A message the client sent before is answered from the store, never processed twice.

A client that got no answer (a dropped connection, a Rasa process killed
mid-turn behind nginx) sends the same message again with the same
`message_id`; so may a client that never got the first answer in time.  If
the two attempts overlap, or the resend carries no flag, Rasa would process
the words twice: two user turns, and possibly two bookings or escalations.

Rasa already runs each conversation's turns one at a time under its lock
(`Agent.handle_message` holds `lock_store.lock(sender_id)`: in-process in the
default profile, Redis across processes in production).  This patch decides
under that lock: before processing a message whose id the client chose
(`metadata["client_message_id"]`, set by the REST channel), it looks in the
stored conversation; if that id is there, the message was processed, and the
replies it got then are the answer.  If the first attempt died before its
turn was stored, nothing is there and the message is processed, once.

It holds as long as the first attempt holds the lock: the whole turn in the
default profile, and at most TICKET_LOCK_LIFETIME seconds (default 20) in
production, after which Redis lets another process take the conversation.
An id reused for different words is another message and is processed.

Installed by serving/patches.py (which checks the Rasa release).
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.core.events import BotUttered, UserUttered

from serving.tracker_store import read_only_tracker

logger = logging.getLogger(__name__)

CLIENT_ID_KEY = "client_message_id"
# What a bot event's data may carry to the REST client, as Rasa sends it.
REPLY_FIELDS = ("image", "buttons", "attachment", "custom")

_original_handle_message = MessageProcessor.handle_message


def replies_after(events: list[Any], sender: str, message_id: str) -> list[dict] | None:
    """The replies the assistant gave to the message `message_id`; None if it was never filed."""
    replies: list[dict] | None = None
    for event in events:
        if isinstance(event, UserUttered):
            if replies is not None:
                break
            if event.message_id == message_id:
                replies = []
        elif replies is not None and isinstance(event, BotUttered):
            reply: dict[str, Any] = {"recipient_id": sender}
            if event.text is not None:
                reply["text"] = event.text
            data = event.data or {}
            reply.update({key: data[key] for key in REPLY_FIELDS if data.get(key) is not None})
            replies.append(reply)
    return replies


async def handle_message_at_most_once(
    self: MessageProcessor, message: UserMessage
) -> list[dict[str, Any]] | None:
    if (message.metadata or {}).get(CLIENT_ID_KEY) and message.message_id:
        tracker = await read_only_tracker(self.tracker_store, message.sender_id)
        if tracker is not None:
            events = list(tracker.events)
            earlier = replies_after(events, message.sender_id, message.message_id)
            if earlier is not None and same_text(events, message):
                if isinstance(message.output_channel, CollectingOutputChannel):
                    message.output_channel.messages.extend(earlier)
                return earlier
    return await _original_handle_message(self, message)


def same_text(events: list[Any], message: UserMessage) -> bool:
    """An id reused for other words is another message: it is processed (and triaged)."""
    for event in events:
        if isinstance(event, UserUttered) and event.message_id == message.message_id:
            if (event.text or "") == (message.text or ""):
                return True
            logger.warning("A message id was reused for another message; processing it.")
            return False
    return False


def install() -> None:
    MessageProcessor.handle_message = handle_message_at_most_once  # type: ignore[method-assign]


def uninstall() -> None:
    MessageProcessor.handle_message = _original_handle_message  # type: ignore[method-assign]
