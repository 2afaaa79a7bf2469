"""Start the assistant's services (actions, outbox, Rasa, widget page, staff console).

`make run` ends here, and `make run-prod` (PROFILE=production) too: that
profile runs several Rasa and action servers behind nginx on PostgreSQL,
Redis and RabbitMQ (see scripts/production.py).  Ctrl-C (or SIGTERM) stops
them all cleanly.  If one fails to start, the others are stopped and the
reason is printed; one that crashes once running is started again with
backoff (1 s, 2 s, 4 s... at most 30 s) while the others go on serving, in
both profiles, and one that keeps crashing (more than 5 times a minute)
stops everything, saying why.  The end-to-end tests start the assistant
through this same script, so what they test is what a clinic runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import json
import os
import secrets
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from clinic_core import settings
from clinic_core.settings import PROJECT_ROOT
from scripts import production

ROOT = PROJECT_ROOT
BIN = Path(sys.executable).parent
STOP_GRACE_S = 15.0
API_TOKEN_ENV = "RASA_AUTH_TOKEN"
ACTION_TOKEN_ENV = "ACTION_SERVER_TOKEN"
# What each service needs of the secret settings (everything else secret is
# kept from it): the databases it opens, the services it logs in to.
DATABASE = frozenset({"DATABASE_URL", "POSTGRES_PASSWORD"})
TRACKER_STORE = frozenset({"TRACKER_STORE_URL", "POSTGRES_PASSWORD"})
RASA_SECRETS = DATABASE | TRACKER_STORE | {"REDIS_URL", "REDIS_PASSWORD"}
ACTION_SECRETS = DATABASE
OUTBOX_SECRETS = DATABASE | {"SMTP_PASSWORD", "CLINIC_WEBHOOK_SECRET"}
RELAY_SECRETS = TRACKER_STORE | {"RABBITMQ_PASSWORD"}
STAFF_SECRETS = DATABASE | TRACKER_STORE | {"STAFF_SESSION_SECRET"}
# A crashed service is started again after 1 s, 2 s, 4 s... at most 30 s; one
# that keeps dying (more than 5 times a minute) is a fault, not bad luck.
MAX_RESTARTS_PER_MINUTE = 5
RESTART_BACKOFF_MAX_S = 30.0


@dataclass
class Service:
    name: str
    command: list[str]
    health_url: str | None
    # Settings of this process only (e.g. the private port it listens on).
    own_env: dict[str, str] = field(default_factory=dict)
    # One of several identical servers behind nginx (the others carry the load
    # while it restarts).
    replicated: bool = False
    process: subprocess.Popen | None = field(default=None, repr=False)
    restarts: list[float] = field(default_factory=list, repr=False)
    restart_at: float | None = field(default=None, repr=False)
    # The secret settings (settings.SECRET_VARIABLES) this service may see; the
    # others are removed from its environment.
    secrets: frozenset[str] = frozenset()

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        return {**without_secrets(env, self.secrets), **self.own_env}

    def start(self, env: dict[str, str]) -> None:
        # A session of its own, so that Ctrl-C reaches only this supervisor,
        # which then stops the services in order.
        self.process = subprocess.Popen(
            self.command,
            cwd=ROOT,
            env=self.environment(env),
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        print(f"started {self.name} (pid {self.process.pid})", flush=True)

    def exit_code(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def is_healthy(self) -> bool:
        if self.health_url is None:
            return self.exit_code() is None
        context = loopback_tls_context() if self.health_url.startswith("https") else None
        try:
            with urllib.request.urlopen(self.health_url, timeout=2, context=context) as reply:
                return reply.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is not None:
            self.kill_leftovers()
            return
        stop_process_group(self.process, STOP_GRACE_S)

    def kill_leftovers(self) -> None:
        """A service whose main process died may leave workers (nginx's, Sanic's)
        holding its port: its session group goes with it."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)


