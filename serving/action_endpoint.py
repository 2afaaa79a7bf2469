"""The action server's endpoint with its HTTP connections kept open.

Rasa's `EndpointConfig.request` opens a new aiohttp session, and so a new
TCP connection, for every custom action call, and closes it afterwards.
On the Rasa process's one event loop, every step of that (connecting,
sending, waiting for the answer, closing) hands the loop to the other
conversations' turns, whose work runs without a break; a turn that calls
the action server waits behind them at each step.  `make bench` measured a
symptom report's turn at 400-500 ms at the median with 8 concurrent
conversations, against 30 ms alone and 100 ms for a turn that does not
call the action server.

`KeptAliveEndpoint` is that EndpointConfig with one session per event loop,
kept open.  Everything else about a request is Rasa's own: headers, the
action server's token, timeouts, errors.  Two things keep a kept connection
from failing a turn:

- an idle connection is dropped after `IDLE_S`, well before the action
  server closes it (Sanic's default is 5 s; serving/action_server.py sets
  `SERVER_KEEP_ALIVE_S`; nginx's is 75 s), so the two never race on an idle
  connection;
- a call that finds its connection closed under it (the action server
  restarted, or nginx reloaded: the loop had not yet read the close) is
  sent once more, on a connection of its own (Rasa's plain request), so
  that no other conversation's call in flight on the kept session is
  touched.  A repeat never stores twice (a booking has a dedupe key; an
  escalation updates the conversation's open one), but if the first call
  had been stored before the connection broke, the clinic gets one more
  update notice for that escalation: a duplicate, never a loss.

serving/local_actions.py hands it to every action it builds.  The sessions
are closed when the Rasa server stops: `install()` (by serving/patches.py)
extends Rasa's own shutdown listener, `rasa.core.run.close_resources`,
which Rasa registers by name.
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import Any

import aiohttp
import rasa.core.run as rasa_run
from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
from rasa.utils.endpoints import EndpointConfig

from serving.action_server import SERVER_KEEP_ALIVE_S

logger = logging.getLogger(__name__)

_original_close_resources = rasa_run.close_resources

IDLE_S = 2.0  # an idle kept connection is closed after this, long before the server would
assert IDLE_S < SERVER_KEEP_ALIVE_S
_TWIN = "_clinic_kept_alive"  # the kept-alive twin, kept on Rasa's endpoint object
_CLOSED_UNDER_US = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


def _arguments(endpoint: EndpointConfig) -> dict[str, Any]:
    """What an EndpointConfig was made with."""
    return {
        "url": endpoint.url,
        "params": endpoint.params,
        "headers": endpoint.headers,
        "basic_auth": endpoint.basic_auth,
        "token": endpoint.token,
        "token_name": endpoint.token_name,
        "cafile": endpoint.cafile,
        **endpoint.kwargs,
    }


class _Borrowed:
    """`async with` around a session that stays open afterwards."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self._session

    async def __aexit__(
        self,
        _type: type[BaseException] | None,
        _error: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        return None


class KeptAliveEndpoint(EndpointConfig):
    """Rasa's EndpointConfig whose `session()` is one open session per event loop."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}

    @classmethod
    def like(cls, endpoint: EndpointConfig) -> KeptAliveEndpoint:
        """The same endpoint (URL, headers, token, options), kept alive."""
        return cls(**_arguments(endpoint))

    def session(self) -> _Borrowed:  # type: ignore[override]
        loop = asyncio.get_running_loop()
        session = self._open.get(loop)
        if session is None or session.closed:
            # Sessions of finished event loops (tests) are let go.
            self._open = {k: v for k, v in self._open.items() if not k.is_closed()}
            session = self._new_session()
            self._open[loop] = session
        return _Borrowed(session)

    def _new_session(self) -> aiohttp.ClientSession:
        """Rasa's session (`EndpointConfig.session`), with idle connections kept `IDLE_S`."""
        auth = None
        if self.basic_auth:
            auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
        return aiohttp.ClientSession(
            headers=self.headers,
            auth=auth,
            timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(keepalive_timeout=IDLE_S),
        )

    async def request(self, *args: Any, **kwargs: Any) -> Any:
        """Rasa's request; once more, on a connection of its own, if the kept one was closed."""
        try:
            return await super().request(*args, **kwargs)
        except _CLOSED_UNDER_US as error:
            logger.info("The action server closed a kept connection (%s); calling again.", error)
            return await self._plain.request(*args, **kwargs)

    @property
    def _plain(self) -> EndpointConfig:
        """The same endpoint as Rasa makes it: a session of its own per call."""
        return EndpointConfig(**_arguments(self))

    async def close(self) -> None:
        """Close this event loop's session (a new one is opened when needed)."""
        session = self._open.pop(asyncio.get_running_loop(), None)
        if session is not None and not session.closed:
            await session.close()


def kept_alive(endpoint: EndpointConfig | None) -> EndpointConfig | None:
    """The kept-alive twin of the agent's action endpoint (one per endpoint object);
    anything but Rasa's own EndpointConfig is left as it is."""
    if type(endpoint) is not EndpointConfig:
        return endpoint
    twin = getattr(endpoint, _TWIN, None)
    if twin is None:
        twin = KeptAliveEndpoint.like(endpoint)
        setattr(endpoint, _TWIN, twin)
    return twin


async def close_resources_and_sessions(app: Any, loop: asyncio.AbstractEventLoop) -> None:
    """Rasa's shutdown listener, then the kept session of the agent's action endpoint."""
    try:
        await _original_close_resources(app, loop)
    finally:
        agent = getattr(getattr(app, "ctx", None), "agent", None)
        twin = getattr(getattr(agent, "action_endpoint", None), _TWIN, None)
        if twin is not None:
            await twin.close()


def install() -> None:
    rasa_run.close_resources = close_resources_and_sessions


def uninstall() -> None:
    rasa_run.close_resources = _original_close_resources
