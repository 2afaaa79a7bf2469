"""Closed-loop load: concurrent conversations, latency percentiles, throughput,
and latency against conversation length.
"""

from __future__ import annotations

import asyncio
import math
import random
import statistics
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from scripts.bench.config import TURN_TIMEOUT_S, WEBHOOK
from scripts.bench.patients import Conversation


@dataclass
class TurnRecord:
    start: float
    end: float
    status: int  # 0: no HTTP reply (timeout, connection error)
    detail: str = ""


@dataclass
class LevelResult:
    concurrency: int
    seconds: float
    turns: int
    errors: int
    throughput: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    error_samples: list[str] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile; None for no data."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Endpoint:
    """Where a turn is posted and how: a REST conversation turn, or NLU alone."""

    path: str = WEBHOOK
    token: str | None = None  # Rasa's HTTP API token, for /model/parse

    def body(self, sender: str, message: str) -> dict[str, str]:
        if self.path == WEBHOOK:
            return {"sender": sender, "message": message}
        return {"text": message}

    def url(self, base: str) -> str:
        return base + self.path + (f"?token={self.token}" if self.token else "")

    def headers(self, sender: str) -> dict[str, str]:
        """What the widget sends with a turn: its conversation, for the proxy's stickiness."""
        return {"X-Conversation-Id": sender} if self.path == WEBHOOK else {}


TURN = Endpoint()


def parse_only(token: str | None) -> Endpoint:
    """NLU inference alone (`/model/parse`): the floor a full turn is compared to."""
    return Endpoint("/model/parse", token)


async def send_turn(
    session: Any, url: str, sender: str, message: str, endpoint: Endpoint = TURN
) -> TurnRecord:
    import aiohttp

    start = time.perf_counter()
    try:
        async with session.post(
            endpoint.url(url), json=endpoint.body(sender, message), headers=endpoint.headers(sender)
        ) as r:
            await r.read()
            status, detail = r.status, "" if r.status == 200 else f"HTTP {r.status}"
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        status, detail = 0, type(error).__name__
    return TurnRecord(start, time.perf_counter(), status, detail)


async def conversation_worker(
    session: Any,
    url: str,
    conversation: Conversation,
    rng: random.Random,
    end: float,
    turns: list[TurnRecord],
    endpoint: Endpoint = TURN,
    max_turns: int | None = None,
) -> None:
    """Closed loop: each reply is followed at once by the next message.

    Stops at `end` (a time) or once `turns` holds `max_turns` (a soak run).
    """
    while time.perf_counter() < end:
        sender = f"bench-{uuid.uuid4().hex[:12]}"
        for message in conversation(rng):
            if time.perf_counter() >= end or (max_turns is not None and len(turns) >= max_turns):
                return
            turns.append(await send_turn(session, url, sender, message, endpoint))


async def run_level(
    url: str,
    conversation: Conversation,
    concurrency: int,
    warmup_s: float,
    seconds: float,
    endpoint: Endpoint = TURN,
) -> LevelResult:
    """`concurrency` conversations for warm-up + `seconds`; only the latter is counted."""
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=TURN_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=0)
    turns: list[TurnRecord] = []
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        measure_from = time.perf_counter() + warmup_s
        end = measure_from + seconds
        workers = [
            conversation_worker(
                session,
                url,
                conversation,
                random.Random(1000 * concurrency + i),
                end,
                turns,
                endpoint,
            )
            for i in range(concurrency)
        ]
        await asyncio.gather(*workers)
    return summarise(turns, concurrency, measure_from, end)


async def soak(
    url: str, conversation: Conversation, concurrency: int, total_turns: int
) -> list[TurnRecord]:
    """`total_turns` turns over as many conversations as that takes, as fast as served."""
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=TURN_TIMEOUT_S)
    turns: list[TurnRecord] = []
    async with aiohttp.ClientSession(
        timeout=timeout, connector=aiohttp.TCPConnector(limit=0)
    ) as session:
        workers = [
            conversation_worker(
                session,
                url,
                conversation,
                random.Random(7000 + i),
                math.inf,
                turns,
                max_turns=total_turns,
            )
            for i in range(concurrency)
        ]
        await asyncio.gather(*workers)
    return turns


def summarise(turns: list[TurnRecord], concurrency: int, start: float, end: float) -> LevelResult:
    """Latency of the turns begun in the window; throughput: good replies received in it."""
    begun = [t for t in turns if start <= t.start < end]
    ok = [t for t in begun if t.status == 200]
    errors = [t for t in begun if t.status != 200]
    done = [t for t in turns if t.status == 200 and start <= t.end <= end]
    latencies = [1000 * (t.end - t.start) for t in ok]
    samples = sorted({t.detail for t in errors})[:5]
    return LevelResult(
        concurrency,
        end - start,
        len(begun),
        len(errors),
        len(done) / (end - start),
        percentile(latencies, 50),
        percentile(latencies, 95),
        percentile(latencies, 99),
        samples,
    )


async def long_conversation(url: str, messages: list[str], turns: int) -> list[float | None]:
    """Per-turn latency (ms) of one conversation of `turns` turns; None for a failed turn."""
    import aiohttp

    sender = f"bench-long-{uuid.uuid4().hex[:10]}"
    latencies: list[float | None] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TURN_TIMEOUT_S)) as s:
        for number in range(turns):
            turn = await send_turn(s, url, sender, messages[number % len(messages)])
            latencies.append(1000 * (turn.end - turn.start) if turn.status == 200 else None)
    return latencies


def length_summary(latencies: list[float | None]) -> dict[str, Any]:
    """Median of the first and last ten turns, and how much the latter grew."""
    first = [x for x in latencies[:10] if x is not None]
    last = [x for x in latencies[-10:] if x is not None]
    head = statistics.median(first) if first else None
    end = statistics.median(last) if last else None
    return {
        "turns": len(latencies),
        "latencies_ms": latencies,
        "failed_turns": sum(x is None for x in latencies),
        "median_first10_ms": head,
        "median_last10_ms": end,
        "growth": end / head if head and end else None,
    }
