"""What every messaging connector shares, written once.

The Twilio, Messenger and Telegram connectors differ in how a platform signs
its webhooks, shapes its events and takes its replies.  Everything else is
the same and lives here:

- one HTTP client session per process (per event loop), reused for every
  reply, instead of a new connection pool per message;
- replies that never raise: a failed send is logged (the platform, what was
  sent and the HTTP status; never the text or a token) and the turn goes on,
  because raising would abort the bot's turn and lose its tracker update;
- the webhook blueprint with its health route, closing the session when the
  server stops;
- the guarded hand-over of one checked message to Rasa: numbered options
  resolved, any failure logged without the message (it may hold health data)
  and swallowed, since the platform must get its 2xx or it resends forever;
- the polite direct answer to what the assistant cannot read.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import aiohttp
from rasa.core.channels.channel import OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.buttons import OfferedOptions, numbered_text
from channels.failure_replies import FAILURE_REPLY, advice_not_yet_given
from channels.rate_limits import too_fast, wait_notices, wait_reply

logger = logging.getLogger(__name__)

SEND_TIMEOUT = aiohttp.ClientTimeout(total=15)
_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = (
    weakref.WeakKeyDictionary()
)


def http_session() -> aiohttp.ClientSession:
    """This process's client session on the running loop (made on first use)."""
    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        session = aiohttp.ClientSession(timeout=SEND_TIMEOUT)
        _sessions[loop] = session
    return session


async def close_http_session() -> None:
    """Close the running loop's session (the server is stopping)."""
    session = _sessions.pop(asyncio.get_running_loop(), None)
    if session is not None and not session.closed:
        await session.close()


class PlatformOutput(OutputChannel):
    """Replies through a messaging platform's HTTP API."""

    platform: ClassVar[str]  # the platform's name in logs

    def __init__(self, offered: OfferedOptions) -> None:
        self.offered = offered

    async def post(self, what: str, url: str, **request: Any) -> None:
        """POST one API call; failures are logged and swallowed (see the module docstring)."""
        try:
            async with http_session().post(url, **request) as reply:
                if reply.status >= 300:
                    logger.error("%s refused %s: HTTP %s.", self.platform, what, reply.status)
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            logger.error(
                "Could not reach %s for %s: %s.", self.platform, what, type(error).__name__
            )

    async def send_numbered(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]]
    ) -> None:
        """Buttons as "Reply N for ..." lines; a reply "N" is mapped back to its payload."""
        rendered, options = numbered_text(text, buttons)
        await self.offered.remember_async(recipient_id, options)
        await self.send_text_message(recipient_id, rendered)


class PlatformInput:
    """Mixin for the hardened connectors (each also subclasses Rasa's own input channel)."""

    platform: ClassVar[str]  # the platform's name in logs
    offered: OfferedOptions
    # Provided by Rasa's InputChannel, which every connector also subclasses.
    name: Callable[[], str]
    get_metadata: Callable[[Request], dict[str, Any] | None]

    def webhook_blueprint(self, name: str) -> Blueprint:
        """The connector's blueprint, with its health route and session clean-up."""
        webhook = Blueprint(name, __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.listener("before_server_stop")
        async def close_session(*_: Any) -> None:
            await close_http_session()

        return webhook

    async def answer_directly(self, output: OutputChannel, sender: str, reply: str) -> None:
        """Answer without Rasa (too long, not text...); earlier numbered options lapse."""
        await self.offered.take_async(sender)
        await output.send_text_message(sender, reply)

    async def deliver(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        request: Request,
        output: OutputChannel,
        sender: str,
        text: str,
    ) -> None:
        """Hand one checked message to Rasa; a failure is logged, never raised.

        Over a rate limit the patient is told to wait, through the platform
        (the platform gets its 2xx: an error would only make it resend).
        """
        limited = await too_fast(request, sender, text, by_address=False)
        if limited is not None:
            # The numbered options offered before stay valid for the message sent again.
            if wait_notices.first(sender, limited.wait_s):
                await output.send_text_message(sender, wait_reply(limited.wait_s))
            return
        text = await self.offered.resolve_async(sender, text)
        try:
            await on_new_message(
                UserMessage(
                    text,
                    output,
                    sender,
                    input_channel=self.name(),
                    metadata=self.get_metadata(request),
                )
            )
        except Exception:  # noqa: BLE001 - the platform must get its 2xx or it resends
            # No message text here: it may hold health data.
            logger.exception("Processing a %s message failed.", self.platform)
            # The patient is told, never left without an answer (the emergency advice
            # first when the words read as one).
            for reply in (*advice_not_yet_given(request, text, []), FAILURE_REPLY):
                try:
                    await output.send_text_message(sender, reply)
                except Exception:  # noqa: BLE001 - nothing more can be done here
                    logger.exception("Telling a %s patient about a failure failed.", self.platform)
                    break
