"""Rate limits per conversation and per client address (clinic_core/rate_limit.py).

The counting itself (windows, Redis shared by processes, Redis down), then
the channels in a real Sanic server: the REST channel answers 429 with
Retry-After and says the emergency advice even over the limit; an SMS patient
over the limit is told to wait through Twilio, and nothing reaches Rasa.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from channels.rest import ClinicRestInput
from clinic_core.rate_limit import Limits, RateLimiter, RedisStore
from tests.support import TEST_CLINIC, require_redis
from tests.test_channels import (
    PlatformStub,
    post,
    post_twilio,
    serve,
    sms_form,
    stub,  # noqa: F401 - a fixture
    twilio_connector,
)

# The Sanic test-mode fixture of the channel tests, for this module too.
from tests.test_channels import sanic_test_mode  # noqa: F401 isort: skip


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def run(coroutine):  # noqa: ANN001, ANN201 - a test helper
    return asyncio.run(coroutine)


def test_a_conversation_may_burst_to_its_limit_then_one_message_per_interval() -> None:
    clock = Clock()
    limiter = RateLimiter(Limits(3, 0, 60.0), clock=clock)  # 3 at once, then one per 20 s
    assert [run(limiter.wait_needed("p1", "a")) for _ in range(3)] == [None] * 3
    assert run(limiter.wait_needed("p1", "a")) == pytest.approx(20.0)
    assert run(limiter.wait_needed("p2", "a")) is None  # another conversation
    clock.now += 5.0
    assert run(limiter.wait_needed("p1", "a")) == pytest.approx(15.0)  # refusals not counted
    clock.now += 15.0
    assert run(limiter.wait_needed("p1", "a")) is None
    assert run(limiter.wait_needed("p1", "a")) == pytest.approx(20.0)
    clock.now += 60.0  # a quiet minute: the whole burst again
    assert [run(limiter.wait_needed("p1", "a")) for _ in range(3)] == [None] * 3


def test_a_message_refused_by_one_limit_uses_up_neither() -> None:
    clock = Clock()
    limiter = RateLimiter(Limits(2, 3, 60.0), clock=clock)
    assert run(limiter.wait_needed("p1", "addr")) is None
    assert run(limiter.wait_needed("p1", "addr")) is None
    assert run(limiter.wait_needed("p1", "addr")) is not None  # the conversation's limit
    assert run(limiter.wait_needed("p2", "addr")) is None  # the address had room for it


def test_an_address_over_its_limit_waits_whatever_the_conversation() -> None:
    limiter = RateLimiter(Limits(0, 2, 60.0), clock=Clock())
    assert run(limiter.wait_needed("p1", "198.51.100.7")) is None
    assert run(limiter.wait_needed("p2", "198.51.100.7")) is None
    assert run(limiter.wait_needed("p3", "198.51.100.7")) is not None
    assert run(limiter.wait_needed("p3", "198.51.100.8")) is None


def test_zero_turns_a_limit_off() -> None:
    limiter = RateLimiter(Limits(0, 0, 60.0), clock=Clock())
    assert all(run(limiter.wait_needed("p1", "a")) is None for _ in range(500))


def redis_url() -> str:
    url = "redis://127.0.0.1:6379/1"
    require_redis(url)
    return url


def test_processes_share_the_count_through_redis() -> None:
    url, prefix = redis_url(), f"ratetest{uuid.uuid4().hex[:8]}"

    async def scenario() -> list[float | None]:
        first = RateLimiter(Limits(3, 0, 60.0), RedisStore(url, prefix), clock=Clock())
        second = RateLimiter(Limits(3, 0, 60.0), RedisStore(url, prefix), clock=Clock())
        return [
            await first.wait_needed("+15550001", None),
            await second.wait_needed("+15550001", None),
            await first.wait_needed("+15550001", None),
            await second.wait_needed("+15550001", None),
        ]

    assert run(scenario())[:3] == [None, None, None]
    assert run(scenario())[0] is not None  # still the same window, still counted
    import redis

    client = redis.Redis.from_url(url)
    keys = [key.decode() for key in client.scan_iter(f"{prefix}:*")]
    assert keys and not any("15550001" in key for key in keys), "a phone number in Redis"
    for key in keys:
        client.delete(key)


def test_with_redis_down_the_process_still_counts(caplog: pytest.LogCaptureFixture) -> None:
    down = RedisStore("redis://127.0.0.1:1/0", "down")
    limiter = RateLimiter(Limits(2, 0, 60.0), down, clock=Clock())

    async def scenario() -> list[float | None]:
        return [await limiter.wait_needed("+15550002", None) for _ in range(3)]

    assert run(scenario())[:2] == [None, None]
    assert run(scenario())[0] is not None
    assert "Redis failed" in caplog.text and "15550002" not in caplog.text


# --- the channels ------------------------------------------------------------------


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATE_LIMIT_PER_CONVERSATION", "3")
    monkeypatch.setenv("RATE_LIMIT_PER_ADDRESS", "5")
    monkeypatch.setenv("CLINIC_CONFIG", str(TEST_CLINIC))


def rest(served, sender: str, text: str, headers: dict[str, str] | None = None):  # noqa: ANN001, ANN201
    body = json.dumps({"sender": sender, "message": text}).encode()
    request_headers = {"Content-Type": "application/json", **(headers or {})}
    status, reply = post(served.webhook, body, request_headers)
    return status, json.loads(reply) if reply else None


def test_the_rest_channel_answers_429_with_retry_after_over_the_limit(limits: None) -> None:
    with serve(ClinicRestInput()) as served:
        answers = [rest(served, "web-1", f"question {n}") for n in range(4)]
    assert [status for status, _ in answers[:3]] == [200, 200, 200]
    status, body = answers[3]
    assert status == 429
    assert 1 <= body["retry_after"] <= 60
    assert "wait" in body["error"] and body["messages"] == []
    assert served.texts() == ["question 0", "question 1", "question 2"]  # not the fourth


def test_retry_after_is_a_header_too(limits: None) -> None:
    import urllib.error
    import urllib.request

    with serve(ClinicRestInput()) as served:
        for n in range(3):
            rest(served, "web-h", f"q{n}")
        request = urllib.request.Request(
            served.webhook,
            data=json.dumps({"sender": "web-h", "message": "q4"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with pytest.raises(urllib.error.HTTPError) as refused:
            opener.open(request, timeout=10)
    assert refused.value.code == 429
    assert 1 <= int(refused.value.headers["Retry-After"]) <= 60


def test_an_emergency_is_never_held_back_by_its_conversations_limit(limits: None) -> None:
    with serve(ClinicRestInput()) as served:
        for n in range(3):
            rest(served, "web-2", f"hello {n}")
        assert rest(served, "web-2", "hello again")[0] == 429
        status, _ = rest(served, "web-2", "I can't breathe and my throat is swelling")
    assert status == 200  # processed as usual: advice first, the clinic alerted
    assert served.texts()[-1] == "I can't breathe and my throat is swelling"


def test_over_the_address_limit_an_emergency_still_gets_the_advice_at_once(
    limits: None,
) -> None:
    with serve(ClinicRestInput()) as served:
        for n in range(5):
            rest(served, f"web-e{n}", "hi")
        status, body = rest(served, "web-e9", "I can't breathe and my throat is swelling")
    assert status == 429
    [advice] = body["messages"]
    assert "911" in advice["text"] and "emergency" in advice["text"]
    assert "{" not in advice["text"]


def test_the_address_limit_counts_every_conversation_of_one_client(limits: None) -> None:
    with serve(ClinicRestInput()) as served:
        statuses = [rest(served, f"web-a{n}", "hi")[0] for n in range(6)]
        # Behind nginx on loopback, the patient's address is what nginx saw.
        proxied = [
            rest(served, f"web-b{n}", "hi", {"X-Real-IP": "203.0.113.9"})[0] for n in range(2)
        ]
    assert statuses == [200] * 5 + [429]
    assert proxied == [200, 200]


def test_an_sms_patient_over_the_limit_is_told_to_wait_once_through_twilio(
    limits: None,
    stub: PlatformStub,  # noqa: F811 - the fixture
) -> None:
    with serve(twilio_connector(stub)) as served:
        statuses = [post_twilio(served, sms_form(f"message {n}"))[0] for n in range(5)]
        emergency = post_twilio(served, sms_form("I can't breathe and my throat is swelling"))
    assert statuses == [200] * 5  # Twilio gets its 200: an error would not reach the patient
    assert served.texts() == [
        "message 0",
        "message 1",
        "message 2",
        "I can't breathe and my throat is swelling",  # never held back
    ]
    assert emergency[0] == 200
    waits = [call.form() for call in stub.calls if "wait" in call.form().get("Body", "")]
    assert len(waits) == 1 and waits[0]["To"] == "+15551234567"  # told once, not per message


def test_sms_patients_do_not_share_the_platforms_address(
    monkeypatch: pytest.MonkeyPatch,
    stub: PlatformStub,  # noqa: F811 - the fixture
) -> None:
    """Twilio posts every patient's SMS from its own addresses: no address limit there."""
    monkeypatch.setenv("RATE_LIMIT_PER_ADDRESS", "2")
    with serve(twilio_connector(stub)) as served:
        for n in range(4):
            post_twilio(served, sms_form("hello", sender=f"+1555123456{n}"))
    assert len(served.texts()) == 4


@pytest.mark.parametrize(
    ("peer", "header", "counted_as"),
    [
        ("198.51.100.7", "", "198.51.100.7"),
        ("198.51.100.7", "203.0.113.9", "198.51.100.7"),  # a client's header is not believed
        ("127.0.0.1", "203.0.113.9", "203.0.113.9"),  # nginx on loopback is
        ("2001:db8:1:2:aaaa::1", "", "2001:db8:1:2::/64"),
        ("127.0.0.1", "2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"),
    ],
)
def test_the_address_counted(peer: str, header: str, counted_as: str) -> None:
    from types import SimpleNamespace

    from channels.rate_limits import client_address

    request = SimpleNamespace(ip=peer, headers={"X-Real-IP": header} if header else {})
    assert client_address(request) == counted_as
