"""A conversation survives a restart of the servers mid-conversation.

The widget talks REST and keeps the sender id in the browser; the
conversation itself lives in the SQL tracker store under DATA_DIR.  So a
booking half-way through continues where it was after everything restarts.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import (
    TEST_CLINIC,
    _healthy,
    children_of,
    free_port,
    http,
    start_servers,
    stop_servers,
)

pytestmark = pytest.mark.e2e

EXPECTED_SYMPTOM = "I have a small bruise where I was injected yesterday"
EXPECTED_REPLY = "known, usually mild side effect"


def say(rasa_url: str, sender: str, text: str) -> str:
    status, replies = http(
        "POST", f"{rasa_url}/webhooks/rest/webhook", {"sender": sender, "message": text}
    )
    assert status == 200, replies
    return " ".join(reply.get("text") or "" for reply in replies)


def process_with(parent: int, marker: str) -> int | None:
    """The pid of the supervisor's child whose command line names `marker`."""
    for pid in children_of(parent):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker.encode() in argv:
            return pid
    return None


def wait_until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return condition()


def test_a_booking_continues_after_a_restart(trained_model: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "DATABASE_URL"))}
    env.update(
        {
            "RASA_PORT": str(free_port()),
            "ACTIONS_PORT": str(free_port()),
            "WIDGET_PORT": str(free_port()),
            "STAFF_PORT": str(free_port()),
            "HEALTH_PORT": str(free_port()),
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
        # A symptom report is triaged on the action server (the booking's own
        # turns now run in the Rasa process): it is reached before the crash...
        assert EXPECTED_REPLY in say(rasa_url, f"{sender}-a", EXPECTED_SYMPTOM)
        # The action server crashes: the supervisor brings it back, the Rasa
        # server stays up, and the conversation goes on.
        health_url = f"http://127.0.0.1:{env['HEALTH_PORT']}/health"
        assert wait_until(lambda: http("GET", health_url)[0] == 200, 30)
        assert set(http("GET", health_url)[1]["services"].values()) == {"up"}
        action_server = process_with(process.pid, "serving.action_server")
        os.kill(action_server, signal.SIGKILL)
        # The health endpoint says which part is down, then that all are up again.
        assert wait_until(
            lambda: http("GET", health_url)[1]["services"]["action server"] != "up", 30
        )
        status, report = http("GET", health_url)
        assert status == 503 and report["status"] == "degraded"
        assert report["services"]["Rasa server"] == "up"
        assert wait_until(lambda: "action server exited" in log.read_text(), 30), log.read_text()
        assert "restarting it in" in log.read_text()
        assert wait_until(
            lambda: process_with(process.pid, "serving.action_server") not in (None, action_server),
            60,
        )
        assert wait_until(lambda: _healthy(f"http://127.0.0.1:{env['ACTIONS_PORT']}/health"), 90)
        assert wait_until(lambda: http("GET", health_url)[0] == 200, 30)
        assert "phone number" in say(rasa_url, sender, "Ana Diaz")
        # ... and the restarted one is reached again (a kept connection that the
        # crash closed is replaced: tests/test_action_endpoint.py).
        assert EXPECTED_REPLY in say(rasa_url, f"{sender}-b", EXPECTED_SYMPTOM)
        assert process.poll() is None
        # Everything it wrote is private to the service's user.
        data_dir = Path(env["DATA_DIR"])
        assert data_dir.stat().st_mode & 0o777 == 0o700
        for path in data_dir.rglob("*"):
            assert path.stat().st_mode & 0o077 == 0, path
    finally:
        stop_servers(process)

    process = start_servers(env, log)
    try:
        reply = say(rasa_url, sender, "201 555 0123")
        assert "e-mail" in reply, reply
        assert "automated assistant" not in reply  # the same session, not a new one
    finally:
        stop_servers(process)
