"""The REST channel, hardened for a public website.

Rasa's RestInput files every message without a `sender` under one shared
conversation called "default" (mixing patients' conversations), passes any
JSON value on as text, and logs the message text when processing fails.
This subclass requires a well-formed sender id, runs the shared input guard,
answers malformed requests with a 400 that says what is wrong, and answers
an internal failure (the database down...) with a polite message instead of
an empty reply, after the emergency-services advice when the message reads
as an emergency (channels/failure_replies.py).

A client may send a `message_id` with each message and, when it got no
answer (a dropped connection, a server restarted mid-turn behind the load
balancer), send the same message again with the same id and `"resend": true`.
A message whose id is already in the stored conversation is answered with
the replies it got the first time, so a retry can never file the same words
twice in the conversation (nor book or escalate twice): a flagged resend is
looked up here at once, and every message with an id is checked again under
the conversation's lock (serving/replays.py), which also covers a resend
that overlaps the first attempt or carries no flag.

A conversation or client address over its rate limit gets 429 with
`Retry-After` and, in the body, the wait and anything said at once (the
emergency advice: channels/rate_limits.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.exceptions import SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.failure_replies import FAILURE_REPLY, advice_not_yet_given
from channels.input_guard import check_message, valid_sender_id
from channels.rate_limits import too_fast, wait_reply
from serving.replays import CLIENT_ID_KEY, replies_after
from serving.tracker_store import read_only_tracker

logger = logging.getLogger(__name__)

BAD_REQUEST = (
    'Please send JSON like {"sender": "<conversation id>", "message": "<text>"}; '
    "the sender id may use letters, digits and _.:@+- (at most 128)."
)


BAD_MESSAGE_ID = (
    "message_id, when given, must be 1-128 letters, digits or _.:@+- "
    "(the same id again means the same message, sent again)."
)


def bot_reply(sender: str, text: str) -> list[dict[str, Any]]:
    """A reply in the same shape as the assistant's own replies."""
    return [{"recipient_id": sender, "text": text}]


async def earlier_replies(request: Request, sender: str, message_id: str) -> list[dict] | None:
    """The first answer to a message sent again; None if it is new."""
    tracker = await read_only_tracker(request.app.ctx.agent.tracker_store, sender)
    return None if tracker is None else replies_after(list(tracker.events), sender, message_id)


class ClinicRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> ClinicRestInput:
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint("clinic_rest_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                body = request.json
            except SanicException:
                body = None
            if not isinstance(body, dict) or not valid_sender_id(body.get("sender")):
                return response.json({"error": BAD_REQUEST}, status=400)
            sender = body["sender"]
            message_id = body.get("message_id")
            if message_id is not None and not valid_sender_id(message_id):
                return response.json({"error": BAD_MESSAGE_ID}, status=400)
            checked = check_message(body.get("message"))
            if checked.reply is not None:
                return response.json(bot_reply(sender, checked.reply))
            limited = await too_fast(request, sender, checked.text)
            if limited is not None:
                advice = [limited.emergency_advice] if limited.emergency_advice else []
                return response.json(
                    {
                        "error": wait_reply(limited.wait_s),
                        "retry_after": limited.retry_after,
                        "messages": [bot_reply(sender, text)[0] for text in advice],
                    },
                    status=429,
                    headers={"Retry-After": str(limited.retry_after)},
                )
            collector = CollectingOutputChannel()
            try:
                if message_id is not None and body.get("resend") is True:
                    answered = await earlier_replies(request, sender, message_id)
                    if answered is not None:
                        return response.json(answered)
                await on_new_message(
                    UserMessage(
                        checked.text,
                        collector,
                        sender,
                        input_channel=self.name(),
                        message_id=message_id,
                        metadata=(
                            {**(self.get_metadata(request) or {}), CLIENT_ID_KEY: True}
                            if message_id is not None
                            else self.get_metadata(request)
                        ),
                    )
                )
            except Exception:  # noqa: BLE001 - the patient must get an answer
                # No message text here: it may hold health data.
                logger.exception("Processing a REST message failed.")
                said = [str(message.get("text")) for message in collector.messages]
                advice = advice_not_yet_given(request, checked.text, said)
                return response.json(
                    collector.messages
                    + [bot_reply(sender, text)[0] for text in advice]
                    + bot_reply(sender, FAILURE_REPLY)
                )
            return response.json(collector.messages)

        return webhook
