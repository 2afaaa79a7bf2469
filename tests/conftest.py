"""Shared fixtures: one trained model, one in-process agent, one running assistant.

The model is trained once by `make test` (via `make train`) and shared by
every test that needs it.  The running assistant is started through
scripts/run.py, exactly as `make run` starts it, on free ports with its own
data directory and the test clinic file.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    MODEL,
    ROOT,
    TEST_CLINIC,
    TWILIO_TEST_TOKEN,
    WEBHOOK_SECRET,
    RunningAssistant,
    free_port,
    fresh_postgres_database,
    service_missing,
    start_servers,
    stop_servers,
)

# --- tiers ------------------------------------------------------------------------
# Every test belongs to one tier (pyproject.toml declares the markers): `make
# test-fast` runs the unit tier, `make test` runs them all.  A test's tier
# follows from what it uses, unless the test module marks it itself.
TIERS = ("browser", "e2e", "integration", "unit")
BROWSER_FIXTURES = {"browser"}
E2E_FIXTURES = {"assistant"}
# Real services, a trained model, or a server of ours started in the test.
INTEGRATION_FIXTURES = {
    "postgres_url",
    "database_url",
    "trained_model",
    "nlu_agent",
    "parse",
    "console",
    "pg_databases",
    "store",
    "redis_client",
}


def tier_of(item: pytest.Item) -> str:
    explicit = [tier for tier in TIERS if item.get_closest_marker(tier)]
    if explicit:
        return explicit[0]
    used = set(getattr(item, "fixturenames", ()))
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "postgresql" in callspec.params.values():
        return "integration"  # the PostgreSQL half of a SQLite/PostgreSQL pair
    for tier, fixtures in (
        ("browser", BROWSER_FIXTURES),
        ("e2e", E2E_FIXTURES),
        ("integration", INTEGRATION_FIXTURES),
    ):
        if used & fixtures:
            return tier
    return "unit"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = tier_of(item)
        if not item.get_closest_marker(tier):
            item.add_marker(getattr(pytest.mark, tier))


@pytest.fixture(autouse=True)
def rasa_unpatched_after_each_test() -> Iterator[None]:
    """A test that installs serving/patches.py must not leave Rasa patched for the
    next one (the servers the end-to-end tests start install them themselves)."""
    yield
    patches = sys.modules.get("serving.patches")
    if patches is not None:
        patches.uninstall()


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> Iterator[None]:
    """Each test counts its own messages (the channels' limiter is per process)."""
    from channels.rate_limits import wait_notices
    from clinic_core import rate_limit

    rate_limit.reset_shared()
    wait_notices.clear()
    yield
    rate_limit.reset_shared()
    wait_notices.clear()


@pytest.fixture(scope="session")
def trained_model() -> Path:
    if not MODEL.exists():
        pytest.fail(f"No trained model at {MODEL}: run `make train` (`make test` does).")
    return MODEL


@pytest.fixture(scope="session")
def nlu_agent(trained_model: Path) -> Any:
    from rasa.core.agent import Agent

    return Agent.load(str(trained_model))


@pytest.fixture(scope="session")
def parse(nlu_agent: Any):
    """Parse a message with the trained model, as /model/parse would."""

    def _parse(text: str) -> dict[str, Any]:
        return asyncio.run(nlu_agent.parse_message(text))

    return _parse


@pytest.fixture(scope="session")
def assistant(
    trained_model: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningAssistant]:
    """The real servers and outbox worker, started by scripts/run.py.

    The clinic's webhook and mailbox are a local HTTP receiver and a real
    local SMTP server, so a test sees exactly what the clinic would receive.
    """
    from tests.receivers import SmtpReceiver, WebhookReceiver

    webhook = WebhookReceiver(free_port()).start()
    smtp = SmtpReceiver(free_port()).start()
    twilio_api = WebhookReceiver(free_port()).start()
    work = tmp_path_factory.mktemp("assistant")
    clinic_file = work / "clinic.yml"
    shutil.copy(TEST_CLINIC, clinic_file)
    rasa_port, actions_port, widget_port = free_port(), free_port(), free_port()
    staff_port = free_port()
    token = "test-token-not-secret"
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    env.update(
        {
            "RASA_PORT": str(rasa_port),
            "ACTIONS_PORT": str(actions_port),
            "DATA_DIR": str(work / "var"),
            "CLINIC_CONFIG": str(clinic_file),
            "RASA_AUTH_TOKEN": token,
            "MODEL_PATH": str(trained_model),
            "CLINIC_WEBHOOK_URL": webhook.url,
            "CLINIC_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp.port),
            "CLINIC_EMAIL_TO": "desk@testwood-derm.test",
            "OUTBOX_BACKOFF_BASE": "0.5",
            "OUTBOX_BACKOFF_MAX": "2",
            "OUTBOX_POLL_INTERVAL": "0.2",
            # A form reminds a patient back after this many seconds of silence
            # (tests/test_form_personas.py waits that long once).
            "FORM_REMINDER_AFTER": "20",
            # Every test client is 127.0.0.1: the address limit would count them
            # all as one patient.  The per-conversation limit stays as shipped.
            "RATE_LIMIT_PER_ADDRESS": "0",
            "WIDGET_PORT": str(widget_port),
            "STAFF_PORT": str(staff_port),
            "WIDGET_ORIGINS": f"http://127.0.0.1:{widget_port}",
            "RASA_PUBLIC_URL": f"http://127.0.0.1:{rasa_port}",
            # SMS through the real Twilio connector; its API is a local stub.
            "TWILIO_ACCOUNT_SID": "ACtest",
            "TWILIO_AUTH_TOKEN": TWILIO_TEST_TOKEN,
            "TWILIO_PUBLIC_URL": f"http://127.0.0.1:{rasa_port}",
            "TWILIO_NUMBER": "+15550001111",
            "TWILIO_API_BASE_URL": f"http://127.0.0.1:{twilio_api.port}",
        }
    )
    log_file = work / "servers.log"
    process = start_servers(env, log_file)
    running = RunningAssistant(
        f"http://127.0.0.1:{rasa_port}",
        token,
        work / "var",
        clinic_file,
        log_file,
        webhook,
        smtp,
        f"http://127.0.0.1:{widget_port}",
        twilio_api,
        f"http://127.0.0.1:{staff_port}",
    )
    try:
        yield running
    finally:
        stop_servers(process)
        webhook.stop()
        smtp.stop()
        twilio_api.stop()


# --- real headless Chromium ---------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium, one per test module (closed before that module's servers
    stop, so no keep-alive connection outlives them); missing in CI is a failure."""
    if not CHROMIUM.exists():
        service_missing("Chromium", FileNotFoundError(f"{CHROMIUM} (apt-get install chromium)"))
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


# --- real services ----------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database on the real PostgreSQL server, dropped afterwards."""
    with fresh_postgres_database("clinic_test") as url:
        yield url


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    """A fresh database on the real PostgreSQL server for one test (its tables its own)."""
    with fresh_postgres_database("one_test") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The project database, migrated, on SQLite and on the real PostgreSQL."""
    from clinic_core import storage

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'clinic.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        import sqlalchemy as sa

        with storage.engine(url).begin() as connection:
            connection.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    storage.migrate(url)
    yield url
    if request.param == "sqlite":
        storage._engines.pop(url).dispose()


@pytest.fixture(scope="session")
def assistant_domain() -> Any:
    """The assistant's domain with the FAQ responses, as the trained model holds it."""
    import yaml
    from rasa.shared.core.domain import Domain

    data = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    faq = yaml.safe_load((ROOT / "data" / "responses" / "faq.yml").read_text(encoding="utf-8"))
    data["responses"] = {**data["responses"], **faq["responses"]}
    return Domain.from_dict(data)


@pytest.fixture
def test_clinic(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test clinic's file instead of the example clinic's."""
    monkeypatch.setenv("CLINIC_CONFIG", str(TEST_CLINIC))