def without_secrets(env: dict[str, str], allowed: frozenset[str] = frozenset()) -> dict[str, str]:
    """`env` without the secret settings (settings.SECRET_VARIABLES) not in `allowed`."""
    confined = set(settings.SECRET_VARIABLES) - allowed
    return {name: value for name, value in env.items() if name not in confined}


def stop_process_group(process: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM to the session group a process leads; SIGKILL if it outlives `grace_s`.
    (The benchmark stops what it starts with this too.)"""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


PR_SET_PDEATHSIG = 1  # linux/prctl.h


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def die_with_parent() -> Callable[[], None]:
    """What each child runs before its program: the kernel sends it SIGTERM if the
    supervisor dies, even killed outright (SIGKILL), so no service outlives it
    holding its port.  (Each service has a session of its own, so a terminal's
    Ctrl-C reaches only the supervisor, which then stops them in order.)

    Everything is prepared here, in the supervisor: between fork and exec the
    child only makes the one system call (the supervisor has threads, and a
    child may not take their locks)."""
    prctl, parent = _libc().prctl, os.getpid()

    def in_child() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the supervisor died before the line above ran
            os._exit(1)

    return in_child


def loopback_tls_context() -> ssl.SSLContext:
    """For health checks on 127.0.0.1 only, where a self-signed certificate is fine."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


# What every service of the default profile needs to agree on, passed down
# resolved (the production profile passes every setting: scripts/production.py).
SHARED_SETTINGS = (
    "PROFILE",
    "RASA_PORT",
    "ACTIONS_PORT",
    "BIND_HOST",
    "DATA_DIR",
    "CLINIC_CONFIG",
    "MODEL_PATH",
    "DATABASE_URL",
    "WIDGET_PORT",
    "STAFF_PORT",
    "WIDGET_ORIGINS",
    "RASA_PUBLIC_URL",
)


# One thread each for numpy's and scipy's OpenBLAS and for OpenMP in every service.
# After each call their extra threads spin, waiting for more work: under load the
# Rasa process burnt a second core that way (`make bench` setup, 8 concurrent
# conversations: 31 ms of CPU per FAQ turn, 13 ms with one thread) and starved
# the action server, the database and nginx of it.  The matrices here are one
# message's, too small to gain from a second thread (a message's NLU alone took
# 18.5 ms with two threads, 21.5 ms with one).  A value set by the caller is kept.
ONE_THREAD_PER_MATH_LIBRARY = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def environment() -> dict[str, str]:
    """The services' environment: the caller's, with every shared setting resolved
    from the one settings object (clinic_core/settings.py), which also checks it."""
    env = dict(os.environ)
    try:
        config = settings.load(env)
    except settings.SettingsError as error:
        sys.exit(f"Cannot start: {error}")
    if config.profile == "production":
        try:
            production.apply_defaults(env)
        except ValueError as error:
            sys.exit(f"Cannot start the production profile: {error}")
        env["ENDPOINTS_FILE"] = "endpoints.production.yml"
    else:
        env["ENDPOINTS_FILE"] = "endpoints.yml"
    for variable in SHARED_SETTINGS:
        env.setdefault(variable, str(config.value(variable)))
    env["DATA_DIR"] = str(config.data_dir)
    env["RASA_TELEMETRY_ENABLED"] = "false"
    for variable, value in ONE_THREAD_PER_MATH_LIBRARY.items():
        env.setdefault(variable, value)
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


def action_server_token(env: dict[str, str]) -> str:
    """`ACTION_SERVER_TOKEN`, or a new random one for this run (nothing else needs it)."""
    return env.get(ACTION_TOKEN_ENV) or secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Secrets:
    """What the supervisor hands to the processes that need it, and to no other."""

    api: str  # the Rasa HTTP API token
    action_server: str  # the Rasa servers' shared secret with the action servers

    def __repr__(self) -> str:
        return "Secrets(**********)"


def prepare(env: dict[str, str]) -> None:
    """Refuse to start with a clinic file that lacks the safety facts; migrate the database.

    The production profile also creates its PostgreSQL database when missing
    and writes and checks nginx's configuration.
    """
    from clinic_core import storage
    from clinic_core.clinic import ClinicConfigError, load_clinic

    try:
        load_clinic(Path(env["CLINIC_CONFIG"]))
    except (OSError, ClinicConfigError) as error:
        sys.exit(f"Cannot start: clinic file {env['CLINIC_CONFIG']}: {error}")
    if env["PROFILE"] == "production":
        prepare_production(env)
    storage.migrate(env["DATABASE_URL"])


def prepare_production(env: dict[str, str]) -> None:
    from sqlalchemy.exc import OperationalError

    try:
        production.ensure_database(env)
    except OperationalError as error:
        where = f"{env['POSTGRES_HOST']}:{env['POSTGRES_PORT']}"
        sys.exit(f"Cannot reach PostgreSQL at {where}: {error}")
    try:
        config = production.write_nginx_config(env)
    except (OSError, ValueError) as error:
        sys.exit(f"Cannot configure nginx: {error}")
    env["NGINX_CONF"] = str(config)
    check = subprocess.run(
        [env["NGINX_BIN"], "-t", "-q", "-c", str(config), "-p", str(config.parent)],
        env=without_secrets(env),  # no secret, as nginx itself
        capture_output=True,
        text=True,
    )
    if check.returncode != 0:
        sys.exit(f"nginx refuses {config}:\n{check.stderr}")


def rasa_command(env: dict[str, str], port: int | str) -> list[str]:
    interface = env["BIND_HOST"] if env["PROFILE"] == "default" else "127.0.0.1"
    return [
        # `rasa run`, with the project's Rasa patches installed first (serving/rasa_server.py).
        str(BIN / "python"),
        "-m",
        "serving.rasa_server",
        "run",
        "--enable-api",
        # The API token comes in RASA_AUTH_TOKEN (serving/rasa_server.py): never in `ps`.
        "--interface",
        interface,
        "--port",
        str(port),
        "--model",
        env["MODEL_PATH"],
        "--endpoints",
        env["ENDPOINTS_FILE"],
        "--credentials",
        env["CREDENTIALS_FILE"],
        # Only the clinic's own site(s) may call the assistant from a browser.
        "--cors",
        *(origin.strip() for origin in env["WIDGET_ORIGINS"].split(",") if origin.strip()),
    ]


def action_server(
    name: str, port: int | str, secrets_: Secrets, replicated: bool = False
) -> Service:
    """rasa_sdk's server behind the shared secret (serving/action_server.py)."""
    command = [str(BIN / "python"), "-m", "serving.action_server", "--actions", "actions"]
    return Service(
        name,
        [*command, "--port", str(port)],
        f"http://127.0.0.1:{port}/health",
        own_env={ACTION_TOKEN_ENV: secrets_.action_server},
        replicated=replicated,
        secrets=ACTION_SECRETS,
    )


def rasa_server(
    name: str, env: dict[str, str], port: int | str, secrets_: Secrets, replicated: bool = False
) -> Service:
    """A Rasa server; only it gets the API token and the action server's secret."""
    return Service(
        name,
        rasa_command(env, port),
        f"http://127.0.0.1:{port}/",
        own_env={API_TOKEN_ENV: secrets_.api, ACTION_TOKEN_ENV: secrets_.action_server},
        replicated=replicated,
        secrets=RASA_SECRETS,
    )


def outbox_worker() -> Service:
    command = [str(BIN / "python"), "-m", "clinic_core.notifications", "run"]
    return Service("outbox worker", command, None, secrets=OUTBOX_SECRETS)


def event_relay() -> Service:
    """Publishes every stored event to RabbitMQ (production; clinic_core/event_relay.py)."""
    command = [str(BIN / "python"), "-m", "clinic_core.event_relay", "run"]
    return Service("event relay", command, None, secrets=RELAY_SECRETS)


def staff_console(port: int | str) -> Service:
    return Service(
        "staff console",
        [str(BIN / "python"), "-m", "staff.web"],
        f"http://127.0.0.1:{port}/login",
        own_env={"STAFF_PORT": str(port)},
        secrets=STAFF_SECRETS,
    )


def services(env: dict[str, str], secrets_: Secrets) -> list[Service]:
    """The single-machine default: one of each, SQLite, no external service."""
    rasa_port, actions_port = env["RASA_PORT"], env["ACTIONS_PORT"]
    rasa = rasa_server("Rasa server", env, rasa_port, secrets_)
    widget = Service(
        "widget demo page",
        [str(BIN / "python"), "-m", "scripts.serve_widget"],
        f"http://127.0.0.1:{env['WIDGET_PORT']}/",
    )
    return [
        action_server("action server", actions_port, secrets_),
        outbox_worker(),
        rasa,
        widget,
        staff_console(env["STAFF_PORT"]),
    ]


def production_services(env: dict[str, str], secrets_: Secrets) -> list[Service]:
    """Replicated Rasa and action servers behind nginx; nginx also serves the widget files."""
    actions = [
        action_server(f"action server {number}", port, secrets_, replicated=True)
        for number, port in enumerate(production.action_ports(env), 1)
    ]
    rasa = [
        rasa_server(f"Rasa server {number}", env, port, secrets_, replicated=True)
        for number, port in enumerate(production.rasa_ports(env), 1)
    ]
    scheme = "https" if production.tls_files(env) else "http"
    nginx_dir = str(Path(env["NGINX_CONF"]).parent)
    nginx = Service(
        "nginx",
        [env["NGINX_BIN"], "-c", env["NGINX_CONF"], "-p", nginx_dir, "-g", "daemon off;"],
        f"{scheme}://127.0.0.1:{env['RASA_PORT']}/nginx-health",
    )
    staff = staff_console(production.staff_backend_port(env))
    return [*actions, outbox_worker(), *rasa, event_relay(), staff, nginx]


def restart_after_crash(service: Service, env: dict[str, str]) -> bool:
    """Bring back a service that exited after start-up, with backoff; False when it
    keeps dying.  Meanwhile the others go on serving what they can (in the
    default profile too: a clinic's single server runs `make run`)."""
    now = time.monotonic()
    if service.restart_at is None:
        service.kill_leftovers()
        service.restarts = [moment for moment in service.restarts if now - moment < 60] + [now]
        if len(service.restarts) > MAX_RESTARTS_PER_MINUTE:
            return False
        delay = min(RESTART_BACKOFF_MAX_S, 2.0 ** (len(service.restarts) - 1))
        service.restart_at = now + delay
        print(
            f"{service.name} exited (code {service.exit_code()}); restarting it in {delay:.0f}s, "
            "the others carry on.",
            file=sys.stderr,
            flush=True,
        )
    elif now >= service.restart_at:
        service.restart_at = None
        service.start(env)
    return True


def supervise(running: list[Service], env: dict[str, str]) -> int:
    """Wait until every service is healthy, then until one of them stops for good."""
    startup_timeout = settings.load(env).startup_timeout
    deadline = time.monotonic() + startup_timeout
    ready = False
    while True:
        for service in running:
            code = service.exit_code()
            if code is None or (ready and restart_after_crash(service, env)):
                continue
            reason = (
                f"kept stopping ({MAX_RESTARTS_PER_MINUTE} restarts in a minute; last exit code "
                f"{code})"
                if ready
                else f"stopped while starting (exit code {code})"
            )
            print(f"{service.name} {reason}; stopping the others.", file=sys.stderr, flush=True)
            return code or 1
        if not ready:
            if all(service.is_healthy() for service in running):
                ready = True
                scheme = "https" if production.tls_files(env) else "http"
                print(
                    f"Assistant ready ({env['PROFILE']} profile): REST webhook at "
                    f"{scheme}://127.0.0.1:{env['RASA_PORT']}/webhooks/rest/webhook "
                    "(Ctrl-C stops everything).",
                    flush=True,
                )
            elif time.monotonic() > deadline:
                slow = [s.name for s in running if not s.is_healthy()]
                print(
                    f"Not ready after {startup_timeout:.0f}s: {', '.join(slow)}; stopping.",
                    file=sys.stderr,
                    flush=True,
                )
                return 1
        time.sleep(0.5)


def private_data_dir(path: Path) -> None:
    """DATA_DIR holds health data (conversations, bookings, escalations) and
    secrets: readable by the service's user only, and so is everything the
    services create in it (the umask every child inherits)."""
    os.umask(0o077)
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)


