"""Buttons for channels that cannot show them, and the way back from a number.

SMS has no buttons, and Messenger and Telegram refuse button sets they cannot
show (too many, or payloads too long).  There the assistant's buttons become
numbered lines ("Reply 1 for Book an appointment"), and a patient who answers
"1" must reach the same place as one who tapped the button: the options
offered to each sender are remembered until that sender's next message.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from clinic_core import settings

# "1", " 2 ", "3." or "4)": what people type when asked to reply with a number.
NUMBER_REPLY = re.compile(r"^\s*(\d{1,3})\s*[.)]?\s*$")
DEFAULT_MAX_SENDERS = 10_000
# Options nobody answered within a day are not an answer any more.
OPTIONS_TTL_S = 24 * 3600


@dataclass(frozen=True)
class Option:
    """A button that sends a payload back when chosen."""

    title: str
    payload: str


def options_from(buttons: Iterable[Any]) -> list[Option]:
    """The buttons that carry a payload; link buttons and junk are left out."""
    options = []
    for button in buttons:
        if not isinstance(button, dict):
            continue
        title, payload = button.get("title"), button.get("payload")
        if isinstance(title, str) and isinstance(payload, str) and payload:
            options.append(Option(title, payload))
    return options


def all_have_payloads(buttons: list[Any]) -> bool:
    """True when every button can be turned into a choice (no link buttons)."""
    return bool(buttons) and len(options_from(buttons)) == len(buttons)


def numbered_text(text: str, buttons: list[Any]) -> tuple[str, list[Option]]:
    """The message with one "Reply N for <title>" line per button.

    Returns the text to send and the numbered options, in the order shown,
    so the caller can remember them for the sender.  Link buttons are shown
    as "<title>: <url>" after the options, without a number.
    """
    options = options_from(buttons)
    lines = [f"Reply {number} for {option.title}" for number, option in enumerate(options, 1)]
    lines += [
        f"{button.get('title', 'Link')}: {button['url']}"
        for button in buttons
        if isinstance(button, dict) and isinstance(button.get("url"), str)
    ]
    if not lines:
        return text, options
    return (f"{text}\n\n" if text else "") + "\n".join(lines), options


def chosen_payload(reply: str, options: list[Option]) -> str | None:
    """The payload of the option a numeric reply picks, or None if it picks none."""
    match = NUMBER_REPLY.match(reply)
    if not match or not options:
        return None
    number = int(match.group(1))
    return options[number - 1].payload if 1 <= number <= len(options) else None


class OfferedOptions:
    """The numbered options last offered to each sender, in this process only.

    `take` forgets a sender's options, so a number is only translated when it
    answers the bot's latest message: a "3" typed much later (a phone number
    digit, a date) reaches the assistant unchanged.  The oldest senders are
    dropped beyond `max_senders` so memory stays bounded.
    """

    def __init__(self, max_senders: int = DEFAULT_MAX_SENDERS) -> None:
        self._options: OrderedDict[str, list[Option]] = OrderedDict()
        self._max_senders = max_senders

    def remember(self, sender_id: str, options: list[Option]) -> None:
        """Keep the options just shown to a sender (replacing earlier ones)."""
        self._options.pop(sender_id, None)
        if not options:
            return
        self._options[sender_id] = list(options)
        while len(self._options) > self._max_senders:
            self._options.popitem(last=False)

    def take(self, sender_id: str) -> list[Option]:
        """The sender's pending options, forgotten from now on."""
        return self._options.pop(sender_id, [])

    def resolve(self, sender_id: str, text: str) -> str:
        """The text to hand to Rasa: a chosen option's payload, or the text itself."""
        return chosen_payload(text, self.take(sender_id)) or text

    # For async handlers.  In this process nothing blocks; the Redis memory
    # below runs the same calls on a worker thread instead.
    async def remember_async(self, sender_id: str, options: list[Option]) -> None:
        self.remember(sender_id, options)

    async def take_async(self, sender_id: str) -> list[Option]:
        return self.take(sender_id)

    async def resolve_async(self, sender_id: str, text: str) -> str:
        return self.resolve(sender_id, text)


class RedisOfferedOptions(OfferedOptions):
    """The same memory in Redis, shared by every Rasa process of the production profile.

    Behind a load balancer the "1" may reach another process than the one
    that offered the options; Redis also keeps them across a restart.
    """

    def __init__(self, url: str, key_prefix: str = "clinic") -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=5)
        self._prefix = f"{key_prefix}:offered:"

    def remember(self, sender_id: str, options: list[Option]) -> None:
        key = self._prefix + sender_id
        if not options:
            self._redis.delete(key)
            return
        value = json.dumps([[option.title, option.payload] for option in options])
        self._redis.set(key, value, ex=OPTIONS_TTL_S)

    def take(self, sender_id: str) -> list[Option]:
        value = self._redis.getdel(self._prefix + sender_id)
        if not value:
            return []
        return [Option(title, payload) for title, payload in json.loads(value)]

    async def remember_async(self, sender_id: str, options: list[Option]) -> None:
        await asyncio.to_thread(self.remember, sender_id, options)

    async def take_async(self, sender_id: str) -> list[Option]:
        return await asyncio.to_thread(self.take, sender_id)

    async def resolve_async(self, sender_id: str, text: str) -> str:
        return await asyncio.to_thread(self.resolve, sender_id, text)


def offered_options() -> OfferedOptions:
    """Redis-backed when `REDIS_URL` is set (production profile), else in this process."""
    config = settings.load()
    if config.redis_url:
        return RedisOfferedOptions(config.redis_url, config.redis_key_prefix)
    return OfferedOptions()
