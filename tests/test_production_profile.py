"""The production profile on loopback, against the real PostgreSQL, Redis and RabbitMQ.

scripts/run.py with PROFILE=production starts two Rasa processes and two
action servers behind nginx (with TLS, as a clinic's server would run it).
Fifty conversations then talk to it at once: half through nginx, half
straight to the two Rasa processes in turn, some sending two messages to both
processes at the same moment; one Rasa process is killed part-way through.
Afterwards every stored conversation must hold each message once, in the
order it was sent, and every booking and escalation must have reached the
clinic exactly once.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from clinic_core import event_relay
from tests.proxy import TcpProxy
from tests.support import (
    POSTGRES_ADMIN_URL,
    RABBITMQ_URL,
    TEST_CLINIC,
    WEBHOOK_SECRET,
    free_port,
    free_port_block,
    require_rabbitmq,
    require_redis,
    service_missing,
    start_servers,
    stop_servers,
)
from tests.test_e2e_booking import CONVERSATION as BOOKING_CONVERSATION
from tests.test_e2e_booking import wait_for

pytestmark = pytest.mark.e2e

TOKEN = "production-test-token"
# The whole booking of tests/test_e2e_booking.py, greeting and final "send" included.
BOOKING_TURNS = ["hello", *(message for message, _ in BOOKING_CONVERSATION), "yes, send it"]
TRIAGE_TURNS = [
    "hi",
    "the spot where i was injected is hot and red and there's pus coming out",
    "Ana Diaz",
    "201 555 0123",
    "last tuesday",
]
FAQ_TURNS = [
    "hello",
    "how long does botox last",
    "what are the side effects",
    "how does botox work",
    "who should not get botox",
]
# Sent at the same moment, one to each Rasa process.
FAQ_PAIR = ("does it hurt", "how long does botox last")
KILL_AFTER_TURNS = 120


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "tls.crt", folder / "tls.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],  # fmt: skip
        check=True,
        capture_output=True,
    )
    return cert, key


@dataclass
class Stack:
    url: str  # nginx, over TLS
    staff_url: str
    backends: list[str]  # the two Rasa processes, plain HTTP on loopback
    tls: ssl.SSLContext
    webhook: Any
    log_file: Path
    database_url: str
    queue: str
    # Every process reaches PostgreSQL through this proxy, which a test cuts.
    postgres: TcpProxy
    health_port: int

    def logs(self) -> str:
        return self.log_file.read_text(encoding="utf-8", errors="replace")

    def rasa_pid(self, number: int) -> int:
        """The pid of Rasa server `number` as last started by run.py."""
        pids = re.findall(rf"started Rasa server {number} \(pid (\d+)\)", self.logs())
        return int(pids[-1])

    def get(self, url: str) -> tuple[int, bytes, dict[str, str]]:
        with urllib.request.urlopen(url, timeout=30, context=self.tls) as reply:
            return reply.status, reply.read(), dict(reply.headers.items())


def reachable_or_missing() -> None:
    """Each real service this test needs, or a failure in CI (a skip elsewhere)."""
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        service_missing("nginx", FileNotFoundError("apt-get install nginx"))
    require_redis()
    require_rabbitmq()


@pytest.fixture(scope="module")
def stack(trained_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    import redis
    import sqlalchemy as sa

    from tests.receivers import WebhookReceiver

    tag = uuid.uuid4().hex[:10]
    database, prefix, queue = f"clinic_prod_{tag}", f"prodtest{tag}", f"clinic_test_{tag}"
    reachable_or_missing()
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", future=True)
    try:
        with admin.connect():
            pass
    except sa.exc.OperationalError as error:
        service_missing("PostgreSQL", error)

    admin_url = sa.engine.make_url(POSTGRES_ADMIN_URL)
    postgres = TcpProxy(admin_url.host or "127.0.0.1", admin_url.port or 5432).start()
    health_port = free_port()
    work = tmp_path_factory.mktemp("production")
    cert, key = self_signed_certificate(work)
    clinic_file = work / "clinic.yml"
    shutil.copy(TEST_CLINIC, clinic_file)
    webhook = WebhookReceiver(free_port()).start()
    rasa_port, actions_port, staff_port = free_port(), free_port(), free_port()
    base = free_port_block(5)
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    env.update(
        {
            "PROFILE": "production",
            "RASA_PORT": str(rasa_port),
            "ACTIONS_PORT": str(actions_port),
            "STAFF_PORT": str(staff_port),
            "PRIVATE_PORT_BASE": str(base),
            "RASA_PROCESSES": "2",
            "ACTION_PROCESSES": "2",
            "POSTGRES_DB": database,
            "POSTGRES_PORT": str(postgres.port),
            "HEALTH_PORT": str(health_port),
            "REDIS_KEY_PREFIX": prefix,
            "RABBITMQ_QUEUE": queue,
            # A killed process's locks are taken over after this long.
            "TICKET_LOCK_LIFETIME": "10",
            "TLS_CERT_FILE": str(cert),
            "TLS_KEY_FILE": str(key),
            "DATA_DIR": str(work / "var"),
            "CLINIC_CONFIG": str(clinic_file),
            "RASA_AUTH_TOKEN": TOKEN,
            "MODEL_PATH": str(trained_model),
            "CLINIC_WEBHOOK_URL": webhook.url,
            "CLINIC_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "OUTBOX_BACKOFF_BASE": "0.5",
            "OUTBOX_BACKOFF_MAX": "2",
            "OUTBOX_POLL_INTERVAL": "0.2",
            "WIDGET_ORIGINS": "https://clinic.example",
            # All fifty test patients share 127.0.0.1.
            "RATE_LIMIT_PER_ADDRESS": "0",
        }
    )
    log_file = work / "servers.log"

    def ready() -> bool:
        return log_file.exists() and "Assistant ready (production profile)" in log_file.read_text(
            encoding="utf-8", errors="replace"
        )

    tls = ssl.create_default_context(cafile=str(cert))
    process = start_servers(env, log_file, ready=ready)
    try:
        yield Stack(
            url=f"https://127.0.0.1:{rasa_port}",
            staff_url=f"https://127.0.0.1:{staff_port}",
            backends=[f"http://127.0.0.1:{base}", f"http://127.0.0.1:{base + 1}"],
            tls=tls,
            webhook=webhook,
            log_file=log_file,
            database_url=POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{database}",
            queue=queue,
            postgres=postgres,
            health_port=health_port,
        )
    finally:
        stop_servers(process)
        postgres.stop()
        webhook.stop()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()
        client = redis.Redis(host="127.0.0.1", port=6379, db=1)
        for key_name in client.scan_iter(f"{prefix}:*"):
            client.delete(key_name)
        asyncio.run(delete_queue(queue))


async def delete_queue(queue: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(RABBITMQ_URL)
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(queue)


# --- the load ---------------------------------------------------------------


@dataclass
class Conversation:
    sender: str
    kind: str  # faq | booking | triage
    turns: list[str]
    direct: bool  # straight to the Rasa processes in turn, not through nginx
    pair: tuple[str, str] | None = None
    sent: list[tuple[str, str]] = field(default_factory=list)  # (message_id, text), in order
    replies: list[str] = field(default_factory=list)
    # message_id -> (when it was answered, which address answered it)
    answered: dict[str, tuple[float, str]] = field(default_factory=dict)
    # message_id -> (when it was first sent, every address it was sent to)
    attempts: dict[str, tuple[float, set[str]]] = field(default_factory=dict)


@dataclass
class LoadRun:
    conversations: list[Conversation]
    retries: int
    killed_pid: int
    killed_at: float  # time.monotonic()
    turns: int


def conversations() -> list[Conversation]:
    tag = uuid.uuid4().hex[:6]
    made = []
    for number in range(10):
        made.append(Conversation(f"pb{number}-{tag}", "booking", BOOKING_TURNS, number % 2 == 1))
    for number in range(10):
        made.append(Conversation(f"pt{number}-{tag}", "triage", TRIAGE_TURNS, number % 2 == 1))
    for number in range(30):
        direct = number % 2 == 1
        pair = FAQ_PAIR if direct else None
        made.append(Conversation(f"pf{number}-{tag}", "faq", FAQ_TURNS, direct, pair))
    return made


class Client:
    """Sends each message until it is answered, with the same message_id.

    A message whose process died before answering is sent again: through
    nginx, or to the other Rasa process, as a client of a load balancer would.
    """

    def __init__(self, stack: Stack, session: Any) -> None:
        self.stack = stack
        self.session = session
        self.retries = 0
        self.answered = 0

    async def send(self, conversation: Conversation, text: str, process: int) -> tuple[str, str]:
        """Returns (message_id, the replies' text)."""
        import aiohttp

        message_id = uuid.uuid4().hex
        deadline = time.monotonic() + 120
        attempt = 0
        conversation.attempts[message_id] = (time.monotonic(), set())
        while True:
            if conversation.direct:
                url = self.stack.backends[(process + attempt) % 2]
            else:
                url = self.stack.url
            conversation.attempts[message_id][1].add(url)
            body = {
                "sender": conversation.sender,
                "message": text,
                "message_id": message_id,
                "resend": attempt > 0,
            }
            try:
                async with self.session.post(
                    f"{url}/webhooks/rest/webhook", json=body, ssl=self.stack.tls
                ) as reply:
                    if reply.status == 200:
                        replies = await reply.json()
                        self.answered += 1
                        conversation.answered[message_id] = (time.monotonic(), url)
                        return message_id, " ".join(r.get("text") or "" for r in replies)
                    assert reply.status in (502, 503, 504), await reply.text()
            except (aiohttp.ClientConnectionError, asyncio.TimeoutError):
                pass
            attempt += 1
            self.retries += 1
            assert time.monotonic() < deadline, f"{conversation.sender}: no answer to {text!r}"
            await asyncio.sleep(0.5)

    async def talk(self, conversation: Conversation) -> None:
        for index, text in enumerate(conversation.turns):
            message_id, reply = await self.send(conversation, text, index)
            conversation.sent.append((message_id, text))
            conversation.replies.append(reply)
        if conversation.pair:
            both = await asyncio.gather(
                self.send(conversation, conversation.pair[0], 0),
                self.send(conversation, conversation.pair[1], 1),
            )
            for (message_id, reply), text in zip(both, conversation.pair, strict=True):
                conversation.sent.append((message_id, text))
                conversation.replies.append(reply)


@pytest.fixture(scope="module")
def load_run(stack: Stack) -> LoadRun:
    import aiohttp

    talks = conversations()
    killed: list[tuple[int, float]] = []

    async def kill_one_process(client: Client) -> None:
        while client.answered < KILL_AFTER_TURNS:
            await asyncio.sleep(0.05)
        pid = stack.rasa_pid(1)
        os.kill(pid, signal.SIGKILL)
        killed.append((pid, time.monotonic()))

    async def run() -> Client:
        timeout = aiohttp.ClientTimeout(total=60)
        connector = aiohttp.TCPConnector(limit=100)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            client = Client(stack, session)
            killer = asyncio.ensure_future(kill_one_process(client))
            await asyncio.gather(*(client.talk(conversation) for conversation in talks))
            assert killer.done(), "the run ended before a process was killed"
            return client

    client = asyncio.run(run())
    (pid, killed_at) = killed[0]
    return LoadRun(talks, client.retries, pid, killed_at, client.answered)


# --- what must hold afterwards ------------------------------------------------


def tracker(stack: Stack, sender: str) -> dict[str, Any]:
    status, body, _ = stack.get(f"{stack.url}/conversations/{sender}/tracker?token={TOKEN}")
    assert status == 200
    return json.loads(body)


def user_turns(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["message_id"], e["text"]) for e in events if e["event"] == "user"]


