"""Checks every channel applies to a patient's message before Rasa sees it.

Kept apart from any one connector so that the website widget and every
messaging channel treat bad input the same way.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml

from clinic_core import clarify, settings

# Control characters carry no meaning for the assistant and upset logs and
# storage; newlines and tabs are kept.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
SENDER_ID = re.compile(r"^[A-Za-z0-9_.:@+\-]{1,128}$")

TOO_LONG_REPLY = (
    "Sorry, that message is too long for me ({length:,} characters; the limit is "
    "{limit:,}). Could you ask your question in a few sentences?"
)
NOT_TEXT_REPLY = "Sorry, I can only read text messages. Could you type your question?"


# Rasa reads a message that starts with "/" as an intent, with optional
# entities ('/intent{"slot": "value"}'), and skips the NLU and every guard.
# A patient's channel may send only the commands the assistant itself offers
# as buttons; anything else loses its slash and is read as the words it is.
# Otherwise anyone could type "/report_symptom" or a forged form answer and
# drive the dialogue (e.g. page the clinic with a fake emergency).
COMMAND_PREFIX = "/"
LEADING_SLASHES = re.compile(r"^[\s/]+")
# What the website widget sends when a chat opens (widget/clinic-chat.js).
GREETING_COMMAND = "/greet"


@lru_cache(maxsize=1)
def offered_commands() -> frozenset[str]:
    """Every "/intent" the assistant offers as a button: the domain's responses,
    the "Did you mean" choices, and the widget's opening greeting."""
    domain = yaml.safe_load((settings.PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    payloads = {GREETING_COMMAND, clarify.SOMETHING_ELSE["payload"]}
    payloads.update(payload for _title, payload in clarify.TOPICS.values())
    for variations in (domain.get("responses") or {}).values():
        for variation in variations or []:
            for button in (variation or {}).get("buttons") or []:
                payloads.add(str(button.get("payload", "")))
    return frozenset(p for p in payloads if p.startswith(COMMAND_PREFIX))


def without_forged_command(text: str) -> str:
    """The text, unless it is an intent command the assistant never offered:
    then the same words without the leading slash(es)."""
    stripped = text.strip()
    if not stripped.startswith(COMMAND_PREFIX) or stripped in offered_commands():
        return text
    # Every leading slash and space: "/ /intent" must not become "/intent".
    return LEADING_SLASHES.sub("", stripped)


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
    return CheckedMessage(text=without_forged_command(text))


def valid_sender_id(sender: Any) -> bool:
    """A conversation id we can store and show safely."""
    return isinstance(sender, str) and bool(SENDER_ID.match(sender))


def load_json(body: bytes) -> Any:
    """A webhook's JSON; ValueError for anything else (bad UTF-8, or nesting so deep
    that the parser runs out of stack, which it reports as RecursionError)."""
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
