"""The action server's launcher: rasa_sdk's own app, answering only the Rasa servers.

rasa_sdk's server has no authentication: anyone who reaches its port could
run any action, for example store a fake emergency and page the clinic.  It
already listens on loopback only; this launcher also requires, on every call
but the health check, the shared secret the supervisor gives the Rasa
servers (`ACTION_SERVER_TOKEN`, sent in the `X-Clinic-Action-Token` header
configured in endpoints.yml).  A call without it, or with another, gets 401.

`python -m serving.action_server --actions actions --port 5055`.  The app is
built by rasa_sdk's public `create_app`, so the actions run exactly as under
`python -m rasa_sdk`; the secret is read from the environment and removed
from it before any action code runs.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os

from rasa_sdk import utils
from rasa_sdk.endpoint import create_app
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

TOKEN_HEADER = "X-Clinic-Action-Token"
TOKEN_ENV = "ACTION_SERVER_TOKEN"
OPEN_PATHS = ("/health",)

logger = logging.getLogger(__name__)


def require_token(app: Sanic, token: str) -> None:
    """Answer 401 to every call but the health check that lacks the shared secret."""
    expected = token.encode("utf-8")

    @app.middleware("request")
    async def check_token(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        given = (request.headers.get(TOKEN_HEADER) or "").encode("utf-8")
        if not hmac.compare_digest(given, expected):
            logger.warning("Refused an action call without the shared secret.")
            return response.json({"error": "unauthorized"}, status=401)
        return None


# How long an idle connection from a Rasa server is kept: longer than the Rasa
# servers keep one (serving/action_endpoint.py), so that the action server
# never closes a connection they are about to reuse.
SERVER_KEEP_ALIVE_S = 30


def build_app(actions: str, token: str) -> Sanic:
    if not token:
        raise SystemExit(f"{TOKEN_ENV} is not set: the action server refuses to run open.")
    app = create_app(actions, cors_origins=[])
    require_token(app, token)
    app.config.KEEP_ALIVE_TIMEOUT = SERVER_KEEP_ALIVE_S
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The action server, with its shared secret.")
    parser.add_argument("--actions", default="actions")
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    token = os.environ.pop(TOKEN_ENV, "")
    app = build_app(args.actions, token)
    # Loopback only: the Rasa servers (or nginx in front of several action
    # servers) are its only callers.
    app.run("127.0.0.1", args.port, workers=utils.number_of_sanic_workers(), access_log=False)


if __name__ == "__main__":
    main()