def test_every_message_is_stored_once_and_in_order(stack: Stack, load_run: LoadRun) -> None:
    expected_turns = sum(len(c.turns) + (2 if c.pair else 0) for c in load_run.conversations)
    assert len(load_run.conversations) == 50 and load_run.turns == expected_turns == 330
    for conversation in load_run.conversations:
        stored = user_turns(tracker(stack, conversation.sender)["events"])
        if conversation.pair:
            # The two messages sent at once may be stored in either order.
            head, tail = stored[:-2], stored[-2:]
            assert head == conversation.sent[:-2], conversation.sender
            assert sorted(tail) == sorted(conversation.sent[-2:]), conversation.sender
        else:
            assert stored == conversation.sent, conversation.sender


def test_conversations_kept_their_state_across_processes(load_run: LoadRun) -> None:
    """The booking form and the triage questions went on whichever process answered."""
    for conversation in load_run.conversations:
        final = conversation.replies[len(conversation.turns) - 1]
        if conversation.kind == "booking":
            assert re.search(r"\bBK-[A-Z2-9]{6}\b", final), (conversation.sender, final)
        elif conversation.kind == "triage":
            assert "clinic should look at" in conversation.replies[1]
            assert "ES-" in final, (conversation.sender, final)


def deliveries(stack: Stack) -> list[dict[str, Any]]:
    return [
        {**json.loads(request.body), "_key": request.headers.get("Idempotency-Key")}
        for request in stack.webhook.requests
    ]


