"""The Twilio, Messenger and Telegram channels, end to end on loopback.

Each connector's blueprint runs in a real Sanic server (in a thread, on a
free port) with a fake `on_new_message` that records what Rasa would receive
and answers with a canned reply with buttons.  A local HTTP server plays the
platform's API and records every outbound call, so a test sees exactly what
Twilio, Meta or Telegram would receive.  Webhooks use each platform's real
payload format and signing scheme.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import logging
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Sanic
from twilio.request_validator import RequestValidator

from channels.buttons import OfferedOptions, chosen_payload, numbered_text, options_from
from channels.failure_replies import FAILURE_REPLY
from channels.messenger import ClinicMessengerInput, quick_replies
from channels.rest import ClinicRestInput
from channels.telegram import ClinicTelegramInput, inline_keyboard
from channels.twilio import ClinicTwilioInput
from tests.receivers import run_sanic, twilio_signature

SECRET_TEXT = "my botox bruise is bleeding"  # must never reach the logs
BUTTONS = [
    {"title": "Forehead lines", "payload": "forehead lines"},
    {"title": "Crow's feet", "payload": "crow's feet"},
    {"title": "Book an appointment", "payload": "/book_appointment"},
]
REPLY_TEXT = "Which area would you like treated?"

# Direct connections only: a proxy from the environment must not see loopback calls.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
APP_NUMBERS = itertools.count()


# --- the platform's API: a recording stub -------------------------------------


@dataclass
class Call:
    """One request the connector made to the platform."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(self.body.decode(), keep_blank_values=True))


class PlatformStub:
    """A stdlib HTTP server that records every call and answers like the API."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                url = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                stub.calls.append(
                    Call(
                        "POST",
                        url.path,
                        dict(urllib.parse.parse_qsl(url.query)),
                        {name.lower(): value for name, value in self.headers.items()},
                        self.rfile.read(length),
                    )
                )
                payload = b'{"ok": true, "result": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def start(self) -> PlatformStub:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def calls_to(self, path_end: str) -> list[Call]:
        return [call for call in self.calls if call.path.endswith(path_end)]


@pytest.fixture
def stub() -> Iterator[PlatformStub]:
    platform = PlatformStub().start()
    yield platform
    platform.stop()


# --- the connector in a real Sanic server ----------------------------------------


@pytest.fixture(autouse=True)
def sanic_test_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let one process start many Sanic apps, as Sanic's own test client does.

    Sanic 21.12 rewrites its request methods at every app's start-up and
    breaks on the second app in a process unless it is in test mode.
    """
    monkeypatch.setattr(Sanic, "test_mode", True)


@dataclass
class ServedChannel:
    """A running connector: its webhook URL and what Rasa would have received."""

    base_url: str
    inbox: list[UserMessage] = field(default_factory=list)
    fail: bool = False

    @property
    def webhook(self) -> str:
        return f"{self.base_url}/webhook"

    def texts(self) -> list[str]:
        return [message.text for message in self.inbox]

    def senders(self) -> list[str]:
        return [message.sender_id for message in self.inbox]


