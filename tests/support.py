"""What the tests share besides fixtures: where things are, free ports, HTTP calls,
starting and stopping the assistant's servers as `make run` does, and the rule
for a missing service (fail in CI, skip elsewhere).  Fixtures are in conftest.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Ports below the kernel's ephemeral range (see scripts/ports.py); the tests take them from here.
from scripts.ports import free_port, free_port_block  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent


MODEL = ROOT / "models" / "current.tar.gz"


TEST_CLINIC = ROOT / "tests" / "fixtures" / "test-clinic.yml"


STARTUP_TIMEOUT_S = 240


# `make run`'s command: the console entry point pyproject.toml installs.
SUPERVISOR = Path(sys.executable).parent / "clinic-run"


def load_script(name: str) -> Any:
    """A module of the scripts package (the supervisor, the evaluation scripts)."""
    import importlib

    return importlib.import_module(f"scripts.{name}")


def http(
    method: str,
    url: str,
    body: Any = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> tuple[int, Any]:
    """One HTTP request; returns (status, decoded JSON body or text)."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            status, payload = reply.status, reply.read()
    except urllib.error.HTTPError as error:
        status, payload = error.code, error.read()
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, payload.decode(errors="replace")


@dataclass
class RunningAssistant:
    rasa_url: str
    token: str
    data_dir: Path
    clinic_file: Path
    log_file: Path
    webhook: Any
    smtp: Any
    widget_url: str = ""
    twilio_api: Any = None
    staff_url: str = ""

    def send(self, sender: str, message: Any) -> list[dict[str, Any]]:
        """Send one message through the REST channel; return the bot's messages."""
        status, replies = http(
            "POST",
            f"{self.rasa_url}/webhooks/rest/webhook",
            {"sender": sender, "message": message},
        )
        assert status == 200, f"REST webhook answered {status}: {replies}"
        return replies

    def texts(self, sender: str, message: Any) -> list[str]:
        return [reply.get("text") or "" for reply in self.send(sender, message)]

    def logs(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def tracker(self, sender: str) -> dict[str, Any]:
        """The stored conversation (Rasa's HTTP API)."""
        status, tracker = http(
            "GET", f"{self.rasa_url}/conversations/{sender}/tracker?token={self.token}"
        )
        assert status == 200, tracker
        return tracker


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return reply.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start_servers(
    env: dict[str, str], log_file: Path, ready: Callable[[], bool] | None = None
) -> subprocess.Popen:
    """scripts/run.py with `env`; returns once Rasa and the action server answer
    (or once `ready()` says so)."""
    with log_file.open("ab") as log:
        process = subprocess.Popen(
            [str(SUPERVISOR)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    ready = ready or (
        lambda: _healthy(f"http://127.0.0.1:{env['RASA_PORT']}/")
        and _healthy(f"http://127.0.0.1:{env['ACTIONS_PORT']}/health")
    )
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_servers(process)
            logs = log_file.read_text(encoding="utf-8", errors="replace")
            pytest.fail("The assistant did not start:\n" + logs[-4000:])
        time.sleep(1)
    return process


def stop_servers(process: subprocess.Popen) -> None:
    """Ctrl-C, as a person would; run.py stops every service."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()


WEBHOOK_SECRET = "e2e-webhook-secret"


TWILIO_TEST_TOKEN = "twilio-test-token"


CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; Playwright downloads no browser


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def service_missing(name: str, error: Exception) -> None:
    """In CI a missing service fails the run; on a laptop it skips the test."""
    message = f"{name} is not reachable: {error}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


REDIS_URL = "redis://127.0.0.1:6379"


def greet_domain() -> Any:
    """The smallest domain a tracker store needs: one intent and its response."""
    from rasa.shared.core.domain import Domain

    return Domain.from_dict({"intents": ["greet"], "responses": {"utter_greet": [{"text": "hi"}]}})


RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/"


def require_redis(url: str = REDIS_URL) -> None:
    """The real Redis answers, or the test fails in CI (skips elsewhere)."""
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=5).ping()
    except redis.exceptions.ConnectionError as error:
        service_missing("Redis", error)


def require_rabbitmq(url: str = RABBITMQ_URL) -> None:
    """The real RabbitMQ accepts a connection, or the test fails in CI (skips elsewhere)."""
    import asyncio

    import aio_pika

    async def probe() -> None:
        connection = await aio_pika.connect(url, timeout=10)
        await connection.close()

    try:
        asyncio.run(probe())
    except (OSError, aio_pika.exceptions.AMQPError) as error:
        service_missing("RabbitMQ", error)


def children_of(parent: int) -> list[int]:
    """The pids of the processes whose parent is `parent`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat[1]) == parent:
            found.append(int(proc.name))
    return found


@contextmanager
def fresh_postgres_database(prefix: str) -> Iterator[str]:
    """A new database on the real PostgreSQL server for one test, dropped afterwards
    (a missing server fails in CI and skips elsewhere)."""
    import sqlalchemy as sa

    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        service_missing("PostgreSQL", error)
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        from clinic_core import storage

        for url in [url for url in storage._engines if url.endswith(f"/{name}")]:
            storage._engines.pop(url).dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def project_importer(with_test_stories: bool = True) -> Any:
    """The project's training data (and the whole test conversations), as Rasa reads them."""
    from rasa.shared.importers.importer import TrainingDataImporter

    folders = [ROOT / "data"] + ([ROOT / "tests" / "stories"] if with_test_stories else [])
    return TrainingDataImporter.load_from_config(
        str(ROOT / "config.yml"), str(ROOT / "domain.yml"), [str(f) for f in folders]
    )


def training_texts(every: int, first: int) -> list[str]:
    """Every `every`-th distinct NLU training message, from the `first`-th (sorted)."""
    importer = project_importer(with_test_stories=False)
    return sorted({m.get("text") for m in importer.get_nlu_data().intent_examples})[first::every]


def parses_with_and_without(agent: Any, patch: Any, texts: list[str]) -> list[tuple[str, str]]:
    """Each text's whole parse (as JSON) by Rasa's own code, then with `patch` installed."""
    import asyncio
    import json

    def parsed(text: str) -> str:
        return json.dumps(asyncio.run(agent.parse_message(text)), sort_keys=True, default=str)

    rasas = [parsed(text) for text in texts]
    patch.install()
    try:
        ours = [parsed(text) for text in texts]
    finally:
        patch.uninstall()
    return list(zip(ours, rasas, strict=True))


def project_conversations(importer: Any, domain: Any) -> list[list[Any]]:
    """Every rule, story and test conversation, as the events of one tracker each."""
    from rasa.shared.core.generator import TrainingDataGenerator

    generator = TrainingDataGenerator(importer.get_stories(), domain, augmentation_factor=0)
    return [list(tracker.events) for tracker in generator.generate()]