def wait_for_deliveries(stack: Stack, expected: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 60
    while len(deliveries(stack)) < expected and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(2)  # anything delivered twice would have arrived by now
    return deliveries(stack)


def test_every_booking_and_escalation_reached_the_clinic_exactly_once(
    stack: Stack, load_run: LoadRun
) -> None:
    bookers = {c.sender for c in load_run.conversations if c.kind == "booking"}
    reporters = {c.sender for c in load_run.conversations if c.kind == "triage"}
    received = wait_for_deliveries(stack, len(bookers) + len(reporters))
    bookings = [d for d in received if d["type"] == "booking"]
    escalations = [d for d in received if d["type"] == "escalation"]
    assert Counter(d["conversation_id"] for d in bookings) == Counter(bookers)
    assert Counter(d["conversation_id"] for d in escalations) == Counter(reporters)
    assert all(d["severity"] == "urgent" for d in escalations)
    # No notification of any kind delivered twice.
    assert len({d["_key"] + d["type"] for d in received}) == len(received)
    # And exactly one row each in the clinic's database.
    import sqlalchemy as sa

    engine = sa.create_engine(stack.database_url)
    with engine.connect() as connection:
        booked = connection.execute(sa.text("SELECT conversation_id FROM bookings")).all()
        escalated = connection.execute(sa.text("SELECT conversation_id FROM escalations")).all()
    engine.dispose()
    assert Counter(row[0] for row in booked) == Counter(bookers)
    assert Counter(row[0] for row in escalated) == Counter(reporters)


def test_the_killed_process_was_replaced_while_the_other_served(
    stack: Stack, load_run: LoadRun
) -> None:
    logs = stack.logs()
    assert "Rasa server 1 exited" in logs
    deadline = time.monotonic() + 180
    while stack.rasa_pid(1) == load_run.killed_pid and time.monotonic() < deadline:
        time.sleep(1)
    assert stack.rasa_pid(1) != load_run.killed_pid
    with pytest.raises(ProcessLookupError):
        os.kill(load_run.killed_pid, 0)
    assert load_run.retries > 0, "no message was in flight at the kill: nothing was tested"
    # nginx kept answering while one process was down.
    status, body, _ = stack.get(f"{stack.url}/")
    assert status == 200 and b"Hello from Rasa" in body


def test_every_stored_event_was_streamed_to_rabbitmq(stack: Stack, load_run: LoadRun) -> None:
    """Strict: the relay publishes from what is stored (clinic_core/event_relay.py), so
    the killed Rasa process loses nothing from the stream, whatever the timing."""
    import aio_pika
    import sqlalchemy as sa

    engine = sa.create_engine(stack.database_url)
    try:
        deadline = time.monotonic() + 60
        while (waiting := event_relay.waiting_count(engine)) != 0:
            assert time.monotonic() < deadline, f"{waiting} events still waiting for RabbitMQ"
            time.sleep(0.5)
        with engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT id, sender_id, data FROM events")).all()
    finally:
        engine.dispose()
    stored = {row[0]: (row[1], json.loads(row[2])) for row in rows}

    async def drain() -> list[dict[str, Any]]:
        events = []
        connection = await aio_pika.connect(RABBITMQ_URL)
        async with connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(stack.queue, passive=True)
            while (message := await queue.get(no_ack=True, fail=False, timeout=5)) is not None:
                events.append(json.loads(message.body))
        return events

    received = asyncio.run(drain())
    # At least once: a publish whose confirm timed out on a loaded machine may come
    # again, always under the same event_id, which is how a consumer drops it.
    streamed, seen = [], set()
    for event in received:
        if event["event_id"] not in seen:
            seen.add(event["event_id"])
            streamed.append(event)
    assert len(received) - len(streamed) <= len(streamed) // 100, "more than 1% repeats"
    assert seen == set(stored), "stored and streamed events differ"
    for event in received:
        sender, data = stored[event["event_id"]]
        assert event == {"sender_id": sender, **data, "event_id": event["event_id"]}
    # Every message every patient sent is in the stream, once.
    user_messages = Counter(
        (event["sender_id"], event["message_id"]) for event in streamed if event["event"] == "user"
    )
    sent = {
        (conversation.sender, message_id)
        for conversation in load_run.conversations
        for message_id, _ in conversation.sent
    }
    assert set(user_messages) == sent and max(user_messages.values()) == 1
    # Per conversation, the stream keeps the order of the database.
    last_seen: dict[str, int] = {}
    for event in streamed:
        assert event["event_id"] > last_seen.get(event["sender_id"], 0)
        last_seen[event["sender_id"]] = event["event_id"]


def test_tls_widget_files_and_staff_console_are_served_by_nginx(stack: Stack) -> None:
    status, body, headers = stack.get(f"{stack.url}/widget/clinic-chat.js")
    assert status == 200 and b"data-server-url" in body
    assert headers["Content-Type"].startswith("application/javascript")
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    status, body, _ = stack.get(f"{stack.staff_url}/login")
    assert status == 200 and b"password" in body.lower()
    # A client that does not trust the clinic's certificate sends nothing.
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{stack.url}/", timeout=10)


def say(stack: Stack, sender: str, text: str, sticky: bool = True) -> tuple[int, list[str]]:
    """One message through nginx, as the widget sends it (sticky: with X-Conversation-Id)."""
    headers = {"Content-Type": "application/json"}
    if sticky:
        headers["X-Conversation-Id"] = sender
    request = urllib.request.Request(
        f"{stack.url}/webhooks/rest/webhook",
        data=json.dumps({"sender": sender, "message": text}).encode(),
        headers=headers,
    )
    try:
        with urllib.request.urlopen(request, timeout=60, context=stack.tls) as reply:
            return reply.status, [m.get("text", "") for m in json.loads(reply.read())]
    except urllib.error.HTTPError as error:
        return error.code, []


def answers(url: str) -> bool:
    """Does the Rasa process at `url` answer (its model loaded)?"""
    try:
        with urllib.request.urlopen(f"{url}/status?token={TOKEN}", timeout=5) as reply:
            return reply.status == 200
    except (OSError, urllib.error.URLError):
        return False


def served_by(stack: Stack, sender: str, text: str, sticky: bool) -> str:
    """The Rasa process nginx gave one message to (from its access log)."""
    log = stack.log_file.parent / "var" / "nginx" / "access.log"
    seen = len(log.read_text(encoding="utf-8").splitlines())
    status, replies = say(stack, sender, text, sticky)
    assert status == 200 and replies
    deadline = time.monotonic() + 10
    while True:  # nginx writes the line once the request is finished, just after the reply
        new = log.read_text(encoding="utf-8").splitlines()[seen:]
        lines = [line for line in new if "/webhooks/rest/webhook" in line]
        if lines or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    (line,) = lines
    return line.split()[-1]  # the last upstream tried


def test_a_widget_conversation_stays_on_one_rasa_process(stack: Stack) -> None:
    """With the widget's X-Conversation-Id every turn goes to the same process; without it
    (the messaging platforms) messages are spread over both (all 24 on one: odds 1 in 8
    million)."""
    # An earlier test killed a process: both must answer, and nginx must have
    # forgotten the failure (fail_timeout=5s), before counting where messages go.
    for backend in stack.backends:
        assert wait_for(lambda url=backend: answers(url), seconds=180), backend
    time.sleep(6)
    for _ in range(4):
        sender = f"sticky-{uuid.uuid4().hex[:10]}"
        turns = ("hello", "how long does botox last", "and the side effects?", "thanks")
        assert len({served_by(stack, sender, text, sticky=True) for text in turns}) == 1
    senders = [f"loose-{uuid.uuid4().hex[:10]}" for _ in range(24)]
    spread = {served_by(stack, sender, "hello", sticky=False) for sender in senders}
    assert spread == {url.removeprefix("http://") for url in stack.backends}


def test_while_postgresql_is_unreachable_patients_are_told_and_nothing_is_half_recorded(
    stack: Stack,
) -> None:
    """PostgreSQL cut off (a restart, a network failure): each message is answered
    with the polite failure reply (the emergency advice first for an emergency),
    never as a new conversation; afterwards the conversation goes on where it was."""
    from channels.failure_replies import FAILURE_REPLY

    sender = f"pg-outage-{uuid.uuid4().hex[:8]}"
    assert say(stack, sender, "hello")[0] == 200
    stack.postgres.cut()
    cut_at = time.monotonic()
    try:
        status, replies = say(stack, sender, "how long does botox last")
        assert (status, replies) == (200, [FAILURE_REPLY])
        status, replies = say(stack, sender, "my throat is closing and I can't breathe")
        assert status == 200 and "911" in replies[0] and replies[-1] == FAILURE_REPLY
        # Unreachable for 30 s: long enough for a service that died of it to have
        # been restarted five times, when the supervisor gives up.
        time.sleep(max(0.0, 30 - (time.monotonic() - cut_at)))
        assert say(stack, sender, "are you there") == (200, [FAILURE_REPLY])
    finally:
        stack.postgres.restore()
    status, replies = say(stack, sender, "how long does botox last")
    assert status == 200 and any("months" in text for text in replies), replies
    said = [e["text"] for e in tracker(stack, sender)["events"] if e["event"] == "user"]
    assert said == ["hello", "how long does botox last"]  # nothing from the outage
    # The services that poll the database rode it out: all still up.
    health = json.loads(
        urllib.request.urlopen(f"http://127.0.0.1:{stack.health_port}/health", timeout=10).read()
    )
    assert all(state == "up" for state in health["services"].values()), health
