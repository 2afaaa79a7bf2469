"""One target running: the starter bot, or our assistant started by clinic-run
(default or production profile), answering on its REST channel.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.bench.config import BIN, MODEL, ROOT, STARTUP_TIMEOUT_S, TEST_CLINIC, WEBHOOK
from scripts.bench.memory import memory
from scripts.bench.processes import (
    Launched,
    TargetFailed,
    _start_time,
    base_env,
    process_tree,
    tail,
)
from scripts.bench.shared_services import production_isolation
from scripts.ports import free_port


@dataclass
class Running:
    """A started target: its process, REST webhook and start-up figures."""

    name: str
    launched: Launched
    url: str
    startup_s: float | None = None
    ready_s: float | None = None
    token: str | None = None  # Rasa's HTTP API token (/model/parse), if it has one
    # Every process of the target once it answers, as (pid, start time).
    processes: list[tuple[int, str | None]] = field(default_factory=list)

    def note_processes(self) -> None:
        self.processes = [(pid, _start_time(pid)) for pid in process_tree(self.launched.pid)]


def post_message(url: str, sender: str, message: str, timeout: float) -> tuple[int, Any]:
    body = json.dumps({"sender": sender, "message": message}).encode()
    request = urllib.request.Request(url + WEBHOOK, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None


def ready_printed(log: Path) -> bool:
    try:
        return "Assistant ready" in log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def wait_until_answering(running: Running, watch_ready: bool) -> None:
    """Time from launch to the first non-empty REST reply (and to "Assistant ready")."""
    launched = running.launched
    deadline = launched.started + STARTUP_TIMEOUT_S
    attempt = 0
    while running.startup_s is None or (watch_ready and running.ready_s is None):
        now = time.monotonic()
        if watch_ready and running.ready_s is None and ready_printed(launched.log):
            running.ready_s = now - launched.started
        if running.startup_s is None:
            attempt += 1
            if _answers(running.url, f"bench-probe-{uuid.uuid4().hex[:8]}-{attempt}"):
                running.startup_s = time.monotonic() - launched.started
        code = launched.process.poll()
        if code is not None:
            raise TargetFailed(f"exited with code {code} while starting:\n{tail(launched.log)}")
        if running.startup_s is not None and now > launched.started + running.startup_s + 30:
            return  # answering; "Assistant ready" is only a nicety
        if now > deadline:
            raise TargetFailed(f"no reply after {STARTUP_TIMEOUT_S:.0f}s:\n{tail(launched.log)}")
        time.sleep(0.2)


def _answers(url: str, sender: str) -> bool:
    try:
        status, replies = post_message(url, sender, "hello", timeout=30)
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return status == 200 and isinstance(replies, list) and len(replies) > 0


def start_starter(project: Path, out: Path) -> Running:
    port = free_port()
    argv = [
        str(BIN / "rasa"),
        "run",
        "--enable-api",
        "--interface",
        "127.0.0.1",
        "--port",
        str(port),
        "--model",
        str(project / "models"),
    ]
    launched = Launched(argv, project, base_env(), out / "starter-server.log")
    running = Running("starter", launched, f"http://127.0.0.1:{port}")
    with stopped_on_failure(launched):
        wait_until_answering(running, watch_ready=False)
    running.note_processes()
    return running


@contextmanager
def stopped_on_failure(launched: Launched) -> Iterator[None]:
    """A target that fails to start must not keep running while the others are measured."""
    try:
        yield
    except BaseException:
        launched.stop()
        raise


def assistant_env(name: str, data_dir: Path) -> tuple[dict[str, str], int]:
    """What the `assistant` test fixture sets, on free ports and a fresh DATA_DIR.

    Stores named in the shell (DATABASE_URL...) are dropped: the bench writes
    thousands of conversations and must not write them into a clinic's data.
    """
    env = base_env()
    for name_in_shell in ("DATABASE_URL", "TRACKER_STORE_URL", "REDIS_URL"):
        env.pop(name_in_shell, None)
    env["PROFILE"] = name
    if name == "production":
        env.update(production_isolation(env))
    rasa_port, widget_port = free_port(), free_port()
    env.update(
        {
            "RASA_PORT": str(rasa_port),
            "ACTIONS_PORT": str(free_port()),
            "DATA_DIR": str(data_dir),
            "CLINIC_CONFIG": str(TEST_CLINIC),
            "RASA_AUTH_TOKEN": "bench-" + uuid.uuid4().hex,
            "MODEL_PATH": str(MODEL),
            "WIDGET_PORT": str(widget_port),
            "STAFF_PORT": str(free_port()),
            "WIDGET_ORIGINS": f"http://127.0.0.1:{widget_port}",
            "RASA_PUBLIC_URL": f"http://127.0.0.1:{rasa_port}",
            # The bench is one client sending as fast as the assistant answers:
            # the rate limits (rightly) refuse that; it measures the assistant.
            "RATE_LIMIT_PER_CONVERSATION": "0",
            "RATE_LIMIT_PER_ADDRESS": "0",
        }
    )
    return env, rasa_port


def start_ours(name: str, env: dict[str, str], port: int, out: Path) -> Running:
    if not MODEL.exists():
        raise TargetFailed(f"no model at {MODEL}: run `make train`")
    argv = [str(BIN / "clinic-run")]  # `make run`'s command
    launched = Launched(argv, ROOT, env, out / f"{name}-servers.log")
    running = Running(name, launched, f"http://127.0.0.1:{port}", token=env["RASA_AUTH_TOKEN"])
    with stopped_on_failure(launched):
        wait_until_answering(running, watch_ready=True)
        if name == "production":
            check_production(running)
    running.note_processes()
    return running


def check_production(running: Running) -> None:
    """Refuse to report the default profile's figures under the production name.

    Until scripts/run.py knows PROFILE=production it starts the default
    profile, which answers just the same.
    """
    roles = [row["role"] for row in memory(running.launched.pid)]
    if "nginx" not in roles and roles.count("rasa server") < 2:
        raise TargetFailed(
            "PROFILE=production is not in effect: scripts/run.py started no nginx and "
            f"{roles.count('rasa server')} Rasa process(es)"
        )
