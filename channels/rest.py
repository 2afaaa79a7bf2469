"""The REST channel, hardened for a public website.

Rasa's RestInput files every message without a `sender` under one shared
conversation called "default" (mixing patients' conversations), passes any
JSON value on as text, and logs the message text when processing fails.
This subclass requires a well-formed sender id, runs the shared input guard,
answers malformed requests with a 400 that says what is wrong, and answers
an internal failure with a polite message instead of an empty reply.
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

from channels.input_guard import check_message, valid_sender_id

logger = logging.getLogger(__name__)

BAD_REQUEST = (
    'Please send JSON like {"sender": "<conversation id>", "message": "<text>"}; '
    "the sender id may use letters, digits and _.:@+- (at most 128)."
)
FAILURE_REPLY = (
    "Sorry, something went wrong on our side. Please try again in a moment, "
    "or call the clinic if it is urgent."
)


def bot_reply(sender: str, text: str) -> list[dict[str, Any]]:
    """A reply in the same shape as the assistant's own replies."""
    return [{"recipient_id": sender, "text": text}]


class ClinicRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

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
            checked = check_message(body.get("message"))
            if checked.reply is not None:
                return response.json(bot_reply(sender, checked.reply))
            collector = CollectingOutputChannel()
            try:
                await on_new_message(
                    UserMessage(
                        checked.text,
                        collector,
                        sender,
                        input_channel=self.name(),
                        metadata=self.get_metadata(request),
                    )
                )
            except Exception:  # noqa: BLE001 - the patient must get an answer
                # No message text here: it may hold health data.
                logger.exception("Processing a REST message failed.")
                return response.json(collector.messages + bot_reply(sender, FAILURE_REPLY))
            return response.json(collector.messages)

        return webhook
