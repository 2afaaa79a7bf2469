"""The Twilio channel (SMS and WhatsApp), hardened.

Rasa's TwilioInput accepts any POST as a message from any phone number (it
never checks Twilio's signature), re-raises processing errors as HTTP 500,
sends buttons as bare text lines, and replies through the Twilio SDK from a
fixed number (wrong for WhatsApp).  This subclass:

- checks `X-Twilio-Signature` as Twilio documents it, over the *public* URL
  Twilio called (credential `public_url`, since behind a proxy the URL the
  server sees is not the one Twilio signed) and answers 403 when it fails;
- runs the shared input guard on the Body and never logs message text;
- replies through Twilio's REST API (credential `api_base_url`) from the
  address the patient wrote to, so WhatsApp replies go back over WhatsApp;
- turns buttons into numbered options and a numeric reply back into the
  chosen button's payload.

credentials.yml:

    channels.twilio.ClinicTwilioInput:
      account_sid: "AC..."
      auth_token: "..."
      twilio_number: "+15550100"        # used when a message has no `To`
      public_url: "https://bot.clinic.example"   # webhook: <public_url>/webhooks/twilio/webhook
      api_base_url: "https://api.twilio.com"     # optional
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.twilio import TwilioInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator

from channels.buttons import OfferedOptions, offered_options
from channels.input_guard import NOT_TEXT_REPLY, check_message, valid_sender_id
from channels.platform import PlatformInput, PlatformOutput

logger = logging.getLogger(__name__)

DEFAULT_API_BASE_URL = "https://api.twilio.com"
SIGNATURE_HEADER = "X-Twilio-Signature"
WHATSAPP_PREFIX = "whatsapp:"
# Twilio rejects message bodies longer than this (error 21617).
MAX_BODY_CHARS = 1600
SEND_TIMEOUT = aiohttp.ClientTimeout(total=15)
# An empty TwiML document: "message received, nothing to send inline"
# (replies go through the REST API instead).
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
DEFAULT_PORTS = {"https": 443, "http": 80}


class SignedFields(dict):
    """POST fields as Twilio's validator reads them: each name with all its values."""

    def __init__(self, fields: list[tuple[str, str]]) -> None:
        super().__init__()
        for name, value in fields:
            self.setdefault(name, []).append(value)

    def getall(self, name: str) -> list[str]:
        return self[name]


def valid_signature(
    auth_token: str | None, url: str, fields: list[tuple[str, str]], signature: str | None
) -> bool:
    """Whether Twilio signed this request: checked by the official `twilio` package's
    RequestValidator (which also accepts the URL with or without the default port)."""
    if not auth_token or not signature:
        return False
    return RequestValidator(auth_token).validate(url, SignedFields(fields), signature)


def parse_form(body: bytes) -> list[tuple[str, str]] | None:
    """The POST fields, blank ones included (Twilio signs those too), or None.

    Sanic's `request.form` drops blank fields such as an empty `FromCity`, which
    would make every real Twilio signature fail, so the body is parsed here.
    """
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return None


def split_body(text: str, limit: int = MAX_BODY_CHARS) -> list[str]:
    """Split a long reply into parts Twilio accepts, preferring line breaks."""
    parts = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        cut = cut if cut > 0 else limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip("\n")
    if text.strip():
        parts.append(text)
    return parts


class ClinicTwilioOutput(PlatformOutput):
    """Sends replies with Twilio's REST API (plain aiohttp, the process's one session)."""

    platform = "Twilio"

    @classmethod
    def name(cls) -> str:
        return "twilio"

    def __init__(
        self,
        account_sid: str | None,
        auth_token: str | None,
        from_address: str | None,
        api_base_url: str,
        offered: OfferedOptions,
    ) -> None:
        super().__init__(offered)
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.from_address = from_address
        self.api_base_url = api_base_url.rstrip("/")

    def sender_for(self, recipient_id: str) -> str | None:
        """Reply over the same channel: a WhatsApp patient needs a whatsapp: sender."""
        address = self.from_address
        needs_prefix = recipient_id.startswith(WHATSAPP_PREFIX)
        if address and needs_prefix and not address.startswith(WHATSAPP_PREFIX):
            return WHATSAPP_PREFIX + address
        return address

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """One SMS per reply (split only beyond Twilio's limit), so order is kept."""
        for part in split_body(text):
            await self._post_message(recipient_id, part)

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """Buttons become "Reply N for ..." lines; a reply "N" is mapped back."""
        await self.send_numbered(recipient_id, text, buttons)

    async def _post_message(self, recipient_id: str, body: str) -> None:
        url = f"{self.api_base_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        fields = {"From": self.sender_for(recipient_id) or "", "To": recipient_id, "Body": body}
        auth = aiohttp.BasicAuth(self.account_sid or "", self.auth_token or "")
        await self.post("a reply", url, data=fields, auth=auth)


