"""Rasa's HTTP API answers a malformed body with 400, not a server error.

Rasa 3.6's handlers assume the JSON they were sent has the right shape:
`/model/parse` with `{}`, `null` or text that is not valid Unicode, a
`/conversations/<id>/messages` or `/trigger_intent` body that is not an
object, an empty event list, or `PUT /model` with a list all end in a 500
(found by tests/test_fuzz.py).  The API needs the token, but a clinic's
integration that sends one bad request should learn what was wrong, and a
500 is what monitoring pages someone for.

This module wraps `rasa.server.create_app` (installed by serving/patches.py)
to add one request middleware that checks the body of those routes before
Rasa's handler runs, and answers in Rasa's own error format.  Well-formed
requests reach Rasa unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import rasa
import rasa.server
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

_original_create_app = rasa.server.create_app

# Rasa reads the conversation id as a path: it may be empty or hold slashes.
_CONVERSATION = r"/conversations/.*"
# What a route's body must be: None when it is fine, else what is wrong.
Shape = Callable[[Any], "str | None"]


def _object_with_text(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    if not isinstance(body.get("text"), str):
        return 'the body needs "text", a string'
    return None


def _object(body: Any) -> str | None:
    return None if isinstance(body, dict) else "the body must be a JSON object"


def _events(body: Any) -> str | None:
    if isinstance(body, dict):
        return None
    return _event_list(body)


def _event_list(body: Any) -> str | None:
    if isinstance(body, list) and body and all(isinstance(event, dict) for event in body):
        return None
    return "the body must be a non-empty list of event objects"


ROUTES: tuple[tuple[str, re.Pattern[str], Shape], ...] = (
    ("POST", re.compile(r"/model/parse/?"), _object_with_text),
    ("POST", re.compile(rf"{_CONVERSATION}/messages/?"), _object_with_text),
    ("POST", re.compile(rf"{_CONVERSATION}/trigger_intent/?"), _object),
    ("POST", re.compile(rf"{_CONVERSATION}/execute/?"), _object),
    ("POST", re.compile(rf"{_CONVERSATION}/tracker/events/?"), _events),
    # PUT replaces the whole conversation: Rasa reads a list only.
    ("PUT", re.compile(rf"{_CONVERSATION}/tracker/events/?"), _event_list),
    ("PUT", re.compile(r"/model/?"), _object),
)


def _valid_unicode(value: Any) -> bool:
    """No lone surrogate anywhere (JSON allows "\\ud800"; nothing can store it).

    Walked with a list, not recursion: a body nested a few hundred deep parses,
    and must not then exhaust the stack here."""
    waiting = [value]
    while waiting:
        item = waiting.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            waiting.extend(item.keys())
            waiting.extend(item.values())
        elif isinstance(item, list):
            waiting.extend(item)
    return True


def problem(method: str, path: str, raw: bytes) -> str | None:
    """What is wrong with the body of this request (None: fine, or not checked here)."""
    for route_method, pattern, shape in ROUTES:
        if method == route_method and pattern.fullmatch(path):
            try:
                body = json.loads(raw)
            except (ValueError, RecursionError):
                return "the body must be JSON (UTF-8)"
            if not _valid_unicode(body):
                return "the body holds text that is not valid Unicode"
            return shape(body)
    return None


def bad_request(message: str) -> HTTPResponse:
    """Rasa's own error format (rasa.server.ErrorResponse)."""
    return response.json(
        {
            "version": rasa.__version__,
            "status": "failure",
            "message": message,
            "reason": "BadRequest",
            "details": {},
            "help": None,
            "code": 400,
        },
        status=400,
    )


async def check_body(request: Request) -> HTTPResponse | None:
    message = problem(request.method, request.path, request.body or b"")
    return None if message is None else bad_request(message)


def create_app_with_body_checks(*args: Any, **kwargs: Any) -> Sanic:
    app = _original_create_app(*args, **kwargs)
    app.register_middleware(check_body, "request")
    return app


def install() -> None:
    rasa.server.create_app = create_app_with_body_checks


def uninstall() -> None:
    rasa.server.create_app = _original_create_app
