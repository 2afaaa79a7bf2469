"""The Telegram channel, hardened.

Rasa's TelegramInput calls the Telegram API while the server starts
(`asyncio.run(set_webhook(...))`, so start-up fails offline), and that
`asyncio.run` closes the loop aiogram's session was bound to, so the first
update then fails with "Event loop is closed".  It also calls `get_me` on
every update and authenticates nothing: anyone who knows the URL can post
updates as any chat.  This subclass:

- makes no network call at start-up; replies use a fresh aiohttp session on
  the running loop, POSTing to `<api_base_url>/bot<token>/sendMessage`;
- accepts an update only with the `X-Telegram-Bot-Api-Secret-Token` header
  equal to the configured `secret_token` (403 otherwise);
- handles text messages and button clicks (callback queries, whose
  `callback_data` is the button payload), answers other messages politely,
  runs the shared input guard, and never logs message text;
- sends buttons as an inline keyboard, one button per row.

credentials.yml:

    channels.telegram.ClinicTelegramInput:
      access_token: "<bot token from @BotFather>"
      secret_token: "<1-256 chars of A-Z a-z 0-9 _ ->"
      api_base_url: "https://api.telegram.org"   # optional

The webhook is registered once by the operator, not at every start-up:

    curl -s "https://api.telegram.org/bot$TOKEN/setWebhook" \
      -d url=https://bot.clinic.example/webhooks/telegram/webhook -d secret_token=$SECRET
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.telegram import TelegramInput
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

DEFAULT_API_BASE_URL = "https://api.telegram.org"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Telegram rejects a keyboard whose callback_data is longer than 64 bytes.
MAX_CALLBACK_DATA_BYTES = 64
# Every Telegram conversation opens with the /start command; Rasa would read
# it as an unknown intent "start", so it is passed on as a greeting.
START_COMMAND = re.compile(r"^/start(@\w+)?(\s.*)?$", re.DOTALL)
GREETING_PAYLOAD = "/greet"
NUMERIC_CHAT_ID = re.compile(r"^-?\d+$")
SEND_TIMEOUT = aiohttp.ClientTimeout(total=15)


def inline_keyboard(buttons: list[Any]) -> dict[str, Any] | None:
    """Buttons as an inline keyboard, one per row, or None if Telegram can't show them."""
    if not all_have_payloads(buttons):
        return None
    options = options_from(buttons)
    if any(len(option.payload.encode()) > MAX_CALLBACK_DATA_BYTES for option in options):
        return None
    return {
        "inline_keyboard": [
            [{"text": option.title, "callback_data": option.payload}] for option in options
        ]
    }


def chat_id_value(recipient_id: str) -> int | str:
    """Telegram's chat ids are integers; keep anything else (e.g. @channel) as is."""
    return int(recipient_id) if NUMERIC_CHAT_ID.match(recipient_id) else recipient_id


def chat_of(message: Any) -> str | None:
    """The conversation id of a Telegram message: its chat's id, as text."""
    chat = message.get("chat") if isinstance(message, dict) else None
    chat_id = chat.get("id") if isinstance(chat, dict) else None
    if isinstance(chat_id, bool) or not isinstance(chat_id, int | str):
        return None
    return str(chat_id) if valid_sender_id(str(chat_id)) else None


class ClinicTelegramOutput(PlatformOutput):
    """Sends replies with the Bot API over aiohttp (no aiogram Bot object)."""

    platform = "Telegram"

    @classmethod
    def name(cls) -> str:
        return "telegram"

    def __init__(self, access_token: str | None, api_base_url: str, offered: OfferedOptions):
        super().__init__(offered)
        self.access_token = access_token
        self.api_base_url = api_base_url.rstrip("/")

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.call("sendMessage", {"chat_id": chat_id_value(recipient_id), "text": text})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        """An inline keyboard where possible, numbered options otherwise."""
        keyboard = inline_keyboard(buttons)
        if keyboard is None:
            await self.send_numbered(recipient_id, text, buttons)
            return
        await self.call(
            "sendMessage",
            {"chat_id": chat_id_value(recipient_id), "text": text, "reply_markup": keyboard},
        )

    async def call(self, method: str, body: dict[str, Any]) -> None:
        """One Bot API call, on the running loop's session (the very thing Rasa's
        aiogram-based output gets wrong); the URL holds the token, so only the
        method is ever logged."""
        url = f"{self.api_base_url}/bot{self.access_token}/{method}"
        await self.post(method, url, json=body)


class ClinicTelegramInput(PlatformInput, TelegramInput):
    """Telegram webhook that needs the secret token and no network at start-up."""

    platform = "Telegram"

    @classmethod
    def name(cls) -> str:
        return "telegram"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        if not credentials:
            cls.raise_missing_credentials_exception()
        return cls(
            credentials.get("access_token"),
            credentials.get("secret_token"),
            api_base_url=credentials.get("api_base_url") or DEFAULT_API_BASE_URL,
        )

    def __init__(
        self,
        access_token: str | None,
        secret_token: str | None,
        api_base_url: str = DEFAULT_API_BASE_URL,
    ) -> None:
        # `verify` (the bot's username, checked with get_me) and `webhook_url`
        # are the built-in's; this channel uses neither.
        super().__init__(access_token, None, None, debug_mode=False)
        self.secret_token = secret_token
        self.api_base_url = api_base_url
        self.offered = offered_options()
        if not secret_token:
            logger.warning("Telegram channel has no secret_token: every update will get 403.")

    def get_output_channel(self) -> ClinicTelegramOutput:
        """The output channel; unlike the built-in one, it calls nothing."""
        return ClinicTelegramOutput(self.access_token, self.api_base_url, self.offered)

    def secret_matches(self, given: str | None) -> bool:
        return (
            bool(self.secret_token)
            and isinstance(given, str)
            and hmac.compare_digest(given.encode(), str(self.secret_token).encode())
        )

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = self.webhook_blueprint("clinic_telegram_webhook")

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self.secret_matches(request.headers.get(SECRET_HEADER)):
                logger.warning("Rejected a Telegram update with a missing or wrong secret token.")
                return response.text("Invalid secret token.", status=403)
            try:
                update = load_json(request.body or b"")
            except ValueError:  # also bad UTF-8
                return response.text("Malformed update.", status=400)
            if not isinstance(update, dict):
                return response.text("Malformed update.", status=400)
            await self.handle(on_new_message, request, update)
            # Anything but 2xx makes Telegram resend the update again and again.
            return response.text("success")

        return webhook

    async def handle(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        request: Request,
        update: dict[str, Any],
    ) -> None:
        """Pass one update to Rasa, answer it directly, or skip it."""
        output = self.get_output_channel()
        callback = update.get("callback_query")
        if isinstance(callback, dict):
            sender, raw = chat_of(callback.get("message")), callback.get("data")
            if isinstance(callback.get("id"), str):
                # Stops the spinner on the patient's button.
                await output.call("answerCallbackQuery", {"callback_query_id": callback["id"]})
        elif isinstance(update.get("message"), dict):
            message = update["message"]
            sender, raw = chat_of(message), message.get("text")
        else:
            return  # edits, channel posts, member updates...: nothing to answer
        if sender is None:
            return
        if isinstance(raw, str) and START_COMMAND.match(raw.strip()):
            raw = GREETING_PAYLOAD  # before the guard, which drops unknown commands' slash
        checked = check_message(raw) if isinstance(raw, str) and raw.strip() else None
        if checked is None or checked.reply is not None:
            await self.answer_directly(output, sender, checked.reply if checked else NOT_TEXT_REPLY)
            return
        await self.deliver(on_new_message, request, output, sender, checked.text)
