"""Faults of the services around the assistant, each against the real thing.

PostgreSQL and Redis are shared with every other test and with CI, so they
are never stopped: each test reaches them through a TCP proxy
(tests/proxy.py) that it cuts, as a restart or a network failure would, and
restores.  The clinic's webhook and mail server are local servers of the
test that hang, hang up or refuse.  SQLite's "disk full" is SQLite's own
page limit, which fails writes exactly as a full disk does.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from clinic_core import notifications, storage
from serving.tracker_store import CachedSQLTrackerStore
from tests.proxy import TcpProxy
from tests.receivers import WebhookReceiver
from tests.support import (
    POSTGRES_ADMIN_URL,
    ROOT,
    free_port,
    greet_domain,
    require_redis,
)
from tests.test_e2e_booking import wait_for
from tests.test_outbox import a_booking, make_due, notify, outbox_rows

pytestmark = pytest.mark.integration

DOMAIN = greet_domain()


@pytest.fixture
def postgres_proxy() -> Iterator[TcpProxy]:
    url = sa.engine.make_url(POSTGRES_ADMIN_URL)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    yield proxy
    proxy.stop()


# --- PostgreSQL ---------------------------------------------------------------------------


def test_the_outbox_worker_rides_out_a_database_outage_and_catches_up(
    fresh_postgres: str, postgres_proxy: TcpProxy, tmp_path: Path
) -> None:
    """PostgreSQL unreachable for a while: the worker waits (it neither dies, which
    would make the supervisor give up after five crashes, nor loses anything),
    then delivers what was stored meanwhile.

    Counted by idempotency key: a cut that falls between the webhook's POST and the
    commit of "delivered" sends that notification again after the outage (delivery
    is at least once; the clinic drops the repeat by its Idempotency-Key), so the
    number of requests may jump past two at once."""
    storage.migrate(fresh_postgres)
    receiver = WebhookReceiver(free_port()).start()
    env = {
        **os.environ,
        "DATABASE_URL": postgres_proxy.url_for(fresh_postgres),
        "CLINIC_WEBHOOK_URL": receiver.url,
        "OUTBOX_POLL_INTERVAL": "0.2",
        "OUTBOX_BACKOFF_BASE": "0.2",
        "OUTBOX_BACKOFF_MAX": "1",
        "DATA_DIR": str(tmp_path),
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "clinic_core.notifications", "run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        storage.save_booking(a_booking("before"), notify, ["webhook"], fresh_postgres)
        assert wait_for(lambda: len(delivered_keys(receiver)) == 1), log.read_text()
        postgres_proxy.cut()
        storage.save_booking(a_booking("during"), notify, ["webhook"], fresh_postgres)
        time.sleep(8)  # longer than 1+2+4 s of crash-restart backoff
        assert worker.poll() is None, log.read_text()
        assert len(delivered_keys(receiver)) == 1
        postgres_proxy.restore()
        assert wait_for(lambda: len(delivered_keys(receiver)) == 2), log.read_text()
    finally:
        worker.terminate()
        worker.wait(15)
        receiver.stop()
    assert "database unreachable" in log.read_text()
    assert [row.status for row in outbox_rows(fresh_postgres)] == ["delivered", "delivered"]


def delivered_keys(receiver: WebhookReceiver) -> set[str]:
    """The distinct notifications the clinic received (HTTP header names ignore case)."""
    return {
        value
        for request in receiver.requests
        for name, value in request.headers.items()
        if name.lower() == "idempotency-key"
    }


def a_tracker(sender: str) -> DialogueStateTracker:
    events = [ActionExecuted("action_listen"), UserUttered("hi", {"name": "greet"})]
    return DialogueStateTracker.from_events(sender, events, DOMAIN.slots)


def test_the_first_turn_after_a_postgres_restart_succeeds(
    fresh_postgres: str, postgres_proxy: TcpProxy
) -> None:
    """Pooled connections die with a restart; the tracker store checks a connection
    before using it, so no patient's turn is the one that finds out."""
    url = sa.engine.make_url(postgres_proxy.url_for(fresh_postgres))
    store = CachedSQLTrackerStore(
        domain=DOMAIN,
        dialect="postgresql",
        host=url.host,
        port=url.port,
        db=url.database,
        username=url.username,
        cache_size=0,
    )
    try:
        asyncio.run(store.save(a_tracker("p1")))
        postgres_proxy.cut()  # the restart: every pooled connection is gone
        postgres_proxy.restore()
        tracker = asyncio.run(store.retrieve("p1"))
        assert tracker is not None and tracker.latest_message.text == "hi"
    finally:
        store.engine.dispose()