class HealthHandler(BaseHTTPRequestHandler):
    """GET /health: which services are up, as JSON; 200 when all are, 503 otherwise."""

    services: list[Service] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path.split("?")[0] != "/health":
            self.send_error(404)
            return
        report = health_report(self.services)
        body = json.dumps(report).encode()
        self.send_response(200 if report["status"] == "up" else 503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


def health_report(services: list[Service]) -> dict[str, object]:
    """Each service's state: up, starting (alive, not answering yet) or restarting."""
    states: dict[str, str] = {}
    for service in services:
        if service.restart_at is not None or service.exit_code() is not None:
            states[service.name] = "restarting"
        else:
            states[service.name] = "up" if service.is_healthy() else "starting"
    everything_up = bool(states) and all(state == "up" for state in states.values())
    return {"status": "up" if everything_up else "degraded", "services": states}


def serve_health(running: list[Service], port: int) -> ThreadingHTTPServer | None:
    """The supervisor's health endpoint on loopback (for systemd, monitoring, a
    load balancer); the assistant runs without it if its port is taken."""
    HealthHandler.services = running
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), HealthHandler)
    except OSError as error:
        print(f"Health endpoint not started on port {port}: {error}", file=sys.stderr, flush=True)
        return None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"Health of every service: http://127.0.0.1:{port}/health", flush=True)
    return server


