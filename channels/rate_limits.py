"""The channels' side of the rate limits (clinic_core/rate_limit.py).

Every channel asks `too_fast` before a message reaches Rasa.  A message over
a limit is never silently dropped: the REST channel answers 429 with
`Retry-After` (the widget tells the patient and sends the message again by
itself when the wait is over), and the messaging channels tell the patient
to wait through the platform (once per wait, so a flood does not become a
flood of paid SMS).

The messaging platforms all post from their own addresses, so on their
webhooks (whose signatures were checked) only the conversation is counted:
an address limit there would put every SMS patient in one bucket.

A message the deterministic triage rules read as an emergency is never held
back by its conversation's limit: it is processed as usual (advice first,
the clinic alerted).  Only the address limit of the REST channel can hold it
(someone paging the clinic with fake emergencies from many conversations);
then the emergency-services advice is still given at once, in the patient's
language.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from sanic.request import Request

from channels.failure_replies import emergency_advice
from clinic_core import rate_limit

logger = logging.getLogger(__name__)


def wait_reply(seconds: float) -> str:
    return (
        "You're sending messages faster than I can answer. Please wait "
        f"{math.ceil(seconds)} seconds, then send your message again."
    )


def client_address(request: Request) -> str:
    """The patient's address: the peer, or what nginx on loopback says it saw.

    Only a proxy on this machine is believed (`X-Real-IP`, which nginx
    overwrites); anyone else could send the header to dodge the limit.  An
    IPv6 address counts as its /64 network, which one client usually holds
    whole.
    """
    peer = request.ip or ""
    forwarded = request.headers.get("X-Real-IP", "").strip()
    try:
        from_loopback = ipaddress.ip_address(peer).is_loopback
    except ValueError:
        from_loopback = False
    address = forwarded if from_loopback and forwarded else peer
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6 and not parsed.is_loopback:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return address


@dataclass(frozen=True)
class TooFast:
    wait_s: float
    emergency_advice: str | None  # said even over the limit

    @property
    def retry_after(self) -> int:
        return math.ceil(self.wait_s)


async def too_fast(
    request: Request, conversation: str, text: Any, *, by_address: bool = True
) -> TooFast | None:
    """None when the message may go on; else how long to wait and what to say now.

    `by_address=False` for the messaging platforms' signed webhooks.
    """
    address = client_address(request) if by_address else None
    limiter = rate_limit.shared()
    try:
        wait = await limiter.wait_needed(conversation, address)
        if wait is None:
            return None
        # Refused (and not counted). The words are read only now, so that an
        # ordinary message costs no triage here: an emergency is never held back
        # by its own conversation's limit, only by the address's.
        advice = emergency_advice(request, text) if isinstance(text, str) and text else None
        if advice:
            wait = await limiter.wait_needed(None, address)
            if wait is None:
                return None
    except Exception:  # noqa: BLE001 - a broken limiter must not silence patients
        logger.exception("The rate limiter failed; message let through.")
        return None
    return TooFast(wait, advice)


class WaitNotices:
    """When each conversation was last told to wait, so it is told once per wait."""

    def __init__(self, size: int = 10_000) -> None:
        self._until: dict[str, float] = {}
        self._size = size

    def first(self, conversation: str, wait_s: float) -> bool:
        now = time.monotonic()
        if self._until.get(conversation, 0.0) > now:
            return False
        if len(self._until) >= self._size:
            self._until = {key: until for key, until in self._until.items() if until > now}
        self._until[conversation] = now + wait_s
        return True

    def clear(self) -> None:
        """Forget every notice (a test's fresh start)."""
        self._until.clear()


wait_notices = WaitNotices()
