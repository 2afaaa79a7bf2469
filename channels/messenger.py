"""The Facebook Messenger channel, hardened.

Rasa's FacebookInput checks only the legacy sha1 `X-Hub-Signature` (and picks
the hash function named by the request, so "md5=..." or junk crashes it),
answers an unsigned request with HTTP 200, handles only the first event of
a batch, passes attachment URLs on as if the patient had typed them, and
sends through the fbmessenger client to a fixed Graph API host.  This
subclass:

- accepts `X-Hub-Signature-256` (HMAC-SHA256 of the raw body with the app
  secret) or a valid legacy sha1 `X-Hub-Signature`, and answers 403 otherwise;
- handles every event of a batch, takes quick-reply and postback payloads,
  ignores echoes and receipts, and answers attachments with a polite reply;
- sends with plain aiohttp to `graph_api_base_url`, buttons as quick replies
  (numbered options when Messenger could not show them).

credentials.yml:

    channels.messenger.ClinicMessengerInput:
      verify: "<verify token chosen in the app's webhook settings>"
      secret: "<app secret>"
      page-access-token: "<page access token>"
      graph_api_base_url: "https://graph.facebook.com"   # optional
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.facebook import FacebookInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.buttons import (
    OfferedOptions,
    all_have_payloads,
    offered_options,
    options_from,
)
from channels.input_guard import NOT_TEXT_REPLY, check_message, load_json, valid_sender_id
from channels.platform import PlatformInput, PlatformOutput

logger = logging.getLogger(__name__)

DEFAULT_GRAPH_API_BASE_URL = "https://graph.facebook.com"
GRAPH_API_VERSION = "v17.0"
# Header -> (expected prefix, hash function).  Fixed here, never taken from the request.
SIGNATURE_HEADERS = {
    "X-Hub-Signature-256": ("sha256=", hashlib.sha256),
    "X-Hub-Signature": ("sha1=", hashlib.sha1),
}
# Messenger's limits for quick replies.
MAX_QUICK_REPLIES = 13
MAX_QUICK_REPLY_TITLE = 20
MAX_QUICK_REPLY_PAYLOAD = 1000
SEND_TIMEOUT = aiohttp.ClientTimeout(total=15)


def valid_hub_signature(secret: str | None, body: bytes, headers: Any) -> bool:
    """True when any signature header Meta sent matches the body (constant time)."""
    if not secret:
        return False
    for header, (prefix, digest) in SIGNATURE_HEADERS.items():
        given = headers.get(header)
        if not isinstance(given, str) or not given.startswith(prefix):
            continue
        expected = prefix + hmac.new(secret.encode(), body, digest).hexdigest()
        if hmac.compare_digest(expected.encode(), given.strip().lower().encode()):
            return True
    return False


def quick_replies(buttons: list[Any]) -> list[dict[str, str]] | None:
    """Buttons as Messenger quick replies, or None when Messenger cannot show them."""
    if not all_have_payloads(buttons) or len(buttons) > MAX_QUICK_REPLIES:
        return None
    options = options_from(buttons)
    if any(len(option.payload) > MAX_QUICK_REPLY_PAYLOAD for option in options):
        return None
    return [
        {
            "content_type": "text",
            # Messenger shows at most 20 characters of a title.
            "title": option.title[:MAX_QUICK_REPLY_TITLE],
            "payload": option.payload,
        }
        for option in options
    ]


def event_text(event: dict[str, Any]) -> str | None:
    """What the patient said or chose; "" for non-text; None for events to skip."""
    message = event.get("message")
    if isinstance(message, dict):
        if message.get("is_echo"):
            return None
        quick_reply = message.get("quick_reply")
        if isinstance(quick_reply, dict) and isinstance(quick_reply.get("payload"), str):
            return quick_reply["payload"]
        text = message.get("text")
        return text if isinstance(text, str) else ""
    postback = event.get("postback")
    if isinstance(postback, dict) and isinstance(postback.get("payload"), str):
        return postback["payload"]
    return None  # deliveries, reads, reactions...


def messaging_events(payload: Any) -> list[dict[str, Any]]:
    """Every messaging event of a (possibly batched) webhook call."""
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        raise ValueError("not a Messenger webhook payload")
    events = []
    for entry in payload["entry"]:
        messaging = entry.get("messaging") if isinstance(entry, dict) else None
        if isinstance(messaging, list):
            events.extend(event for event in messaging if isinstance(event, dict))
    return events


def event_sender(event: dict[str, Any]) -> str | None:
    sender = event.get("sender")
    sender_id = sender.get("id") if isinstance(sender, dict) else None
    return sender_id if valid_sender_id(sender_id) else None


class ClinicMessengerOutput(PlatformOutput):
    """Sends replies with the Send API (plain aiohttp, no fbmessenger client)."""

    platform = "Messenger"

    @classmethod
    def name(cls) -> str:
        return "facebook"

    def __init__(self, access_token: str | None, graph_api_base_url: str, offered: OfferedOptions):
        super().__init__(offered)
        self.access_token = access_token
        self.graph_api_base_url = graph_api_base_url.rstrip("/")

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._send(recipient_id, {"text": text})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Quick replies where Messenger can show them, numbered options otherwise."""
        replies = quick_replies(buttons)
        if replies is None:
            await self.send_numbered(recipient_id, text, buttons)
        else:
            await self._send(recipient_id, {"text": text, "quick_replies": replies})

    async def _send(self, recipient_id: str, message: dict[str, Any]) -> None:
        url = f"{self.graph_api_base_url}/{GRAPH_API_VERSION}/me/messages"
        body = {
            "recipient": {"id": recipient_id},
            "messaging_type": "RESPONSE",
            "message": message,
        }
        params = {"access_token": self.access_token or ""}
        await self.post("a reply", url, params=params, json=body)


