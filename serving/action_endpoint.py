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
kept open (keep-alive connections, reused).  Everything else about a
request is Rasa's own (`request` is not replaced): headers, the action
server's token, timeouts, errors.  serving/local_actions.py hands it to
every action it builds.  The sessions are closed when the Rasa server
stops: `install()` (by serving/patches.py) extends Rasa's own shutdown
listener, `rasa.core.run.close_resources`, which Rasa registers by name.
"""

from __future__ import annotations

import asyncio
import weakref
from types import TracebackType
from typing import Any

import aiohttp
import rasa.core.run as rasa_run
from rasa.utils.endpoints import EndpointConfig

_original_close_resources = rasa_run.close_resources

# The sessions of every endpoint, by event loop (a session belongs to one loop).
_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[aiohttp.ClientSession]] = (
    weakref.WeakKeyDictionary()
)


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
        return cls(
            endpoint.url,
            endpoint.params,
            endpoint.headers,
            endpoint.basic_auth,
            endpoint.token,
            endpoint.token_name,
            cafile=endpoint.cafile,
            **endpoint.kwargs,
        )

    def session(self) -> _Borrowed:  # type: ignore[override]
        loop = asyncio.get_running_loop()
        session = self._open.get(loop)
        if session is None or session.closed:
            session = super().session()
            self._open = {k: v for k, v in self._open.items() if not k.is_closed()}
            self._open[loop] = session
            _sessions.setdefault(loop, []).append(session)
        return _Borrowed(session)


_kept: dict[int, tuple[EndpointConfig, KeptAliveEndpoint]] = {}


def kept_alive(endpoint: EndpointConfig | None) -> EndpointConfig | None:
    """The kept-alive twin of the agent's action endpoint (one per endpoint object);
    anything but Rasa's own EndpointConfig is left as it is."""
    if type(endpoint) is not EndpointConfig:
        return endpoint
    known = _kept.get(id(endpoint))
    if known is None or known[0] is not endpoint:
        known = (endpoint, KeptAliveEndpoint.like(endpoint))
        _kept[id(endpoint)] = known
    return known[1]


async def close_sessions() -> None:
    """Close this loop's kept sessions (when the server stops)."""
    loop = asyncio.get_running_loop()
    for session in _sessions.pop(loop, []):
        if not session.closed:
            await session.close()


async def close_resources_and_sessions(app: Any, loop: asyncio.AbstractEventLoop) -> None:
    """Rasa's shutdown listener, then this loop's kept sessions closed."""
    try:
        await _original_close_resources(app, loop)
    finally:
        await close_sessions()


def install() -> None:
    rasa_run.close_resources = close_resources_and_sessions


def uninstall() -> None:
    rasa_run.close_resources = _original_close_resources
