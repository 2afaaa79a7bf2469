"""The HTTP API's body checks (serving/api_guard.py): each shape Rasa's handlers
fail on with a 500 gets a 400 instead; the bodies they accept pass unchanged.
The running server is fuzzed in tests/test_fuzz.py."""

from __future__ import annotations

import pytest

from serving.api_guard import problem


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/model/parse", b"{}"),
        ("POST", "/model/parse", b"null"),
        ("POST", "/model/parse", b'{"text": 1}'),
        ("POST", "/model/parse", b'{"text": "\\ud800"}'),
        ("POST", "/model/parse", b"\xff"),
        ("POST", "/model/parse", b"[" * 100_000 + b"]" * 100_000),
        ("POST", "/conversations/p1/messages", b"[]"),
        ("POST", "/conversations//messages", b"null"),
        ("POST", "/conversations/a/b/messages", b"1"),
        ("POST", "/conversations/p1/trigger_intent", b'"x"'),
        ("POST", "/conversations/p1/tracker/events", b"[]"),
        ("PUT", "/conversations/p1/tracker/events", b"[1]"),
        ("PUT", "/conversations/p1/tracker/events", b'{"event": "restart"}'),
        ("POST", "/model/parse", b"[" * 450 + b"]" * 450),  # parses, then must not recurse
        ("PUT", "/model", b"[]"),
    ],
)
def test_a_body_rasa_would_fail_on_is_refused(method: str, path: str, body: bytes) -> None:
    assert problem(method, path, body)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/model/parse", b'{"text": "how long does botox last"}'),
        ("POST", "/conversations/p1/messages", b'{"text": "hi", "sender": "user"}'),
        ("POST", "/conversations/p1/trigger_intent", b'{"name": "greet"}'),
        ("POST", "/conversations/p1/execute", b'{"name": "utter_greet"}'),
        ("POST", "/conversations/p1/tracker/events", b'[{"event": "restart"}]'),
        ("PUT", "/model", b'{"model_file": "models/x.tar.gz"}'),
        ("GET", "/conversations/p1/tracker", b""),  # not checked here
        ("POST", "/webhooks/rest/webhook", b"null"),  # the channels check their own
    ],
)
def test_a_well_formed_body_passes(method: str, path: str, body: bytes) -> None:
    assert problem(method, path, body) is None