class ClinicMessengerInput(PlatformInput, FacebookInput):
    """Messenger webhook that only accepts calls Meta signed."""

    platform = "Messenger"

    @classmethod
    def name(cls) -> str:
        return "facebook"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        if not credentials:
            cls.raise_missing_credentials_exception()
        return cls(
            credentials.get("verify"),
            credentials.get("secret"),
            credentials.get("page-access-token"),
            graph_api_base_url=(
                credentials.get("graph_api_base_url") or DEFAULT_GRAPH_API_BASE_URL
            ),
        )

    def __init__(
        self,
        fb_verify: str | None,
        fb_secret: str | None,
        fb_access_token: str | None,
        graph_api_base_url: str = DEFAULT_GRAPH_API_BASE_URL,
    ) -> None:
        super().__init__(fb_verify, fb_secret, fb_access_token)
        self.graph_api_base_url = graph_api_base_url
        self.offered = offered_options()
        if not fb_secret:
            logger.warning("Messenger channel has no app secret: every webhook will get 403.")

    def get_output_channel(self) -> OutputChannel:
        return ClinicMessengerOutput(self.fb_access_token, self.graph_api_base_url, self.offered)

    def verify_token_matches(self, token: Any) -> bool:
        return (
            bool(self.fb_verify)
            and isinstance(token, str)
            and hmac.compare_digest(token.encode(), str(self.fb_verify).encode())
        )

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = self.webhook_blueprint("clinic_messenger_webhook")

        @webhook.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            """Meta's subscription handshake: echo the challenge if the token matches."""
            challenge = request.args.get("hub.challenge")
            if (
                request.args.get("hub.mode") == "subscribe"
                and self.verify_token_matches(request.args.get("hub.verify_token"))
                and challenge
            ):
                return response.text(challenge)
            logger.warning("Messenger verification failed: wrong verify token.")
            return response.text("Invalid verify token.", status=403)

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = request.body or b""
            if not valid_hub_signature(self.fb_secret, body, request.headers):
                logger.warning("Rejected a Messenger webhook with a missing or invalid signature.")
                return response.text("Invalid signature.", status=403)
            try:
                events = messaging_events(load_json(body))
            except ValueError:  # also malformed JSON and bad UTF-8
                return response.text("Malformed payload.", status=400)
            for event in events:
                await self.handle(on_new_message, request, event)
            return response.text("EVENT_RECEIVED")

        return webhook

    async def handle(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        request: Request,
        event: dict[str, Any],
    ) -> None:
        """Pass one messaging event to Rasa, answer it directly, or skip it."""
        sender, raw = event_sender(event), event_text(event)
        if sender is None or raw is None:
            return
        output = self.get_output_channel()
        checked = check_message(raw) if raw else None
        if checked is None or checked.reply is not None:
            await self.answer_directly(output, sender, checked.reply if checked else NOT_TEXT_REPLY)
            return
        await self.deliver(on_new_message, request, output, sender, checked.text)