# --- Redis ------------------------------------------------------------------------------


def test_the_lock_store_works_on_after_a_redis_restart() -> None:
    import redis

    from serving.lock_store import AtomicRedisLockStore

    require_redis()
    from rasa.utils.endpoints import EndpointConfig

    proxy = TcpProxy("127.0.0.1", 6379).start()
    prefix = f"faulttest{uuid.uuid4().hex[:8]}"
    store = AtomicRedisLockStore(
        EndpointConfig(url="127.0.0.1", port=proxy.port, db=1, key_prefix=prefix)
    )

    async def one_turn(conversation: str) -> None:
        async with store.lock(conversation, lock_lifetime=5, wait_time_in_seconds=0.05):
            pass

    try:
        asyncio.run(one_turn("c1"))
        proxy.cut()
        proxy.restore()
        asyncio.run(one_turn("c1"))  # the first turn after the restart
    finally:
        proxy.stop()
        client = redis.Redis(host="127.0.0.1", port=6379, db=1)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)


# --- the clinic's webhook and mail server -----------------------------------------------


class Misbehaving:
    """A TCP server that hangs (accepts, never answers) or hangs up at once."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            if self.mode == "hang up":
                connection.recv(65536)
                connection.close()
            else:
                self.held.append(connection)

    def close(self) -> None:
        self.sock.close()
        for connection in self.held:
            connection.close()


@pytest.mark.parametrize("mode", ["hang", "hang up"])
def test_a_webhook_that_hangs_or_hangs_up_is_retried_until_it_answers(
    mode: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    storage.migrate(url)
    monkeypatch.setattr(notifications, "TIMEOUT_S", 1.0)
    bad = Misbehaving(mode)
    monkeypatch.setenv("CLINIC_WEBHOOK_URL", f"http://127.0.0.1:{bad.port}/clinic-hook")
    reference, _ = storage.save_booking(a_booking(), notify, ["webhook"], url)
    try:
        notifications.deliver_due(url=url)
        (row,) = outbox_rows(url)
        assert (row.status, row.attempts) == ("pending", 1) and row.last_error
    finally:
        bad.close()
    receiver = WebhookReceiver(free_port()).start()
    monkeypatch.setenv("CLINIC_WEBHOOK_URL", receiver.url)
    try:
        make_due(url)
        notifications.deliver_due(url=url)
    finally:
        receiver.stop()
    assert [r.headers["Idempotency-Key"] for r in receiver.requests] == [reference]
    assert outbox_rows(url)[0].status == "delivered"


class Refusing:
    """An SMTP server (aiosmtpd) that refuses every message with `reply`."""

    def __init__(self, reply: str) -> None:
        self.reply = reply

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802, ANN001
        return self.reply


@pytest.mark.parametrize(
    ("reply", "status"),
    [("451 4.3.0 try again later", "pending"), ("554 5.7.1 rejected", "failed")],
)
def test_a_refusing_mail_server_is_retried_or_the_refusal_kept_for_staff(
    reply: str, status: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    storage.migrate(url)
    port = free_port()
    controller = Controller(Refusing(reply), hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(port))
    monkeypatch.setenv("CLINIC_EMAIL_TO", "desk@clinic.test")
    try:
        storage.save_booking(a_booking(), notify, ["email"], url)
        notifications.deliver_due(url=url)
    finally:
        controller.stop()
    (row,) = outbox_rows(url)
    assert row.status == status and row.last_error.startswith(f"SMTP {reply[:3]}")


def test_an_unreachable_mail_server_is_retried(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    storage.migrate(url)
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(free_port()))
    monkeypatch.setenv("CLINIC_EMAIL_TO", "desk@clinic.test")
    storage.save_booking(a_booking(), notify, ["email"], url)
    notifications.deliver_due(url=url)
    (row,) = outbox_rows(url)
    assert row.status == "pending" and row.attempts == 1


# --- a full disk --------------------------------------------------------------------------


def test_a_full_disk_fails_a_booking_whole_and_politely(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """SQLite out of space: nothing half-stored, the patient told to call the clinic
    (not that the request was received); space again, and bookings are stored."""
    from tests.test_booking_form import FILLED, submit

    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("CLINIC_WEBHOOK_URL", "http://127.0.0.1:9/unused")
    storage.migrate(url)
    engine = storage.engine(url)
    engine.dispose()
    with engine.connect() as connection:
        pages = {"limit": connection.exec_driver_sql("PRAGMA page_count").scalar() + 20}

    @sa.event.listens_for(engine, "connect")
    def limit_pages(connection, _record) -> None:  # noqa: ANN001
        # The file may not grow past this many pages: a write that needs more
        # fails with SQLITE_FULL, "database or disk is full".
        cursor = connection.cursor()
        cursor.execute(f"PRAGMA max_page_count = {pages['limit']}")
        cursor.close()

    engine.dispose()

    def book(number: int) -> str:
        details = {**FILLED, "booking_name": f"Ana Diaz {number}", "booking_confirmed": True}
        messages, _ = submit(details)
        return messages[-1]["response"]

    try:
        replies = []
        for number in range(3000):  # patients book until the disk is full
            replies.append(book(number))
            if replies[-1] != "utter_booking_received":
                break
        assert replies[-1] == "utter_booking_not_saved" and len(replies) > 1, replies[-3:]
        # Nothing half-stored: each stored booking has its notification, no more.
        with storage.transaction(url) as session:
            bookings = session.query(storage.Booking).count()
        assert bookings == len(replies) - 1 == len(outbox_rows(url))
        pages["limit"] = 1_000_000  # space again
        engine.dispose()
        assert book(9999) == "utter_booking_received"
        assert len(outbox_rows(url)) == bookings + 1
    finally:
        sa.event.remove(engine, "connect", limit_pages)
        engine.dispose()


# --- SQLite busy, and what a failure logs ---------------------------------------------------


def sqlite_store(path: Path) -> CachedSQLTrackerStore:
    return CachedSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(path), cache_size=0)


def test_a_long_write_elsewhere_delays_a_turn_instead_of_failing_it(tmp_path: Path) -> None:
    """A retention run or a restore holding the conversations database for 6 s (more
    than SQLite's default 5-s wait): the patient's turn waits and is stored."""
    import sqlite3

    store = sqlite_store(tmp_path / "conversations.db")
    asyncio.run(store.save(a_tracker("p1")))
    other = sqlite3.connect(
        tmp_path / "conversations.db", isolation_level=None, check_same_thread=False
    )
    other.execute("BEGIN IMMEDIATE")  # the write lock
    threading.Timer(6.0, lambda: other.execute("COMMIT")).start()
    try:
        started = time.monotonic()
        asyncio.run(store.save(a_tracker("p2")))
        assert time.monotonic() - started >= 5.0
        assert asyncio.run(store.retrieve("p2")) is not None
        journal = store.engine.connect().exec_driver_sql("PRAGMA journal_mode").scalar()
        assert journal == "wal"  # readers (the console, a backup) never block it
    finally:
        time.sleep(0.1)
        other.close()
        store.engine.dispose()


def test_a_failed_statement_logs_no_patient_words(tmp_path: Path) -> None:
    """SQLAlchemy puts a failed statement's values into its error message, which
    reaches the log; the project's engines hide them."""
    store = sqlite_store(tmp_path / "conversations.db")
    words = "my lip is numb after botox"
    with store.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE events")
    tracker = DialogueStateTracker.from_events(
        "p3", [UserUttered(words, {"name": "greet"})], DOMAIN.slots
    )
    with pytest.raises(sa.exc.DBAPIError) as failure:
        asyncio.run(store.save(tracker))
    assert words not in str(failure.value)
    project = storage.engine(f"sqlite:///{tmp_path / 'clinic.db'}")
    with pytest.raises(sa.exc.DBAPIError) as failure, project.begin() as connection:
        connection.execute(sa.text("INSERT INTO nowhere VALUES (:v)"), {"v": words})
    assert words not in str(failure.value)
    store.engine.dispose()