class ClinicTwilioInput(PlatformInput, TwilioInput):
    """Twilio webhook that only accepts messages Twilio signed."""

    platform = "Twilio"

    @classmethod
    def name(cls) -> str:
        return "twilio"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        if not credentials:
            cls.raise_missing_credentials_exception()
        return cls(
            credentials.get("account_sid"),
            credentials.get("auth_token"),
            credentials.get("twilio_number"),
            public_url=credentials.get("public_url"),
            api_base_url=credentials.get("api_base_url") or DEFAULT_API_BASE_URL,
        )

    def __init__(
        self,
        account_sid: str | None,
        auth_token: str | None,
        twilio_number: str | None,
        public_url: str | None = None,
        api_base_url: str = DEFAULT_API_BASE_URL,
    ) -> None:
        # debug_mode=False: a failure must not become an HTTP 500.
        super().__init__(account_sid, auth_token, twilio_number, debug_mode=False)
        self.public_url = public_url.rstrip("/") if public_url else None
        self.api_base_url = api_base_url
        self.offered = offered_options()
        if not auth_token:
            logger.warning("Twilio channel has no auth_token: every webhook will get 403.")
        if not self.public_url:
            logger.warning(
                "Twilio channel has no public_url: signatures are checked against the "
                "URL this server sees, which fails behind a proxy."
            )

    def signed_url(self, request: Request) -> str:
        """The URL Twilio signed: the public base URL plus this path and query."""
        if not self.public_url:
            return request.url
        query = f"?{request.query_string}" if request.query_string else ""
        return f"{self.public_url}{request.path}{query}"

    def output_for(self, from_address: str | None) -> ClinicTwilioOutput:
        return ClinicTwilioOutput(
            self.account_sid, self.auth_token, from_address, self.api_base_url, self.offered
        )

    def get_output_channel(self) -> OutputChannel:
        return self.output_for(self.twilio_number)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = self.webhook_blueprint("clinic_twilio_webhook")

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            fields = parse_form(request.body or b"")
            if fields is None:
                return response.text("Malformed form body.", status=400)
            signature = request.headers.get(SIGNATURE_HEADER)
            if not valid_signature(self.auth_token, self.signed_url(request), fields, signature):
                logger.warning("Rejected a Twilio webhook with a missing or invalid signature.")
                return response.text("Invalid signature.", status=403)
            form = dict(fields)
            sender = form.get("From")
            if not valid_sender_id(sender):
                return response.text("Missing or malformed From.", status=400)
            await self.handle(on_new_message, request, sender, form)
            return response.text(EMPTY_TWIML, content_type="text/xml")

        return webhook

    async def handle(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        request: Request,
        sender: str,
        form: dict[str, str],
    ) -> None:
        """Pass one checked message to Rasa, or answer it directly."""
        output = self.output_for(form.get("To") or self.twilio_number)
        body = form.get("Body", "")
        if not body.strip():
            # Media or a location without text: nothing the assistant can read.
            if form.get("NumMedia", "0") not in ("", "0") or form.get("Latitude"):
                await self.answer_directly(output, sender, NOT_TEXT_REPLY)
            else:
                await self.offered.take_async(sender)
            return
        checked = check_message(body)
        if checked.reply is not None:
            await output.send_text_message(sender, checked.reply)
            return
        # Some carriers turn "@" into "¡" (as Rasa's own connector corrects).
        await self.deliver(on_new_message, request, output, sender, checked.text.replace("¡", "@"))
