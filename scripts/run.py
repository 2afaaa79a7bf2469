"""Start the assistant's services (actions, outbox, Rasa, widget page, staff console).

`make run` ends here.  The processes live or die together: Ctrl-C (or
SIGTERM) stops them all cleanly, and if one fails to start or exits, the
others are stopped and the reason is printed.  The end-to-end tests start the
assistant through this same script, so what they test is what a clinic runs.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STARTUP_TIMEOUT_S = float(os.environ.get("STARTUP_TIMEOUT", "180"))
STOP_GRACE_S = 15.0


@dataclass
class Service:
    name: str
    command: list[str]
    health_url: str
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self, env: dict[str, str]) -> None:
        # A session of its own, so that Ctrl-C reaches only this supervisor,
        # which then stops the services in order.
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=env, start_new_session=True)

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def is_healthy(self) -> bool:
        if self.health_url is None:
            return self.exit_code() is None
        try:
            with urllib.request.urlopen(self.health_url, timeout=2) as reply:
                return reply.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def environment() -> dict[str, str]:
    """The documented defaults, applied where the caller did not set a value."""
    env = dict(os.environ)
    env.setdefault("RASA_PORT", "5005")
    env.setdefault("ACTIONS_PORT", "5055")
    env.setdefault("BIND_HOST", "127.0.0.1")
    env.setdefault("DATA_DIR", str(ROOT / "var"))
    env.setdefault("CLINIC_CONFIG", str(ROOT / "clinic" / "example-clinic.yml"))
    env.setdefault("MODEL_PATH", str(ROOT / "models"))
    env.setdefault("WIDGET_PORT", "8080")
    env.setdefault("STAFF_PORT", "8081")
    env.setdefault(
        "WIDGET_ORIGINS",
        f"http://localhost:{env['WIDGET_PORT']},http://127.0.0.1:{env['WIDGET_PORT']}",
    )
    env.setdefault("RASA_PUBLIC_URL", f"http://localhost:{env['RASA_PORT']}")
    env["DATA_DIR"] = str(Path(env["DATA_DIR"]).resolve())
    env["RASA_TELEMETRY_ENABLED"] = "false"
    # The action server has no authentication of its own: loopback only.
    env["SANIC_HOST"] = "127.0.0.1"
    return env


def auth_token(env: dict[str, str]) -> str:
    """`RASA_AUTH_TOKEN`, or one generated once and kept (owner-only) in DATA_DIR."""
    if env.get("RASA_AUTH_TOKEN"):
        return env["RASA_AUTH_TOKEN"]
    token_file = Path(env["DATA_DIR"]) / "rasa-auth-token"
    if not token_file.exists():
        token_file.write_text(secrets.token_urlsafe(32) + "\n", encoding="utf-8")
        token_file.chmod(0o600)
    print(f"HTTP API token: stored in {token_file}", flush=True)
    return token_file.read_text(encoding="utf-8").strip()


def prepare(env: dict[str, str]) -> None:
    """Refuse to start with a clinic file that lacks the safety facts; migrate the database."""
    sys.path.insert(0, str(ROOT))
    os.environ.update({key: env[key] for key in ("DATA_DIR", "CLINIC_CONFIG")})
    from actions import storage
    from actions.clinic import ClinicConfigError, load_clinic

    try:
        load_clinic(Path(env["CLINIC_CONFIG"]))
    except (OSError, ClinicConfigError) as error:
        sys.exit(f"Cannot start: clinic file {env['CLINIC_CONFIG']}: {error}")
    storage.migrate()


def services(env: dict[str, str], token: str) -> list[Service]:
    rasa_port, actions_port = env["RASA_PORT"], env["ACTIONS_PORT"]
    actions = Service(
        "action server",
        [str(BIN / "python"), "-m", "rasa_sdk", "--actions", "actions", "--port", actions_port],
        f"http://127.0.0.1:{actions_port}/health",
    )
    rasa = Service(
        "Rasa server",
        [
            str(BIN / "rasa"),
            "run",
            "--enable-api",
            "--auth-token",
            token,
            "--interface",
            env["BIND_HOST"],
            "--port",
            rasa_port,
            "--model",
            env["MODEL_PATH"],
            "--endpoints",
            "endpoints.yml",
            "--credentials",
            env["CREDENTIALS_FILE"],
            # Only the clinic's own site(s) may call the assistant from a browser.
            "--cors",
            *(origin.strip() for origin in env["WIDGET_ORIGINS"].split(",") if origin.strip()),
        ],
        f"http://127.0.0.1:{rasa_port}/",
    )
    outbox = Service(
        "outbox worker",
        [str(BIN / "python"), "-m", "actions.notifications", "run"],
        None,
    )
    widget = Service(
        "widget demo page",
        [str(BIN / "python"), str(ROOT / "scripts" / "serve_widget.py")],
        f"http://127.0.0.1:{env['WIDGET_PORT']}/",
    )
    staff = Service(
        "staff console",
        [str(BIN / "python"), "-m", "staff.web"],
        f"http://127.0.0.1:{env['STAFF_PORT']}/login",
    )
    return [actions, outbox, rasa, widget, staff]


def supervise(running: list[Service]) -> int:
    """Wait until every service is healthy, then until one of them stops."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    ready = False
    while True:
        for service in running:
            code = service.exit_code()
            if code is not None:
                phase = "running" if ready else "starting"
                print(
                    f"{service.name} stopped while {phase} (exit code {code}); "
                    "stopping the others.",
                    file=sys.stderr,
                    flush=True,
                )
                return code or 1
        if not ready:
            if all(service.is_healthy() for service in running):
                ready = True
                print(
                    "Assistant ready: REST webhook at "
                    f"http://127.0.0.1:{os.environ.get('RASA_PORT', '5005')}"
                    "/webhooks/rest/webhook (Ctrl-C stops everything).",
                    flush=True,
                )
            elif time.monotonic() > deadline:
                slow = [s.name for s in running if not s.is_healthy()]
                print(
                    f"Not ready after {STARTUP_TIMEOUT_S:.0f}s: {', '.join(slow)}; " "stopping.",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
        time.sleep(0.5)


def main() -> int:
    env = environment()
    Path(env["DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    os.environ.update({k: env[k] for k in ("RASA_PORT", "ACTIONS_PORT")})
    prepare(env)
    from channel_credentials import enabled_channels, write_credentials

    env["CREDENTIALS_FILE"] = str(write_credentials(env))
    print("Messaging channels: " + (", ".join(enabled_channels(env)) or "none enabled"), flush=True)
    running = services(env, auth_token(env))

    def request_stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, request_stop)
    code = 0
    try:
        for service in running:
            service.start(env)
        code = supervise(running)
    except KeyboardInterrupt:
        print("Stopping...", flush=True)
    finally:
        for service in reversed(running):
            service.stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
