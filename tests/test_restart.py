"""A conversation survives a restart of the servers mid-conversation.

The widget talks REST and keeps the sender id in the browser; the
conversation itself lives in the SQL tracker store under DATA_DIR.  So a
booking half-way through continues where it was after everything restarts.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.support import TEST_CLINIC, free_port, http, start_servers, stop_servers

pytestmark = pytest.mark.e2e


def say(rasa_url: str, sender: str, text: str) -> str:
    status, replies = http(
        "POST", f"{rasa_url}/webhooks/rest/webhook", {"sender": sender, "message": text}
    )
    assert status == 200, replies
    return " ".join(reply.get("text") or "" for reply in replies)


def test_a_booking_continues_after_a_restart(trained_model: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "DATABASE_URL"))}
    env.update(
        {
            "RASA_PORT": str(free_port()),
            "ACTIONS_PORT": str(free_port()),
            "WIDGET_PORT": str(free_port()),
            "STAFF_PORT": str(free_port()),
            "DATA_DIR": str(tmp_path / "var"),
            "CLINIC_CONFIG": str(TEST_CLINIC),
            "RASA_AUTH_TOKEN": "restart-test",
            "MODEL_PATH": str(trained_model),
        }
    )
    rasa_url = f"http://127.0.0.1:{env['RASA_PORT']}"
    sender = f"restart-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "servers.log"

    process = start_servers(env, log)
    try:
        assert "full name" in say(rasa_url, sender, "I'd like to book an appointment")
        assert "phone number" in say(rasa_url, sender, "Ana Diaz")
    finally:
        stop_servers(process)

    process = start_servers(env, log)
    try:
        reply = say(rasa_url, sender, "201 555 0123")
        assert "e-mail" in reply, reply
        assert "automated assistant" not in reply  # the same session, not a new one
    finally:
        stop_servers(process)