def main() -> int:
    env = environment()
    private_data_dir(Path(env["DATA_DIR"]))
    os.environ.update({k: env[k] for k in ("RASA_PORT", "ACTIONS_PORT")})
    prepare(env)
    from scripts.channel_credentials import enabled_channels, write_credentials

    env["CREDENTIALS_FILE"] = str(write_credentials(env))
    print("Messaging channels: " + (", ".join(enabled_channels(env)) or "none enabled"), flush=True)
    secrets_ = Secrets(api=auth_token(env), action_server=action_server_token(env))
    # Only the processes that need a secret get it (Service.own_env).
    for name in (API_TOKEN_ENV, ACTION_TOKEN_ENV):
        env.pop(name, None)
    if env["PROFILE"] == "production":
        running = production_services(env, secrets_)
    else:
        running = services(env, secrets_)

    def request_stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, request_stop)
    # Ctrl-C stops everything even when run.py was started from a background
    # job: a shell starts those with SIGINT ignored, and Python keeps an
    # ignored SIGINT ignored, so the supervisor would never hear it and a
    # caller's last resort (SIGKILL) would leave every service running.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    code = 0
    health = serve_health(running, settings.load(env).health_port)
    try:
        for service in running:
            service.start(env)
        code = supervise(running, env)
    except KeyboardInterrupt:
        print("Stopping...", flush=True)
    finally:
        # A second Ctrl-C or SIGTERM while stopping must not cut the clean-up
        # short and leave services running: from here on they are noted, not obeyed.
        signal.signal(signal.SIGINT, note_signal_while_stopping)
        signal.signal(signal.SIGTERM, note_signal_while_stopping)
        for service in reversed(running):
            service.stop()
        if health is not None:
            health.shutdown()
    return code


def note_signal_while_stopping(signum: int, _frame: object) -> None:
    print(f"Still stopping (signal {signum}); every service will be stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