@contextmanager
def serve(connector: InputChannel) -> Iterator[ServedChannel]:
    """Mount the connector as Rasa does (/webhooks/<name>) and run it for real."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    served = ServedChannel(f"http://127.0.0.1:{sock.getsockname()[1]}/webhooks/{connector.name()}")

    async def on_new_message(message: UserMessage) -> None:
        served.inbox.append(message)
        if served.fail:
            raise RuntimeError("the assistant is down")
        reply = {"text": REPLY_TEXT, "buttons": [dict(button) for button in BUTTONS]}
        await message.output_channel.send_response(message.sender_id, reply)

    app = Sanic(f"channel_test_{next(APP_NUMBERS)}", configure_logging=False)
    app.blueprint(
        connector.blueprint(on_new_message), url_prefix=f"/webhooks/{connector.url_prefix()}"
    )
    ready, box = threading.Event(), {}
    thread = threading.Thread(target=run_sanic, args=(app, sock, ready, box), daemon=True)
    thread.start()
    assert ready.wait(10), "the Sanic app did not start"
    try:
        yield served
    finally:
        # The connector's client session lives on the server's loop: close it there,
        # as the server's stop listener would.
        from channels.platform import close_http_session

        asyncio.run_coroutine_threadsafe(close_http_session(), box["loop"]).result(10)
        box["loop"].call_soon_threadsafe(box["loop"].stop)
        thread.join(10)
        sock.close()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """POST raw bytes; returns (status, body text) for any status."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with OPENER.open(request, timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def get(url: str) -> tuple[int, str]:
    try:
        with OPENER.open(url, timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


# --- buttons --------------------------------------------------------------------


def test_buttons_become_one_numbered_line_each() -> None:
    text, options = numbered_text("Which area?", BUTTONS)
    assert text == (
        "Which area?\n\n"
        "Reply 1 for Forehead lines\n"
        "Reply 2 for Crow's feet\n"
        "Reply 3 for Book an appointment"
    )
    assert [option.payload for option in options] == [b["payload"] for b in BUTTONS]


def test_link_buttons_are_shown_but_not_numbered() -> None:
    text, options = numbered_text("More", [{"title": "Our site", "url": "https://x.test"}])
    assert text == "More\n\nOur site: https://x.test" and options == []


@pytest.mark.parametrize(
    ("reply", "payload"),
    [("1", "forehead lines"), (" 3. ", "/book_appointment"), ("2)", "crow's feet")]
    + [(reply, None) for reply in ["0", "4", "one", "1 pm", "", "5551234"]],
)
def test_a_numeric_reply_picks_an_offered_option(reply: str, payload: str | None) -> None:
    assert chosen_payload(reply, options_from(BUTTONS)) == payload


def test_options_answer_only_the_next_message_and_memory_is_bounded() -> None:
    offered = OfferedOptions(max_senders=2)
    offered.remember("a", options_from(BUTTONS))
    assert offered.resolve("a", "1") == "forehead lines"
    assert offered.resolve("a", "1") == "1"  # already answered
    for sender in ["a", "b", "c"]:
        offered.remember(sender, options_from(BUTTONS))
    assert offered.take("a") == [] and offered.take("c")


# --- Twilio ----------------------------------------------------------------------

ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
AUTH_TOKEN = "twilio-auth-token-not-secret"
CLINIC_NUMBER = "+15550100"
PUBLIC_URL = "https://bot.clinic.example"
PUBLIC_WEBHOOK = f"{PUBLIC_URL}/webhooks/twilio/webhook"


def twilio_connector(stub: PlatformStub, public_url: str | None = PUBLIC_URL) -> InputChannel:
    credentials = {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "twilio_number": CLINIC_NUMBER,
        "api_base_url": stub.url,
    }
    if public_url:
        credentials["public_url"] = public_url
    return ClinicTwilioInput.from_credentials(credentials)


def sms_form(body: str, sender: str = "+15551234567", to: str = CLINIC_NUMBER) -> dict[str, str]:
    """An inbound message as Twilio posts it, blank fields included."""
    return {
        "ToCountry": "US",
        "ToState": "CA",
        "SmsMessageSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
        "NumMedia": "0",
        "ToCity": "",
        "FromZip": "",
        "SmsSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
        "FromState": "CA",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": "US",
        "To": to,
        "ToZip": "",
        "NumSegments": "1",
        "MessageSid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "ApiVersion": "2010-04-01",
    }


def whatsapp_form(body: str) -> dict[str, str]:
    return {
        "SmsMessageSid": "SM9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
        "NumMedia": "0",
        "ProfileName": "Pat",
        "WaId": "15551234567",
        "SmsSid": "SM9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
        "SmsStatus": "received",
        "Body": body,
        "To": "whatsapp:+14155238886",
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": "SM9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
        "AccountSid": ACCOUNT_SID,
        "From": "whatsapp:+15551234567",
        "ApiVersion": "2010-04-01",
    }


def post_twilio(
    served: ServedChannel,
    form: dict[str, str],
    signed_url: str = PUBLIC_WEBHOOK,
    token: str = AUTH_TOKEN,
    signature: str | None = "compute",
) -> tuple[int, str]:
    """POST a form as Twilio does, signed with Twilio's own reference code."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature == "compute":
        signature = RequestValidator(token).compute_signature(signed_url, form)
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    return post(served.webhook, urllib.parse.urlencode(form).encode(), headers)


def test_signature_matches_twilios_reference_implementation() -> None:
    form = sms_form("Hi")
    assert twilio_signature(AUTH_TOKEN, PUBLIC_WEBHOOK, list(form.items())) == RequestValidator(
        AUTH_TOKEN
    ).compute_signature(PUBLIC_WEBHOOK, form)


def test_signed_sms_is_processed_and_answered_with_numbered_options(stub: PlatformStub) -> None:
    with serve(twilio_connector(stub)) as served:
        status, _ = post_twilio(served, sms_form("How long does Botox last?"))
    assert status == 200
    assert served.texts() == ["How long does Botox last?"]
    assert served.senders() == ["+15551234567"]
    assert served.inbox[0].input_channel == "twilio"
    [call] = stub.calls
    assert call.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    basic = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert call.headers["authorization"] == f"Basic {basic}"
    assert call.form() == {
        "From": CLINIC_NUMBER,
        "To": "+15551234567",
        "Body": REPLY_TEXT + "\n\nReply 1 for Forehead lines\nReply 2 for Crow's feet\n"
        "Reply 3 for Book an appointment",
    }


def test_whatsapp_sender_is_kept_and_answered_over_whatsapp(stub: PlatformStub) -> None:
    with serve(twilio_connector(stub)) as served:
        status, _ = post_twilio(served, whatsapp_form("is botox safe?"))
    assert status == 200
    assert served.senders() == ["whatsapp:+15551234567"]
    [call] = stub.calls
    assert call.form()["To"] == "whatsapp:+15551234567"
    assert call.form()["From"] == "whatsapp:+14155238886"


def test_a_numeric_sms_reply_maps_to_the_offered_buttons_payload(stub: PlatformStub) -> None:
    with serve(twilio_connector(stub)) as served:
        post_twilio(served, sms_form("I'd like Botox"))
        post_twilio(served, sms_form("1"))
        post_twilio(served, sms_form("1", sender="+15559999999"))  # offered nothing
    assert served.texts() == ["I'd like Botox", "forehead lines", "1"]


@pytest.mark.parametrize(
    "forgery",
    ["unsigned", "wrong token", "tampered body", "signed for the internal URL", "garbage"],
)
def test_a_forged_twilio_webhook_gets_403_and_is_not_processed(
    stub: PlatformStub, forgery: str
) -> None:
    form = sms_form("Cancel my appointment")
    with serve(twilio_connector(stub)) as served:
        if forgery == "unsigned":
            status, _ = post_twilio(served, form, signature=None)
        elif forgery == "wrong token":
            status, _ = post_twilio(served, form, token="guessed-token")
        elif forgery == "tampered body":
            signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_WEBHOOK, form)
            status, _ = post_twilio(served, {**form, "From": "+15550000"}, signature=signature)
        elif forgery == "signed for the internal URL":
            status, _ = post_twilio(served, form, signed_url=served.webhook)
        else:
            status, _ = post_twilio(served, form, signature="not base64 at all!")
    assert status == 403
    assert served.inbox == [] and stub.calls == []


def test_signature_over_the_url_with_default_port_is_accepted(stub: PlatformStub) -> None:
    with serve(twilio_connector(stub)) as served:
        status, _ = post_twilio(
            served,
            sms_form("hi"),
            signed_url="https://bot.clinic.example:443/webhooks/twilio/webhook",
        )
    assert status == 200 and served.texts() == ["hi"]


def test_without_public_url_the_url_the_server_sees_is_checked(stub: PlatformStub) -> None:
    with serve(twilio_connector(stub, public_url=None)) as served:
        status, _ = post_twilio(served, sms_form("hi"), signed_url=served.webhook)
    assert status == 200 and served.texts() == ["hi"]


def test_a_picture_without_text_gets_a_polite_reply_and_is_not_processed(
    stub: PlatformStub,
) -> None:
    form = {**sms_form(""), "NumMedia": "1", "MediaUrl0": "https://api.twilio.test/m.jpg"}
    with serve(twilio_connector(stub)) as served:
        status, _ = post_twilio(served, form)
    assert status == 200 and served.inbox == []
    assert "only read text" in stub.calls[0].form()["Body"]


def test_an_overlong_sms_is_answered_by_the_input_guard(
    stub: PlatformStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_MESSAGE_CHARS", "100")
    with serve(twilio_connector(stub)) as served:
        status, _ = post_twilio(served, sms_form("a" * 500))
    assert status == 200 and served.inbox == []
    assert "too long" in stub.calls[0].form()["Body"]


@pytest.mark.parametrize("body", [b"", b"\xff\xfe not utf-8", b"Body=hi&To=%2B15550100"])
def test_malformed_twilio_requests_get_400_never_500(stub: PlatformStub, body: bytes) -> None:
    fields = urllib.parse.parse_qsl(body.decode(errors="replace"), keep_blank_values=True)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilio_signature(AUTH_TOKEN, PUBLIC_WEBHOOK, fields),
    }
    with serve(twilio_connector(stub)) as served:
        status, _ = post(served.webhook, body, headers)
    assert status == 400 and served.inbox == [] and stub.calls == []


def test_a_processing_failure_still_answers_200_and_logs_no_message_text(
    stub: PlatformStub, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with serve(twilio_connector(stub)) as served:
        served.fail = True
        status, _ = post_twilio(served, sms_form(SECRET_TEXT))
    assert status == 200 and served.texts() == [SECRET_TEXT]
    assert "Processing a Twilio message failed" in caplog.text
    assert SECRET_TEXT not in caplog.text
    # The patient is told, not left waiting for an answer that never comes.
    [call] = stub.calls
    assert call.form()["Body"] == FAILURE_REPLY


def test_when_processing_fails_an_emergency_still_gets_the_advice_first(
    stub: PlatformStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database down, say: the channel itself gives the emergency-services advice."""
    from tests.support import TEST_CLINIC

    monkeypatch.setenv("CLINIC_CONFIG", str(TEST_CLINIC))
    emergency = "my lips are swelling and I can't breathe"
    with serve(twilio_connector(stub)) as served:
        served.fail = True
        post_twilio(served, sms_form(emergency))
    bodies = [call.form()["Body"] for call in stub.calls]
    assert len(bodies) == 2 and "911" in bodies[0] and bodies[1] == FAILURE_REPLY
    with serve(ClinicRestInput()) as served:
        served.fail = True
        body = json.dumps({"sender": "web-failing", "message": emergency}).encode()
        status, reply = post(served.webhook, body, {"Content-Type": "application/json"})
        _, calm = post(
            served.webhook,
            json.dumps({"sender": "web-failing", "message": "how long does it last"}).encode(),
            {"Content-Type": "application/json"},
        )
    texts = [message["text"] for message in json.loads(reply)]
    assert status == 200 and "911" in texts[0] and texts[1] == FAILURE_REPLY
    assert [message["text"] for message in json.loads(calm)] == [FAILURE_REPLY]


# --- Messenger -------------------------------------------------------------------

APP_SECRET = "meta-app-secret-not-secret"
PAGE_TOKEN = "page-access-token-not-secret"
VERIFY_TOKEN = "clinic-verify-token"
PSID = "6543210987654321"


def messenger_connector(stub: PlatformStub) -> InputChannel:
    return ClinicMessengerInput.from_credentials(
        {
            "verify": VERIFY_TOKEN,
            "secret": APP_SECRET,
            "page-access-token": PAGE_TOKEN,
            "graph_api_base_url": stub.url,
        }
    )


def messenger_update(*events: dict[str, Any]) -> dict[str, Any]:
    """A webhook call as Meta sends it: page entries with messaging events."""
    return {
        "object": "page",
        "entry": [{"id": "1122334455", "time": 1700000000000, "messaging": list(events)}],
    }


def text_event(text: str, sender: str = PSID, **extra: Any) -> dict[str, Any]:
    return {
        "sender": {"id": sender},
        "recipient": {"id": "1122334455"},
        "timestamp": 1700000000000,
        "message": {"mid": "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM", "text": text, **extra},
    }


def hub_signature(body: bytes, secret: str = APP_SECRET, algorithm: str = "sha256") -> str:
    digest = hmac.new(secret.encode(), body, getattr(hashlib, algorithm)).hexdigest()
    return f"{algorithm}={digest}"


def post_messenger(
    served: ServedChannel, payload: Any, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    """POST a JSON payload signed with X-Hub-Signature-256 (unless headers say otherwise)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    if headers is None:
        headers = {"X-Hub-Signature-256": hub_signature(body)}
    return post(served.webhook, body, {"Content-Type": "application/json", **headers})


def test_signed_messenger_message_is_processed_and_answered_with_quick_replies(
    stub: PlatformStub,
) -> None:
    with serve(messenger_connector(stub)) as served:
        status, _ = post_messenger(served, messenger_update(text_event("hello")))
    assert status == 200
    assert served.texts() == ["hello"] and served.senders() == [PSID]
    assert served.inbox[0].input_channel == "facebook"
    [call] = stub.calls
    assert call.path == "/v17.0/me/messages"
    assert call.query == {"access_token": PAGE_TOKEN}
    assert call.json() == {
        "recipient": {"id": PSID},
        "messaging_type": "RESPONSE",
        "message": {
            "text": REPLY_TEXT,
            "quick_replies": [
                {"content_type": "text", "title": b["title"], "payload": b["payload"]}
                for b in BUTTONS
            ],
        },
    }


def test_a_valid_legacy_sha1_signature_is_accepted(stub: PlatformStub) -> None:
    body = json.dumps(messenger_update(text_event("hello"))).encode()
    with serve(messenger_connector(stub)) as served:
        status, _ = post_messenger(
            served, body, {"X-Hub-Signature": hub_signature(body, algorithm="sha1")}
        )
    assert status == 200 and served.texts() == ["hello"]


@pytest.mark.parametrize(
    "forgery", ["unsigned", "wrong secret", "tampered body", "md5", "sha1 wrong", "garbage"]
)
def test_a_forged_messenger_webhook_gets_403_and_is_not_processed(
    stub: PlatformStub, forgery: str
) -> None:
    body = json.dumps(messenger_update(text_event("hello"))).encode()
    headers = {
        "unsigned": {},
        "wrong secret": {"X-Hub-Signature-256": hub_signature(body, secret="guess")},
        "tampered body": {"X-Hub-Signature-256": hub_signature(body + b" ")},
        "md5": {"X-Hub-Signature": hub_signature(body, algorithm="md5")},
        "sha1 wrong": {"X-Hub-Signature": hub_signature(body, "guess", "sha1")},
        "garbage": {"X-Hub-Signature-256": "sha256", "X-Hub-Signature": "=="},
    }[forgery]
    with serve(messenger_connector(stub)) as served:
        status, _ = post_messenger(served, body, headers)
    assert status == 403
    assert served.inbox == [] and stub.calls == []


def test_quick_replies_postbacks_and_a_whole_batch_are_processed(stub: PlatformStub) -> None:
    postback = {
        "sender": {"id": "222"},
        "recipient": {"id": "1122334455"},
        "timestamp": 1700000000001,
        "postback": {"title": "Book", "payload": "/book_appointment"},
    }
    update = messenger_update(
        text_event("Crow's feet", quick_reply={"payload": "crow's feet"}), postback
    )
    with serve(messenger_connector(stub)) as served:
        status, _ = post_messenger(served, update)
    assert status == 200
    assert served.texts() == ["crow's feet", "/book_appointment"]
    assert served.senders() == [PSID, "222"]


def test_echoes_receipts_and_attachments_are_not_processed(stub: PlatformStub) -> None:
    echo = text_event("from the page", is_echo=True)
    delivery = {"sender": {"id": PSID}, "delivery": {"mids": ["m_1"], "watermark": 1}}
    picture = text_event("")
    picture["message"] = {
        "mid": "m_2",
        "attachments": [{"type": "image", "payload": {"url": "https://cdn.test/x.jpg"}}],
    }
    with serve(messenger_connector(stub)) as served:
        status, _ = post_messenger(served, messenger_update(echo, delivery, picture))
    assert status == 200 and served.inbox == []
    [call] = stub.calls
    assert "only read text" in call.json()["message"]["text"]


@pytest.mark.parametrize("body", [b"", b"{not json", b"[1, 2]", b'{"object": "page"}'])
def test_malformed_messenger_payloads_get_400_never_500(stub: PlatformStub, body: bytes) -> None:
    with serve(messenger_connector(stub)) as served:
        status, _ = post_messenger(served, body)
    assert status == 400 and served.inbox == []


def test_the_verify_token_handshake_works_and_a_wrong_token_gets_403(stub: PlatformStub) -> None:
    def query(token: str) -> str:
        return urllib.parse.urlencode(
            {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "1158201444"}
        )

    with serve(messenger_connector(stub)) as served:
        assert get(f"{served.webhook}?{query(VERIFY_TOKEN)}") == (200, "1158201444")
        assert get(f"{served.webhook}?{query('guess')}")[0] == 403


def test_buttons_messenger_cannot_show_become_numbered_options() -> None:
    long_title = [{"title": "How long does it last?", "payload": "/faq"}]
    assert quick_replies(long_title)[0]["title"] == "How long does it las"
    assert quick_replies([{"title": f"{n}", "payload": f"{n}"} for n in range(14)]) is None
    assert quick_replies([{"title": "Site", "url": "https://x.test"}]) is None


# --- Telegram --------------------------------------------------------------------

BOT_TOKEN = "123456:ABC-not-a-real-token"
TELEGRAM_SECRET = "clinic_telegram_secret-1"
CHAT_ID = 987654321


def telegram_connector(stub: PlatformStub) -> InputChannel:
    return ClinicTelegramInput.from_credentials(
        {"access_token": BOT_TOKEN, "secret_token": TELEGRAM_SECRET, "api_base_url": stub.url}
    )


def telegram_user() -> dict[str, Any]:
    return {"id": CHAT_ID, "is_bot": False, "first_name": "Pat", "language_code": "en"}


def message_update(text: str | None = None, **extra: Any) -> dict[str, Any]:
    """An update with a message, as Telegram posts it to the webhook."""
    message = {
        "message_id": 1365,
        "from": telegram_user(),
        "chat": {"id": CHAT_ID, "first_name": "Pat", "type": "private"},
        "date": 1700000000,
        **extra,
    }
    if text is not None:
        message["text"] = text
    return {"update_id": 10000, "message": message}


def callback_update(data: str) -> dict[str, Any]:
    """An update for a click on an inline keyboard button."""
    return {
        "update_id": 10001,
        "callback_query": {
            "id": "4382bfdwdsb323b2d9",
            "from": telegram_user(),
            "message": {
                "message_id": 1366,
                "from": {"id": 123456, "is_bot": True, "first_name": "Clinic"},
                "chat": {"id": CHAT_ID, "first_name": "Pat", "type": "private"},
                "date": 1700000001,
                "text": REPLY_TEXT,
            },
            "chat_instance": "-8154339390487417352",
            "data": data,
        },
    }


def post_telegram(
    served: ServedChannel, payload: Any, secret: str | None = TELEGRAM_SECRET
) -> tuple[int, str]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    return post(served.webhook, body, headers)


def expected_keyboard() -> dict[str, Any]:
    return {
        "inline_keyboard": [[{"text": b["title"], "callback_data": b["payload"]}] for b in BUTTONS]
    }


def test_telegram_start_up_makes_no_network_call(stub: PlatformStub) -> None:
    connector = telegram_connector(stub)
    connector.get_output_channel()
    with serve(connector) as served:
        assert get(f"{served.base_url}/")[0] == 200
    assert stub.calls == []


def test_a_telegram_message_is_processed_and_answered_with_an_inline_keyboard(
    stub: PlatformStub,
) -> None:
    with serve(telegram_connector(stub)) as served:
        status, _ = post_telegram(served, message_update("How long does Botox last?"))
    assert status == 200
    assert served.texts() == ["How long does Botox last?"]
    assert served.senders() == [str(CHAT_ID)]
    assert served.inbox[0].input_channel == "telegram"
    [call] = stub.calls
    assert call.path == f"/bot{BOT_TOKEN}/sendMessage"
    assert call.json() == {
        "chat_id": CHAT_ID,
        "text": REPLY_TEXT,
        "reply_markup": expected_keyboard(),
    }


def test_a_button_click_is_processed_with_its_callback_data(stub: PlatformStub) -> None:
    with serve(telegram_connector(stub)) as served:
        status, _ = post_telegram(served, callback_update("/book_appointment"))
    assert status == 200
    assert served.texts() == ["/book_appointment"] and served.senders() == [str(CHAT_ID)]
    [answer] = stub.calls_to("/answerCallbackQuery")
    assert answer.json() == {"callback_query_id": "4382bfdwdsb323b2d9"}
    assert stub.calls_to("/sendMessage")[0].json()["reply_markup"] == expected_keyboard()


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", TELEGRAM_SECRET + "x"])
def test_a_telegram_update_without_the_secret_gets_403_and_is_not_processed(
    stub: PlatformStub, secret: str | None
) -> None:
    with serve(telegram_connector(stub)) as served:
        status, _ = post_telegram(served, message_update("hi"), secret=secret)
    assert status == 403
    assert served.inbox == [] and stub.calls == []


def test_start_command_greets(stub: PlatformStub) -> None:
    with serve(telegram_connector(stub)) as served:
        post_telegram(served, message_update("/start"))
    assert served.texts() == ["/greet"]


def test_non_text_messages_get_a_polite_reply_and_edits_are_ignored(stub: PlatformStub) -> None:
    sticker = message_update(sticker={"file_id": "CAACAgIAAxk", "emoji": "👍"})
    edited = {"update_id": 10002, "edited_message": message_update("hi")["message"]}
    with serve(telegram_connector(stub)) as served:
        assert post_telegram(served, sticker)[0] == 200
        assert post_telegram(served, edited)[0] == 200
    assert served.inbox == []
    [call] = stub.calls
    assert "only read text" in call.json()["text"] and call.json()["chat_id"] == CHAT_ID


@pytest.mark.parametrize(
    ("body", "expected"),
    [(b"", 400), (b"{not json", 400), (b'"a string"', 400), (b'{"message": {"text": "x"}}', 200)],
)
def test_malformed_telegram_updates_get_400_or_200_never_500(
    stub: PlatformStub, body: bytes, expected: int
) -> None:
    with serve(telegram_connector(stub)) as served:
        status, _ = post_telegram(served, body)
    assert status == expected and served.inbox == []


def test_buttons_telegram_cannot_show_become_numbered_options() -> None:
    assert inline_keyboard(BUTTONS) == expected_keyboard()
    assert inline_keyboard([{"title": "Long", "payload": "x" * 65}]) is None


# --- credentials ------------------------------------------------------------------


def test_each_connector_reads_its_documented_credentials() -> None:
    twilio = ClinicTwilioInput.from_credentials(
        {
            "account_sid": "AC1",
            "auth_token": "t",
            "twilio_number": "+1",
            "public_url": "https://x.test/",
            "api_base_url": "http://127.0.0.1:1",
        }
    )
    assert (twilio.account_sid, twilio.auth_token, twilio.twilio_number) == ("AC1", "t", "+1")
    assert (twilio.public_url, twilio.api_base_url) == ("https://x.test", "http://127.0.0.1:1")
    messenger = ClinicMessengerInput.from_credentials(
        {"verify": "v", "secret": "s", "page-access-token": "p"}
    )
    assert (messenger.fb_verify, messenger.fb_secret, messenger.fb_access_token) == ("v", "s", "p")
    assert messenger.graph_api_base_url == "https://graph.facebook.com"
    telegram = ClinicTelegramInput.from_credentials({"access_token": "a", "secret_token": "s"})
    assert (telegram.access_token, telegram.secret_token) == ("a", "s")
    assert telegram.api_base_url == "https://api.telegram.org"
    assert [c.name() for c in (twilio, messenger, telegram)] == ["twilio", "facebook", "telegram"]


def test_a_message_sent_again_is_answered_from_the_record() -> None:
    """The replies to message m2 (and only those) are given again; an unknown id is new."""
    from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered

    from channels.rest import replies_after

    events = [
        UserUttered("hi", message_id="m1"),
        BotUttered("Hello!"),
        UserUttered("how long does it last", message_id="m2"),
        ActionExecuted("utter_faq"),
        BotUttered("About 3-4 months.", data={"buttons": [{"title": "More", "payload": "/more"}]}),
        BotUttered("Anything else?"),
        UserUttered("thanks", message_id="m3"),
        BotUttered("You're welcome."),
    ]
    assert replies_after(events, "p1", "m2") == [
        {
            "recipient_id": "p1",
            "text": "About 3-4 months.",
            "buttons": [{"title": "More", "payload": "/more"}],
        },
        {"recipient_id": "p1", "text": "Anything else?"},
    ]
    assert replies_after(events, "p1", "m3") == [{"recipient_id": "p1", "text": "You're welcome."}]
    assert replies_after(events, "p1", "m9") is None


def test_every_reply_of_a_process_reuses_one_http_session() -> None:
    """One client session (one connection pool) per process and loop, closed at shutdown."""
    from channels import platform

    async def sessions() -> tuple[Any, Any, Any]:
        first, second = platform.http_session(), platform.http_session()
        await platform.close_http_session()
        third = platform.http_session()
        await platform.close_http_session()
        return first, second, third

    first, second, third = asyncio.run(sessions())
    assert first is second and first.closed
    assert third is not first and third.closed
