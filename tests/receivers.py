"""Local stand-ins for the clinic's systems (an HTTP webhook, an SMTP server) and for
the messaging platforms' side of a webhook (Twilio's request signature)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from sanic import Sanic


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """Records every POST; answers with the queued status codes, then 200."""

    port: int
    requests: list[ReceivedRequest] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/clinic-hook"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if status == 200:
                    receiver.requests.append(
                        ReceivedRequest(self.path, dict(self.headers.items()), body)
                    )
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


class _Collector:
    def __init__(self) -> None:
        self.messages: list[dict[str, object]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        self.messages.append(
            {
                "from": envelope.mail_from,
                "to": list(envelope.rcpt_tos),
                "data": envelope.content.decode("utf-8", "replace"),
            }
        )
        return "250 OK"


class SmtpReceiver:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.collector = _Collector()
        self.controller = Controller(self.collector, hostname="127.0.0.1", port=port)

    @property
    def messages(self) -> list[dict[str, object]]:
        return self.collector.messages

    def start(self) -> SmtpReceiver:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


def run_sanic(app: Sanic, sock: socket.socket, ready: threading.Event, box: dict) -> None:
    """Serve a Sanic app on its own event loop (in a thread) until that loop is stopped.

    sanic 21.12 has no test client here, so tests run the app for real.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    box["loop"] = loop
    # create_server already listens; requests wait for startup() below.
    server = loop.run_until_complete(
        app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    )
    loop.run_until_complete(server.startup())
    loop.run_until_complete(server.before_start())
    loop.run_until_complete(server.after_start())
    ready.set()
    loop.run_forever()
    loop.run_until_complete(server.close())
    loop.close()


def twilio_signature(auth_token: str, url: str, fields: list[tuple[str, str]]) -> str:
    """How Twilio signs a webhook: base64 HMAC-SHA1 of the URL plus the sorted
    name+value pairs (written from Twilio's documentation, independently of the
    `twilio` package the channel checks with)."""
    signed = url + "".join(name + value for name, value in sorted(fields))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()
