"""Hostile and malformed requests against every public door: zero 5xx, nobody dies.

Hypothesis (derandomized: the same requests on every run, so a failure is
reproducible and CI is never red by chance) generates well over a thousand
requests, sent as raw bytes over a socket so nothing in an HTTP client tidies
them up:

- the REST channel (wrong types, deep JSON, invalid UTF-8, lone surrogates,
  control characters, huge bodies and headers, `/intent{...}` injection);
- Rasa's HTTP API, with no token, a wrong one and the right one;
- the Twilio webhook of the running assistant, signed and forged;
- the Messenger and Telegram webhooks (real Sanic servers, as in
  tests/test_channels.py), signed and forged;
- the widget's page server (path traversal, NUL bytes, encoded slashes);
- the staff console (random paths, forged login forms).

Every answer must be a proper HTTP answer below 500; afterwards every server
still answers, no file outside the widget's folder was ever served, and no
injected intent drove a conversation.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import urllib.parse
import uuid
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.input_guard import offered_commands
from tests.receivers import twilio_signature
from tests.support import TWILIO_TEST_TOKEN, RunningAssistant, http
from tests.test_channels import (
    TELEGRAM_SECRET,
    PlatformStub,
    hub_signature,
    message_update,
    messenger_connector,
    messenger_update,
    post_messenger,
    post_telegram,
    sanic_test_mode,  # noqa: F401 - Sanic's test mode, here too
    serve,
    stub,  # noqa: F401 - the fixture
    telegram_connector,
    text_event,
)

pytestmark = pytest.mark.e2e

SENT: Counter[str] = Counter()
STATUSES: Counter[tuple[str, int | None]] = Counter()
FUZZ_SENDERS: set[str] = set()
# Text of files the widget's server must never hand out.
SECRET_MARKERS = (b"root:x:0:0", b"[project]", b"DATABASE_URL", b"BEGIN PRIVATE KEY")
FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


# --- sending raw requests -------------------------------------------------------------


def raw_request(
    url: str,
    method: bytes,
    target: bytes,
    headers: list[tuple[bytes, bytes]] = (),  # type: ignore[assignment]
    body: bytes = b"",
) -> tuple[int | None, bytes]:
    """Send one request byte for byte; (status, whole response) or (None, b"") when
    the server closed the connection without an answer."""
    parsed = urllib.parse.urlsplit(url)
    lines = [method + b" " + target + b" HTTP/1.1", f"Host: {parsed.netloc}".encode()]
    lines += [name + b": " + value for name, value in headers]
    lines += [f"Content-Length: {len(body)}".encode(), b"Connection: close"]
    request = b"\r\n".join(lines) + b"\r\n\r\n" + body
    response = b""
    with socket.create_connection((parsed.hostname, parsed.port), timeout=60) as sock:
        # Answered (e.g. 413) before the whole body was read: read the answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        try:
            while chunk := sock.recv(65536):
                response += chunk
        except ConnectionResetError:
            pass
    if not response.startswith(b"HTTP/1."):
        return None, response
    return int(response.split(b" ", 2)[1]), response


def answered_properly(status: int | None, where: str) -> None:
    SENT[where] += 1
    STATUSES[where, status] += 1
    assert status is not None, f"{where}: the connection was dropped without an answer"
    assert status < 500, f"{where}: answered {status}"


def path_of(url: str) -> bytes:
    return urllib.parse.urlsplit(url).path.encode()


# --- what is sent -----------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
hostile_text = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=40),  # control characters
    st.text(alphabet=st.characters(blacklist_categories=()), max_size=80),  # surrogates included
    st.from_regex(r"\A ?/+[A-Za-z_]{1,30}(\{[^}]{0,40}\})?\Z"),  # Rasa's slash syntax
    st.sampled_from(
        [
            "/restart",
            '/report_symptom{"severity": "emergency"}',
            "/escalate_emergency",
            "/session_start",
            '/book_appointment{"patient_name": "x"}',
            "/EXTERNAL_reminder",
            "/ /restart",
            "\u202e/restart",
            "x" * 5000,
        ]
    ),
)
deep_json = st.integers(min_value=50, max_value=200_000).map(lambda n: b"[" * n + b"]" * n)
senders = st.one_of(
    st.from_regex(r"\A[A-Za-z0-9_]{1,20}\Z").map(lambda s: f"fz{s}"),
    json_values,
    st.text(max_size=300),
)
rest_bodies = st.one_of(
    st.fixed_dictionaries(
        {"sender": st.from_regex(r"\A[A-Za-z0-9_]{1,20}\Z").map(lambda s: f"fz{s}")},
        optional={"message": hostile_text},
    ).map(lambda value: json.dumps(value).encode()),
    st.fixed_dictionaries(
        {"sender": senders, "message": st.one_of(hostile_text, json_values)},
        optional={"message_id": json_values, "resend": json_values, "metadata": json_values},
    ).map(lambda value: json.dumps(value).encode()),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=600),
    deep_json,
    st.sampled_from(
        [
            b'{"sender": "fzutf8", "message": "\xff\xfe\xfd"}',
            b'{"sender": "fzsurrogate", "message": "\\ud800"}',
            b'{"sender": "fzbig", "message": "' + b"a" * 2_000_000 + b'"}',
            b'{"sender": "fznum", "message": 1e999}',
            b'{"sender": "fzdup", "sender": "x", "message": "hi"}',
        ]
    ),
)
content_types = st.sampled_from(
    [b"application/json", b"text/plain", b"application/x-www-form-urlencoded", b"", b"\x00\xff"]
)
extra_headers = st.lists(
    st.tuples(
        st.sampled_from([b"X-Fuzz", b"Cookie", b"Authorization", b"X-Real-IP", b"Accept"]),
        st.one_of(
            st.binary(max_size=100).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
            st.integers(min_value=1_000, max_value=100_000).map(lambda n: b"a" * n),
        ),
    ),
    max_size=1,
)


def remember_sender(body: bytes) -> None:
    try:
        sender = json.loads(body).get("sender")
    except (ValueError, AttributeError, RecursionError):
        return
    if isinstance(sender, str) and sender.startswith("fz"):
        FUZZ_SENDERS.add(sender)


# --- the running assistant ------------------------------------------------------------


def test_the_rest_channel_answers_every_hostile_request(assistant: RunningAssistant) -> None:
    webhook = path_of(f"{assistant.rasa_url}/webhooks/rest/webhook")

    @settings(FUZZ, max_examples=350)
    @given(body=rest_bodies, content_type=content_types, headers=extra_headers)
    def one(body: bytes, content_type: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        remember_sender(body)
        status, _ = raw_request(
            assistant.rasa_url, b"POST", webhook, [(b"Content-Type", content_type), *headers], body
        )
        answered_properly(status, "rest")

    one()


def test_the_http_api_answers_every_hostile_request(assistant: RunningAssistant) -> None:
    # Mostly each path's own method, so that the garbage reaches its handler.  Not
    # PUT or DELETE /model: with the right token they would unload the model the
    # other tests use (serving/api_guard.py's own tests cover PUT /model).
    routes = st.sampled_from(
        [
            (b"POST", "/model/parse"),
            (b"GET", "/conversations/{id}/tracker"),
            (b"POST", "/conversations/{id}/messages"),
            (b"POST", "/conversations/{id}/tracker/events"),
            (b"PUT", "/conversations/{id}/tracker/events"),
            (b"POST", "/conversations/{id}/execute"),
            (b"POST", "/conversations/{id}/trigger_intent"),
            (b"POST", "/conversations/{id}/predict"),
            (b"GET", "/conversations/{id}/story"),
            (b"GET", "/status"),
            (b"GET", "/version"),
            (b"GET", "/webhooks/../conversations/x/tracker"),
        ]
    )
    other_method = st.sampled_from([None, None, None, b"GET", b"POST", b"PATCH", b"FOO"])
    conversation_ids = st.one_of(
        st.from_regex(r"\A[A-Za-z0-9_]{1,12}\Z").map(lambda s: f"fzapi{s}"),
        st.text(max_size=30).map(lambda s: urllib.parse.quote(s, safe="")),
    )
    tokens = st.sampled_from(["", "wrong", assistant.token, assistant.token, "%00", "a" * 5000])

    @settings(FUZZ, max_examples=200)
    @given(
        route=routes,
        method=other_method,
        conversation=conversation_ids,
        token=tokens,
        body=st.one_of(
            json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200), deep_json
        ),
    )
    def one(
        route: tuple[bytes, str], method: bytes | None, conversation: str, token: str, body: bytes
    ) -> None:
        method = method or route[0]
        target = route[1].replace("{id}", conversation)
        if token:
            target += f"?token={urllib.parse.quote(token)}"
        status, _ = raw_request(
            assistant.rasa_url,
            method,
            target.encode(),
            [(b"Content-Type", b"application/json")],
            body,
        )
        answered_properly(status, "http api")

    one()


def test_the_twilio_webhook_answers_every_hostile_request(assistant: RunningAssistant) -> None:
    url = f"{assistant.rasa_url}/webhooks/twilio/webhook"
    fields = st.lists(
        st.tuples(
            st.sampled_from(["From", "To", "Body", "NumMedia", "MessageSid", "X"]),
            st.one_of(hostile_text, st.sampled_from(["+15550009999", "whatsapp:+1555", "9" * 40])),
        ),
        max_size=6,
    )

    @settings(FUZZ, max_examples=150)
    @given(form=fields, signed=st.booleans(), garbage=st.binary(max_size=300))
    def one(form: list[tuple[str, str]], signed: bool, garbage: bytes) -> None:
        try:
            body = urllib.parse.urlencode(form).encode()
        except UnicodeEncodeError:
            body = garbage
        headers = [(b"Content-Type", b"application/x-www-form-urlencoded")]
        if signed:
            with contextlib.suppress(UnicodeEncodeError):
                headers.append(
                    (b"X-Twilio-Signature", twilio_signature(TWILIO_TEST_TOKEN, url, form).encode())
                )
        else:
            headers.append((b"X-Twilio-Signature", base64.b64encode(garbage[:20])))
        status, _ = raw_request(assistant.rasa_url, b"POST", path_of(url), headers, body)
        answered_properly(status, "twilio")

    one()


def test_the_widget_server_serves_only_the_widget(assistant: RunningAssistant) -> None:
    traversals = st.sampled_from(
        [
            b"/../../../../etc/passwd",
            b"/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
            b"/..%2f..%2f..%2fetc%2fpasswd",
            b"/widget/../../pyproject.toml",
            b"/%2e%2e%2fpyproject.toml",
            b"//etc/passwd",
            b"/etc/passwd%00.js",
            b"/clinic-chat.js%00",
            b"/\x00",
            b"/..\\..\\pyproject.toml",
            b"/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
            b"/" + b"a" * 10_000,
            b"*",
            b"http://evil.example/",
        ]
    )
    random_paths = st.binary(max_size=80).map(
        lambda b: b"/" + b.replace(b" ", b"%20").replace(b"\r", b"").replace(b"\n", b"")
    )

    @settings(FUZZ, max_examples=150)
    @given(
        target=st.one_of(traversals, random_paths),
        method=st.sampled_from([b"GET", b"HEAD", b"POST", b"OPTIONS"]),
    )
    def one(target: bytes, method: bytes) -> None:
        status, response = raw_request(assistant.widget_url, method, target)
        answered_properly(status, "widget")
        assert not any(marker in response for marker in SECRET_MARKERS), target

    one()


def test_the_staff_console_answers_every_hostile_request(assistant: RunningAssistant) -> None:
    paths = st.one_of(
        st.sampled_from(
            [b"/login", b"/logout", b"/queues", b"/admin", b"/exports/nlu", b"/static/../web.py"]
        ),
        st.binary(max_size=40).map(
            lambda b: b"/" + urllib.parse.quote_from_bytes(b, safe="/%").encode()
        ),
    )
    forms = st.one_of(
        st.dictionaries(
            st.sampled_from(["username", "password", "csrf", "code", "x"]), hostile_text, max_size=4
        ).map(lambda d: urllib.parse.urlencode(d, errors="surrogatepass").encode()),
        st.binary(max_size=300),
    )

    @settings(FUZZ, max_examples=150)
    @given(
        path=paths,
        method=st.sampled_from([b"GET", b"POST"]),
        body=forms,
        cookie=st.binary(max_size=200).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
    )
    def one(path: bytes, method: bytes, body: bytes, cookie: bytes) -> None:
        headers = [
            (b"Content-Type", b"application/x-www-form-urlencoded"),
            (b"Cookie", b"staff_login_csrf=" + cookie),
        ]
        status, _ = raw_request(assistant.staff_url, method, path, headers, body)
        answered_properly(status, "staff console")

    one()


# --- the messaging connectors in their own servers ----------------------------------------


def test_the_messenger_and_telegram_webhooks_answer_every_hostile_request(
    stub: PlatformStub,  # noqa: F811 - the fixture
) -> None:
    payloads = st.one_of(
        json_values.map(lambda v: json.dumps(v).encode()),
        st.fixed_dictionaries(
            {
                "object": st.one_of(st.just("page"), json_values),
                "entry": st.lists(
                    st.fixed_dictionaries(
                        {"messaging": st.lists(json_values, max_size=3)},
                        optional={"id": json_values},
                    ),
                    max_size=3,
                ),
            }
        ).map(lambda v: json.dumps(v).encode()),
        st.fixed_dictionaries(
            {"update_id": json_values},
            optional={"message": json_values, "callback_query": json_values},
        ).map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=400),
        deep_json,
    )
    with serve(messenger_connector(stub)) as messenger, serve(telegram_connector(stub)) as telegram:

        @settings(FUZZ, max_examples=200)
        @given(body=payloads, signed=st.booleans(), to_telegram=st.booleans())
        def one(body: bytes, signed: bool, to_telegram: bool) -> None:
            headers = [(b"Content-Type", b"application/json")]
            if to_telegram:
                secret = TELEGRAM_SECRET if signed else "forged"
                headers.append((b"X-Telegram-Bot-Api-Secret-Token", secret.encode()))
                target = telegram.webhook
            else:
                signature = hub_signature(body) if signed else "sha256=" + "0" * 64
                headers.append((b"X-Hub-Signature-256", signature.encode()))
                target = messenger.webhook
            status, _ = raw_request(target, b"POST", path_of(target), headers, body)
            answered_properly(status, "telegram" if to_telegram else "messenger")

        one()
        # Both still take a proper message afterwards.
        received = len(messenger.inbox), len(telegram.inbox)
        assert post_messenger(messenger, messenger_update(text_event("hello")))[0] == 200
        assert post_telegram(telegram, message_update("hello"))[0] == 200
        assert (len(messenger.inbox), len(telegram.inbox)) == (received[0] + 1, received[1] + 1)


# --- afterwards ---------------------------------------------------------------------------


def test_afterwards_everything_still_answers_and_no_injected_intent_drove_a_conversation(
    assistant: RunningAssistant,
) -> None:
    total = sum(SENT.values())
    print(f"fuzz requests sent: {total} ({dict(SENT)})")
    print("answers:", ", ".join(f"{w} {s}: {n}" for (w, s), n in sorted(STATUSES.items())))
    assert total >= 1000, f"only {total} hostile requests were sent (run the whole module)"
    sender = f"after-fuzz-{uuid.uuid4().hex[:6]}"
    assert any("6 months" in text for text in assistant.texts(sender, "how long does botox last"))
    status, _ = http("GET", f"{assistant.widget_url}/")
    assert status == 200
    status, _ = http("GET", f"{assistant.staff_url}/login")
    assert status == 200
    offered = offered_commands()
    checked = 0
    for fuzz_sender in sorted(FUZZ_SENDERS)[:60]:
        status, tracker = http(
            "GET",
            f"{assistant.rasa_url}/conversations/{fuzz_sender}/tracker?token={assistant.token}",
        )
        assert status == 200
        for event in tracker["events"]:
            if event["event"] == "user" and (event.get("text") or "").lstrip().startswith("/"):
                assert event["text"].strip() in offered, event["text"]
        checked += 1
    assert checked, "no fuzz conversation was stored: the REST fuzz sent nothing valid"
