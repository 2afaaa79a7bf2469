"""How many messages a conversation and a client address may send per minute.

A script can send thousands of messages a minute, each costing a model run,
and could page the clinic over and over; a patient types a few.  The limits
(`RATE_LIMIT_PER_CONVERSATION` and `RATE_LIMIT_PER_ADDRESS` messages per
`RATE_LIMIT_WINDOW` seconds; 0 turns one off) are kept as a steady rate with
a burst allowance (GCRA, the "generic cell rate algorithm"): a conversation
may send 20 messages at once, then one more every 3 s (60 s / 20).  So the
wait asked of a patient is short (the time until the next message is
allowed, not the rest of a minute), and the outcome does not depend on
where a fixed window happens to start.  A refused message is not counted.

The state is one timestamp per key:

- in this process's memory in the default profile (one Rasa process);
- in Redis in production (one atomic script per message), so the limits
  hold across the Rasa processes nginx spreads a patient's messages over.
  If Redis fails, the process counts in memory meanwhile: a Redis outage
  neither blocks patients nor lifts the limits.

Keys are hashed: a conversation id can be a phone number, and nothing
personal goes to Redis or to the log.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from clinic_core import settings

logger = logging.getLogger(__name__)

# Keys remembered in memory before the idle ones are swept out.
_MEMORY_SWEEP_AT = 10_000


@dataclass(frozen=True)
class Limits:
    per_conversation: int  # messages per window (also the burst allowed); 0: no limit
    per_address: int
    window_s: float

    @classmethod
    def from_settings(cls, config: settings.Settings | None = None) -> Limits:
        config = config or settings.load()
        return cls(
            config.rate_limit_per_conversation,
            config.rate_limit_per_address,
            config.rate_limit_window,
        )


@dataclass(frozen=True)
class Rule:
    """One limit on one key: `interval` s per message, `window` s of burst allowance."""

    key: str
    interval: float
    window: float


def _key(kind: str, identity: str) -> str:
    digest = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:24]
    return f"{kind}:{digest}"


def _gcra(tats: list[float], rules: list[Rule], now: float) -> tuple[float, list[float]]:
    """(seconds to wait, 0 if allowed; the keys' next theoretical arrival times)."""
    wait, new_tats = 0.0, []
    for tat, rule in zip(tats, rules, strict=True):
        new_tat = max(tat, now) + rule.interval
        wait = max(wait, new_tat - now - rule.window)
        new_tats.append(new_tat)
    return wait, new_tats


class MemoryStore:
    """The keys' arrival times in this process."""

    def __init__(self) -> None:
        self._tats: dict[str, float] = {}

    async def take(self, rules: list[Rule], now: float) -> float:
        if len(self._tats) > _MEMORY_SWEEP_AT:
            self._tats = {key: tat for key, tat in self._tats.items() if tat > now}
        wait, new_tats = _gcra([self._tats.get(rule.key, now) for rule in rules], rules, now)
        if wait <= 0:
            self._tats.update((rule.key, tat) for rule, tat in zip(rules, new_tats, strict=True))
        return wait


# The same decision as _gcra, atomically in Redis.  Numbers go back as strings:
# Redis would truncate a Lua number to an integer.
_REDIS_SCRIPT = """
local now = tonumber(ARGV[1])
local wait = 0
local tats = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  tats[i] = tat + interval
  if tats[i] - now - window > wait then wait = tats[i] - now - window end
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[2 * i + 1])
  redis.call('SET', key, tostring(tats[i]), 'PX', math.ceil(window * 1000) + 1000)
end
return '0'
"""


class RedisStore:
    """The keys' arrival times in Redis, shared by every process."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis.asyncio

        self._redis = redis.asyncio.Redis.from_url(url, socket_timeout=2)
        self._script = self._redis.register_script(_REDIS_SCRIPT)
        self._prefix = f"{prefix}:ratelimit:"

    async def take(self, rules: list[Rule], now: float) -> float:
        keys = [self._prefix + rule.key for rule in rules]
        args: list[float] = [now]
        for rule in rules:
            args += [rule.interval, rule.window]
        return float(await self._script(keys=keys, args=args))


class RateLimiter:
    """Counts each message against its conversation and its address."""

    def __init__(
        self,
        limits: Limits,
        shared: RedisStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limits = limits
        self._shared = shared
        self._local = MemoryStore()
        self._clock = clock

    async def wait_needed(self, conversation: str | None, address: str | None) -> float | None:
        """Seconds to wait before this message would be accepted; None: accepted (and
        counted) now."""
        limits = self.limits
        rules = [
            Rule(_key(kind, identity), limits.window_s / limit, limits.window_s)
            for kind, identity, limit in (
                ("conversation", conversation, limits.per_conversation),
                ("address", address, limits.per_address),
            )
            if limit > 0 and identity
        ]
        if not rules:
            return None
        now = self._clock()
        wait = None
        if self._shared is not None:
            try:
                wait = await self._shared.take(rules, now)
            except Exception as error:  # noqa: BLE001 - Redis down: count here meanwhile
                logger.warning(
                    "Rate limits counted in memory: Redis failed (%s).", type(error).__name__
                )
        if wait is None:
            wait = await self._local.take(rules, now)
        return None if wait <= 0 else wait


_shared_limiter: RateLimiter | None = None


def shared() -> RateLimiter:
    """This process's limiter, made from the settings on first use."""
    global _shared_limiter
    if _shared_limiter is None:
        config = settings.load()
        redis = RedisStore(config.redis_url, config.redis_key_prefix) if config.redis_url else None
        _shared_limiter = RateLimiter(Limits.from_settings(config), redis)
    return _shared_limiter


def reset_shared() -> None:
    """Forget the shared limiter (tests that change the settings)."""
    global _shared_limiter
    _shared_limiter = None
