"""Serve the chat widget and the demo clinic page (`make run` starts this).

Static files only; the demo page learns the assistant's public URL
(`RASA_PUBLIC_URL`) and the clinic's name from here, so it works whatever
ports are configured.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from clinic_core import settings
from clinic_core.settings import PROJECT_ROOT

ROOT = PROJECT_ROOT
WIDGET_DIR = ROOT / "widget"


def content_security_policy(page: str, rasa_url: str) -> str:
    """No inline script; the page's own inline stylesheet by its hash; the widget
    may call only the assistant's address."""
    styles = re.findall(r"<style>(.*?)</style>", page, re.DOTALL)
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in styles
    )
    parts = urlsplit(rasa_url)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "'none'"
    return (
        "default-src 'none'; script-src 'self'; "
        f"style-src 'self' {hashes}; img-src 'self' data:; connect-src {origin}; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


class WidgetHandler(SimpleHTTPRequestHandler):
    """Files from widget/, with the demo page's placeholders filled in."""

    csp = "default-src 'none'; frame-ancestors 'none'"

    def send_head(self):  # noqa: ANN201 - http.server's signature
        """Any path that cannot name a file (a NUL byte...) gets a 400, not a dropped
        connection."""
        try:
            return super().send_head()
        except ValueError:
            self.send_error(400, "Bad path")
            return None

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path.split("?")[0] in ("/", "/index.html"):
            self.send_demo_page()
        else:
            super().do_GET()

    def __getattr__(self, name: str) -> Any:
        """Any other method (POST, PUT, FOO...) gets 405, not http.server's 501:
        the request is wrong, not the server."""
        if name.startswith("do_"):
            return self.refuse_method
        raise AttributeError(name)

    def refuse_method(self) -> None:
        self.send_response(405)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def send_demo_page(self) -> None:
        from clinic_core.clinic import load_clinic

        page = (WIDGET_DIR / "index.html").read_text(encoding="utf-8")
        rasa_url = str(settings.load().rasa_public_url)
        self.csp = content_security_policy(page, rasa_url)
        values = {
            "{{RASA_URL}}": rasa_url,
            "{{CLINIC_NAME}}": load_clinic().name,
        }
        for placeholder, value in values.items():
            page = page.replace(placeholder, html.escape(value, quote=True))
        body = page.encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def end_headers(self) -> None:
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Content-Security-Policy", self.csp)
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        super().end_headers()

    def log_message(self, *args: object) -> None:
        return  # page requests carry nothing worth logging


def main() -> None:
    port = settings.load().widget_port
    handler = partial(WidgetHandler, directory=str(WIDGET_DIR))
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    print(f"Demo clinic page with the chat widget: http://localhost:{port}/", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
