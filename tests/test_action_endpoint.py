"""Custom action calls reuse open connections to the action server (serving/action_endpoint.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from types import SimpleNamespace
from typing import Any

import pytest
import rasa.core.run as rasa_run
from aiohttp import web
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import ClientResponseError, EndpointConfig

from serving import action_endpoint
from serving.action_endpoint import KeptAliveEndpoint, kept_alive
from serving.action_server import SERVER_KEEP_ALIVE_S, build_app

DOMAIN = Domain.from_dict({"intents": ["greet"], "actions": ["action_hello"]})
TOKEN_HEADER = "X-Clinic-Action-Token"


class ActionServer:
    """A stand-in action server that notes which connection each call came on."""

    def __init__(self, keep_alive_s: float = 75.0) -> None:
        self.keep_alive_s = keep_alive_s
        self.peers: list[Any] = []
        self.tokens: list[str | None] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def webhook(self, request: web.Request) -> web.Response:
        self.peers.append(request.transport.get_extra_info("peername"))
        self.tokens.append(request.headers.get(TOKEN_HEADER))
        call = await request.json()
        if call["next_action"] == "action_broken":
            return web.json_response({"error": "broken"}, status=500)
        reply = {"events": [], "responses": [{"text": f"hello from {call['next_action']}"}]}
        return web.json_response(reply)

    async def __aenter__(self) -> ActionServer:
        app = web.Application()
        app.router.add_post("/webhook", self.webhook)
        self.runner = web.AppRunner(app, keepalive_timeout=self.keep_alive_s)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/webhook"
        return self

    async def __aexit__(self, *_: Any) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


def tracker() -> DialogueStateTracker:
    events = [ActionExecuted("action_listen"), UserUttered("hi", {"name": "greet"})]
    return DialogueStateTracker.from_events("endpoint-test", events)


async def call(endpoint: EndpointConfig, name: str = "action_hello") -> list[Any]:
    nlg = TemplatedNaturalLanguageGenerator({})
    return await RemoteAction(name, endpoint).run(CollectingOutputChannel(), nlg, tracker(), DOMAIN)


def calls(endpoint_of: Any, times: int = 3) -> tuple[ActionServer, list[list[Any]]]:
    async def scenario() -> tuple[ActionServer, list[list[Any]]]:
        async with ActionServer() as server:
            endpoint = endpoint_of(EndpointConfig(server.url, headers={TOKEN_HEADER: "s3cret"}))
            results = [await call(endpoint) for _ in range(times)]
            if isinstance(endpoint, KeptAliveEndpoint):
                await endpoint.close()
        return server, results

    return asyncio.run(scenario())


def test_calls_share_one_kept_alive_connection() -> None:
    server, results = calls(kept_alive)
    assert len(server.peers) == 3 and len(set(server.peers)) == 1
    assert server.tokens == ["s3cret"] * 3  # the action server's secret still goes along
    for events in results:
        assert [e.text for e in events if isinstance(e, BotUttered)] == ["hello from action_hello"]


def test_rasa_alone_opens_a_connection_per_call() -> None:
    """What the kept-alive endpoint saves (and proof the test above can fail)."""
    server, _results = calls(lambda endpoint: endpoint)
    assert len(set(server.peers)) == 3


def test_an_action_server_error_is_still_rasas_error() -> None:
    async def scenario() -> None:
        async with ActionServer() as server:
            endpoint = kept_alive(EndpointConfig(server.url))
            with pytest.raises(Exception) as raised:
                await call(endpoint, "action_broken")
            assert isinstance(raised.value.__cause__, ClientResponseError)
            assert [e.text for e in await call(endpoint) if isinstance(e, BotUttered)]
            await endpoint.close()

    asyncio.run(scenario())


def test_one_twin_per_endpoint_and_nothing_else_is_wrapped() -> None:
    endpoint = EndpointConfig("http://127.0.0.1:9/webhook", headers={"A": "b"}, token="t")
    twin = kept_alive(endpoint)
    assert isinstance(twin, KeptAliveEndpoint) and kept_alive(endpoint) is twin
    assert (twin.url, twin.headers, twin.token) == (endpoint.url, endpoint.headers, "t")
    assert kept_alive(None) is None
    assert kept_alive(twin) is twin


def test_a_connection_the_server_closed_unnoticed_is_replaced(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The action server restarted (or dropped an idle connection) while the Rasa
    process's loop was busy: the call goes out again on a new connection."""
    caplog.set_level(logging.INFO, logger="serving.action_endpoint")

    async def scenario() -> ActionServer:
        async with ActionServer(keep_alive_s=0.2) as server:
            endpoint = kept_alive(EndpointConfig(server.url))
            await call(endpoint)
            time.sleep(0.6)  # a busy loop: the server's close is not read meanwhile
            kept = endpoint._open[asyncio.get_running_loop()]
            events = await call(endpoint)
            assert [e.text for e in events if isinstance(e, BotUttered)]
            # The retry had a connection of its own: the kept session, which other
            # conversations' calls may be using, stays open and in use.
            assert not kept.closed and endpoint._open[asyncio.get_running_loop()] is kept
            await endpoint.close()
        return server

    server = asyncio.run(scenario())
    assert len(set(server.peers)) == 2
    assert "closed a kept connection" in caplog.text


def test_idle_connections_end_on_our_side_first() -> None:
    assert action_endpoint.IDLE_S < SERVER_KEEP_ALIVE_S
    app = build_app("actions", token="x" * 32)
    assert app.config.KEEP_ALIVE_TIMEOUT == SERVER_KEEP_ALIVE_S

    async def scenario() -> float:
        endpoint = kept_alive(EndpointConfig("http://127.0.0.1:9/webhook"))
        async with endpoint.session() as session:
            idle = session.connector._keepalive_timeout
        await endpoint.close()
        return idle

    assert asyncio.run(scenario()) == action_endpoint.IDLE_S


def test_the_session_closes_when_the_server_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    closed_by_rasa: list[str] = []

    async def rasa_close_resources(_app: Any, _loop: Any) -> None:
        closed_by_rasa.append("agent resources")

    monkeypatch.setattr(action_endpoint, "_original_close_resources", rasa_close_resources)
    monkeypatch.setattr(rasa_run, "close_resources", rasa_run.close_resources)
    action_endpoint.install()

    async def scenario() -> Any:
        async with ActionServer() as server:
            agent_endpoint = EndpointConfig(server.url)
            app = SimpleNamespace(
                ctx=SimpleNamespace(agent=SimpleNamespace(action_endpoint=agent_endpoint))
            )
            await call(kept_alive(agent_endpoint))
            session = kept_alive(agent_endpoint)._open[asyncio.get_running_loop()]
            await rasa_run.close_resources(app, asyncio.get_running_loop())
            return session

    session = asyncio.run(scenario())
    assert session.closed and closed_by_rasa == ["agent resources"]
