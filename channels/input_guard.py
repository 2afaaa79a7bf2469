"""Checks every channel applies to a patient's message before Rasa sees it.

Kept apart from any one connector so that the website widget and every
messaging channel treat bad input the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from clinic_core import settings

# Control characters carry no meaning for the assistant and upset logs and
# storage; newlines and tabs are kept.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
SENDER_ID = re.compile(r"^[A-Za-z0-9_.:@+\-]{1,128}$")

TOO_LONG_REPLY = (
    "Sorry, that message is too long for me ({length:,} characters; the limit is "
    "{limit:,}). Could you ask your question in a few sentences?"
)
NOT_TEXT_REPLY = "Sorry, I can only read text messages. Could you type your question?"


def max_message_chars() -> int:
    """`MAX_MESSAGE_CHARS` (default 2,000): longer messages are not processed."""
    return settings.load().max_message_chars


@dataclass(frozen=True)
class CheckedMessage:
    """Either `text` to hand to Rasa, or a `reply` to send back instead."""

    text: str = ""
    reply: str | None = None


def check_message(raw: Any) -> CheckedMessage:
    """Clean a message, or say politely why it cannot be processed."""
    if raw is None:
        return CheckedMessage(text="")
    if not isinstance(raw, str):
        return CheckedMessage(reply=NOT_TEXT_REPLY)
    text = CONTROL_CHARACTERS.sub("", raw)
    limit = max_message_chars()
    if len(text) > limit:
        return CheckedMessage(reply=TOO_LONG_REPLY.format(length=len(text), limit=limit))
    return CheckedMessage(text=text)


def valid_sender_id(sender: Any) -> bool:
    """A conversation id we can store and show safely."""
    return isinstance(sender, str) and bool(SENDER_ID.match(sender))
