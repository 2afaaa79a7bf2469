"""Benchmark the assistant against Rasa's own starter bot (`make bench`).

Three targets are measured in one run, with the same venv and the same client:

- `starter`: the bot `rasa init` creates, served by a bare `rasa run`; the
  floor of what any Rasa 3.6 assistant costs on this machine;
- `default`: our assistant started by scripts/run.py, as `make run` does;
- `production`: the same with `PROFILE=production` (nginx in front of several
  Rasa processes, on PostgreSQL/Redis/RabbitMQ).

For each: start-up time, REST turn latency and throughput at 1, 8 and 32
concurrent conversations (closed loop), latency against conversation length,
resident memory per process, and, once per project, training and retraining
time.  It prints markdown tables, writes PNG charts and `figures.json` into
`results/bench/`, and exits 0 whatever the figures are: it is a report, not
a test.  A target that does not start is reported as missing; the others are
still measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MODEL = ROOT / "models" / "current.tar.gz"
TEST_CLINIC = ROOT / "tests" / "fixtures" / "test-clinic.yml"
ALL_TARGETS = ("starter", "default", "production")
OURS = ("default", "production")
WEBHOOK = "/webhooks/rest/webhook"
STARTUP_TIMEOUT_S = 300.0
STOP_GRACE_S = 30.0
TURN_TIMEOUT_S = 60.0
TRAIN_TIMEOUT_S = 1800.0

# Environment for every process started here: quiet, and no telemetry.
QUIET_ENV = {
    "RASA_TELEMETRY_ENABLED": "false",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
}

# The targets the report checks our assistant against.
P95_AT_8_MAX_MS = 150.0
THROUGHPUT_VS_STARTER_MIN = 1.5
LENGTH_GROWTH_MAX = 1.3
STARTUP_MAX_S = 20.0
TRAINING_MAX_S = 180.0
RASA_RSS_MAX_MB = 1200.0


# --- what patients say -------------------------------------------------------
# The same kinds of messages as the end-to-end tests (tests/test_e2e_*.py).

FAQ_QUESTIONS = (
    "how long does botox last?",
    "what are the side effects of botox?",
    "how does botox work on wrinkles",
    "who should avoid botox?",
    "how much does botox cost?",
    "is it normal to bruise after botox injections?",
    "how often do i need to come back for touch ups",
    "what actually is botox?",
    "how long do botox side effects last?",
    "which parts of the body can botox be injected into",
)
OPENINGS = ("hi", "hello", "good morning")
BOOKING = (
    "I'd like to book an appointment",
    "Ana Diaz",
    "201 555 0123",
    "ana.diaz@example.com",
    "next tuesday afternoon",
    "forehead",
    "yes",
    "yes",
    "yes, send it",
)
EXPECTED_SYMPTOMS = (
    "I have a small bruise where I was injected yesterday",
    "i had botox on monday and now my forehead is a bit swollen",
)
UNUSUAL_SYMPTOM = (
    "the spot where i was injected is hot and red and there's pus coming out",
    "Ana Diaz",
    "201 555 0123",
    "last tuesday",
)
# Mostly questions, some bookings, some symptom reports: shares of conversations;
# of turns about 55 % FAQ, 33 % booking, 12 % triage (a booking is ten turns).
OUR_MIX = (("faq", 0.70), ("booking", 0.15), ("expected", 0.10), ("unusual", 0.05))

Conversation = Callable[[random.Random], list[str]]


def our_conversation(rng: random.Random) -> list[str]:
    """One patient conversation drawn from OUR_MIX."""
    kind = rng.choices([k for k, _ in OUR_MIX], weights=[w for _, w in OUR_MIX])[0]
    opening = [rng.choice(OPENINGS)]
    if kind == "booking":
        return opening + list(BOOKING)
    if kind == "expected":
        return opening + [rng.choice(EXPECTED_SYMPTOMS), "no thanks"]
    if kind == "unusual":
        return opening + list(UNUSUAL_SYMPTOM)
    questions = rng.sample(FAQ_QUESTIONS, 3)
    return questions if rng.random() < 0.5 else opening + questions


def starter_examples(project: Path) -> dict[str, list[str]]:
    """The starter's NLU examples by intent, read from its data/nlu.yml."""
    import yaml

    data = yaml.safe_load((project / "data" / "nlu.yml").read_text(encoding="utf-8"))
    examples: dict[str, list[str]] = {}
    for block in data.get("nlu", []):
        if "intent" in block:
            lines = block.get("examples", "").splitlines()
            texts = [line.strip()[2:].strip() for line in lines if line.strip().startswith("- ")]
            examples[block["intent"]] = texts
    return examples


def starter_conversation(examples: dict[str, list[str]]) -> Conversation:
    """Conversations that follow the starter's stories: greet, mood, answer, bye."""

    def pick(rng: random.Random, intent: str) -> str:
        return rng.choice(examples[intent])

    def conversation(rng: random.Random) -> list[str]:
        mood = rng.choice(["mood_great", "mood_unhappy"])
        turns = [pick(rng, "greet"), pick(rng, mood)]
        if mood == "mood_unhappy":
            turns.append(pick(rng, rng.choice(["affirm", "deny"])))
        if rng.random() < 0.3:
            turns.append(pick(rng, "bot_challenge"))
        return turns + [pick(rng, "goodbye")]

    return conversation


def starter_cycle(examples: dict[str, list[str]]) -> list[str]:
    """One message per starter intent, for the long conversation."""
    order = ["greet", "mood_great", "mood_unhappy", "affirm", "bot_challenge", "deny"]
    return [examples[intent][0] for intent in order if examples.get(intent)]


# --- processes ---------------------------------------------------------------


class TargetFailed(Exception):
    """A target could not be started or measured; the others still are."""


def base_env() -> dict[str, str]:
    return {**os.environ, **QUIET_ENV}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_time(pid: int) -> str | None:
    """The kernel's start time of `pid`, so a reused pid is never mistaken for ours.

    None for a process that is gone or has finished (a zombie).
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else fields[19]


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants, parents first."""
    tree, queue = [], [pid]
    while queue:
        current = queue.pop(0)
        tree.append(current)
        queue += children(current)
    return tree


class Launched:
    """A process started in a session of its own, stopped with everything it started.

    scripts/run.py starts each service in its own session too, so a signal to
    our process group does not reach them: run.py stops them on SIGTERM, and
    whatever survives (if run.py itself had to be killed) is stopped by pid.
    """

    running: list[Launched] = []

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
        self.argv = argv
        self.log = log
        with log.open("ab") as sink:
            self.process = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started = time.monotonic()
        Launched.running.append(self)

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait(self, timeout: float) -> int:
        """The exit code; a process still running after `timeout` is stopped."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired as error:
            self.stop()
            raise TargetFailed(f"{' '.join(self.argv[:3])} took over {timeout:.0f}s") from error
        self.stop()  # finished: only forgets it
        return code

    def stop(self) -> None:
        if self in Launched.running:
            Launched.running.remove(self)
        if self.process.poll() is not None:
            return  # reaped: its pid may already be someone else's
        descendants = [(pid, _start_time(pid)) for pid in process_tree(self.pid)[1:]]
        _signal_group(self.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            _signal_group(self.pid, signal.SIGKILL)
            self.process.wait()
        _stop_leftovers(descendants)

    @classmethod
    def stop_all(cls) -> None:
        for launched in reversed(list(cls.running)):
            launched.stop()


def _signal_group(pid: int, signum: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pid, signum)


def _stop_leftovers(descendants: list[tuple[int, str | None]]) -> None:
    """TERM, then KILL, whatever of `descendants` is still the same process."""

    def alive() -> list[int]:
        return [pid for pid, start in descendants if start and _start_time(pid) == start]

    for signum in (signal.SIGTERM, signal.SIGKILL):
        for pid in alive():
            with suppress(ProcessLookupError):
                os.kill(pid, signum)
        deadline = time.monotonic() + 10
        while alive() and time.monotonic() < deadline:
            time.sleep(0.2)


def timed_run(argv: list[str], cwd: Path, env: dict[str, str], log: Path) -> float:
    """Seconds `argv` took; a failure is a TargetFailed with the log's tail."""
    launched = Launched(argv, cwd, env, log)
    code = launched.wait(TRAIN_TIMEOUT_S)
    if code != 0:
        raise TargetFailed(f"{' '.join(argv[:3])} exited with {code}:\n{tail(log)}")
    return time.monotonic() - launched.started


def tail(log: Path, lines: int = 15) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# --- one target running -------------------------------------------------------


@dataclass
class Running:
    """A started target: its process, REST webhook and start-up figures."""

    name: str
    launched: Launched
    url: str
    startup_s: float | None = None
    ready_s: float | None = None
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
        }
    )
    return env, rasa_port


def start_ours(name: str, env: dict[str, str], port: int, out: Path) -> Running:
    if not MODEL.exists():
        raise TargetFailed(f"no model at {MODEL}: run `make train`")
    argv = [str(BIN / "clinic-run")]  # `make run`'s command
    launched = Launched(argv, ROOT, env, out / f"{name}-servers.log")
    running = Running(name, launched, f"http://127.0.0.1:{port}")
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


# --- the production profile's shared services --------------------------------


def production_isolation(env: dict[str, str]) -> dict[str, str]:
    """This run's own database, Redis keys, queue and private ports.

    The profile's defaults are the clinic's real database and queue, and
    fixed loopback ports a test run may be using at the same time.
    """
    tag = uuid.uuid4().hex[:10]
    private = int(env.get("RASA_PROCESSES", "2")) + int(env.get("ACTION_PROCESSES", "2")) + 1
    return {
        "POSTGRES_DB": f"bench_{tag}",
        "REDIS_KEY_PREFIX": f"bench{tag}",
        "RABBITMQ_QUEUE": f"bench_events_{tag}",
        "PRIVATE_PORT_BASE": str(free_port_block(private)),
    }


def free_port_block(count: int) -> int:
    """The first of `count` consecutive free loopback ports."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 40000)
        if all(port_is_free(base + offset) for offset in range(count)):
            return base
    raise TargetFailed(f"no {count} consecutive free ports")


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def clean_production_state(env: dict[str, str]) -> None:
    """Drop this run's database, Redis keys and queue; say so when one cannot be."""
    if not env.get("POSTGRES_DB", "").startswith("bench_"):
        return  # never anything the bench did not name itself
    try:
        production, full = production_settings(env)
    except Exception as error:  # the profile's code is not ours; report and go on
        print(f"[production] left its state behind: {error}", file=sys.stderr)
        return
    steps = (
        ("database " + full["POSTGRES_DB"], lambda: drop_database(production, full)),
        ("Redis keys " + full["REDIS_KEY_PREFIX"] + "*", lambda: delete_redis_keys(full)),
        ("queue " + full["RABBITMQ_QUEUE"], lambda: asyncio.run(delete_queue(full))),
    )
    for what, step in steps:
        try:
            step()
        except Exception as error:  # as above: one leftover must not hide the figures
            print(f"[production] could not remove {what}: {error}", file=sys.stderr)


def production_settings(env: dict[str, str]) -> tuple[Any, dict[str, str]]:
    """scripts/production.py and `env` with the profile's defaults, as run.py saw it."""
    from scripts import production

    full = dict(env)
    production.apply_defaults(full)
    return production, full


def drop_database(production: Any, full: dict[str, str]) -> None:
    import sqlalchemy as sa

    admin_url = production.database_url(full, full["POSTGRES_LOGIN_DB"])
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            name = full["POSTGRES_DB"]
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def delete_redis_keys(full: dict[str, str]) -> None:
    import redis

    client = redis.Redis(
        host=full["REDIS_HOST"],
        port=int(full["REDIS_PORT"]),
        db=int(full["REDIS_DB"]),
        password=full["REDIS_PASSWORD"] or None,
    )
    try:
        for key in client.scan_iter(match=full["REDIS_KEY_PREFIX"] + "*"):
            client.delete(key)
    finally:
        client.close()


async def delete_queue(full: dict[str, str]) -> None:
    import aio_pika

    connection = await aio_pika.connect(
        host=full["RABBITMQ_HOST"],
        port=int(full["RABBITMQ_PORT"]),
        login=full["RABBITMQ_USER"],
        password=full["RABBITMQ_PASSWORD"],
    )
    async with connection:
        channel = await connection.channel()
        await channel.queue_delete(full["RABBITMQ_QUEUE"])


# --- load -------------------------------------------------------------------


@dataclass
class TurnRecord:
    start: float
    end: float
    status: int  # 0: no HTTP reply (timeout, connection error)
    detail: str = ""


@dataclass
class LevelResult:
    concurrency: int
    seconds: float
    turns: int
    errors: int
    throughput: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    error_samples: list[str] = field(default_factory=list)


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile; None for no data."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


async def send_turn(session: Any, url: str, sender: str, message: str) -> TurnRecord:
    import aiohttp

    start = time.perf_counter()
    try:
        async with session.post(url + WEBHOOK, json={"sender": sender, "message": message}) as r:
            await r.read()
            status, detail = r.status, "" if r.status == 200 else f"HTTP {r.status}"
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        status, detail = 0, type(error).__name__
    return TurnRecord(start, time.perf_counter(), status, detail)


async def conversation_worker(
    session: Any,
    url: str,
    conversation: Conversation,
    rng: random.Random,
    end: float,
    turns: list[TurnRecord],
) -> None:
    """Closed loop: each reply is followed at once by the next message."""
    while time.perf_counter() < end:
        sender = f"bench-{uuid.uuid4().hex[:12]}"
        for message in conversation(rng):
            if time.perf_counter() >= end:
                return
            turns.append(await send_turn(session, url, sender, message))


async def run_level(
    url: str, conversation: Conversation, concurrency: int, warmup_s: float, seconds: float
) -> LevelResult:
    """`concurrency` conversations for warm-up + `seconds`; only the latter is counted."""
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=TURN_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=0)
    turns: list[TurnRecord] = []
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        measure_from = time.perf_counter() + warmup_s
        end = measure_from + seconds
        workers = [
            conversation_worker(
                session, url, conversation, random.Random(1000 * concurrency + i), end, turns
            )
            for i in range(concurrency)
        ]
        await asyncio.gather(*workers)
    return summarise(turns, concurrency, measure_from, end)


def summarise(turns: list[TurnRecord], concurrency: int, start: float, end: float) -> LevelResult:
    """Latency of the turns begun in the window; throughput: good replies received in it."""
    begun = [t for t in turns if start <= t.start < end]
    ok = [t for t in begun if t.status == 200]
    errors = [t for t in begun if t.status != 200]
    done = [t for t in turns if t.status == 200 and start <= t.end <= end]
    latencies = [1000 * (t.end - t.start) for t in ok]
    samples = sorted({t.detail for t in errors})[:5]
    return LevelResult(
        concurrency,
        end - start,
        len(begun),
        len(errors),
        len(done) / (end - start),
        percentile(latencies, 50),
        percentile(latencies, 95),
        percentile(latencies, 99),
        samples,
    )


async def long_conversation(url: str, messages: list[str], turns: int) -> list[float | None]:
    """Per-turn latency (ms) of one conversation of `turns` turns; None for a failed turn."""
    import aiohttp

    sender = f"bench-long-{uuid.uuid4().hex[:10]}"
    latencies: list[float | None] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TURN_TIMEOUT_S)) as s:
        for number in range(turns):
            turn = await send_turn(s, url, sender, messages[number % len(messages)])
            latencies.append(1000 * (turn.end - turn.start) if turn.status == 200 else None)
    return latencies


def length_summary(latencies: list[float | None]) -> dict[str, Any]:
    """Median of the first and last ten turns, and how much the latter grew."""
    first = [x for x in latencies[:10] if x is not None]
    last = [x for x in latencies[-10:] if x is not None]
    head = statistics.median(first) if first else None
    end = statistics.median(last) if last else None
    return {
        "turns": len(latencies),
        "latencies_ms": latencies,
        "failed_turns": sum(x is None for x in latencies),
        "median_first10_ms": head,
        "median_last10_ms": end,
        "growth": end / head if head and end else None,
    }


# --- memory -----------------------------------------------------------------


def command_line(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else None


def role_of(argv: list[str]) -> str:
    """A process's role in the assistant, named from its command line."""
    if not argv:
        return "?"
    if argv[0].startswith("nginx"):
        return "nginx worker" if "worker" in argv[0] else "nginx"
    names = [Path(arg).name for arg in argv]
    if ("rasa" in names or "serving.rasa_server" in argv) and "run" in argv:
        return "rasa server"
    if "rasa_sdk" in argv:
        return "action server"
    if "clinic_core.notifications" in argv:
        return "outbox worker"
    if "scripts.serve_widget" in argv:
        return "widget page"
    if "staff.web" in argv:
        return "staff console"
    if "clinic-run" in names:
        return "run.py (supervisor)"
    return names[0]


def memory(root_pid: int) -> list[dict[str, Any]]:
    """RSS of every process in the target's tree, by role."""
    rows = []
    for pid in process_tree(root_pid):
        argv, rss = command_line(pid), rss_mb(pid)
        if rss is not None:
            rows.append(
                {
                    "pid": pid,
                    "role": role_of(argv),
                    "rss_mb": round(rss, 1),
                    "command": " ".join(argv)[:200],
                }
            )
    return rows


# --- training ---------------------------------------------------------------

OUR_PROJECT_FILES = (
    "config.yml",
    "domain.yml",
    "data",
    "components",
    "actions",
    "clinic_core",
    "clinic",
)
STARTER_PROJECT_FILES = ("config.yml", "domain.yml", "data")


def copy_project(source: Path, names: tuple[str, ...], destination: Path) -> Path:
    """The files training reads, without any `.rasa/cache`: a cold start."""
    destination.mkdir(parents=True)
    for name in names:
        if (source / name).is_dir():
            shutil.copytree(
                source / name, destination / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(source / name, destination / name)
    return destination


def edit_response(domain: Path, response: str) -> None:
    """Change the text of `response` the way a clinic would reword an answer."""
    lines = domain.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.strip() == f"{response}:")
    at = next(i for i in range(start + 1, len(lines)) if re.match(r"\s*-\s*text:", lines[i]))
    if re.search(r"text:\s*[>|]", lines[at]):  # block scalar: the text is on the next line
        at += 1
        lines[at] = re.sub(r"^(\s*)", r"\1Reworded. ", lines[at], count=1)
    else:
        lines[at] = re.sub(r"(text:\s*[\"']?)", r"\1Reworded. ", lines[at], count=1)
    domain.write_text("".join(lines), encoding="utf-8")
    _check_edit(domain, response)


def _check_edit(domain: Path, response: str) -> None:
    import yaml

    texts = [v.get("text", "") for v in yaml.safe_load(domain.read_text())["responses"][response]]
    if not any(text.startswith("Reworded. ") for text in texts):
        raise TargetFailed(f"could not edit {response} in {domain}")


def measure_training(
    name: str, source: Path, files: tuple[str, ...], response: str, work: Path, out: Path
) -> dict[str, float]:
    """Full training from a cold copy, then retraining after a response edit."""
    project = copy_project(source, files, work / f"train-{name}")
    models = work / f"train-{name}-models"
    rasa, env = str(BIN / "rasa"), base_env()
    log = out / f"train-{name}.log"
    print(f"[training] {name}: full training...", flush=True)
    full = timed_run([rasa, "train", "--force", "--out", str(models)], project, env, log)
    edit_response(project / "domain.yml", response)
    print(f"[training] {name}: retraining after editing {response}...", flush=True)
    again = timed_run([rasa, "train", "--out", str(models)], project, env, log)
    return {"full_s": full, "retrain_s": again}


# --- the run ------------------------------------------------------------------


@dataclass
class Settings:
    targets: list[str]
    out: Path
    warmup_s: float
    level_s: float
    levels: tuple[int, ...]
    long_turns: int
    training: bool


def measure_target(
    running: Running,
    conversation: Conversation,
    cycle: list[str],
    settings: Settings,
    result: dict[str, Any],
) -> None:
    """Load levels, the long conversation, then memory, of one started target, into `result`.

    Filled as it goes, so that a target which dies part-way keeps what was measured.
    """
    result.update({"startup_s": running.startup_s, "ready_s": running.ready_s, "load": {}})
    print(f"[{running.name}] answering after {running.startup_s:.1f}s", flush=True)
    for level in settings.levels:
        figures = asyncio.run(
            run_level(running.url, conversation, level, settings.warmup_s, settings.level_s)
        )
        result["load"][str(level)] = asdict(figures)
        print(
            f"[{running.name}] {level:>2} concurrent: p95 {fmt(figures.p95_ms)} ms, "
            f"{figures.throughput:.1f} turns/s, {figures.errors} errors",
            flush=True,
        )
        still_running(running, f"the {level}-concurrent level")
    latencies = asyncio.run(long_conversation(running.url, cycle, settings.long_turns))
    still_running(running, "the long conversation")
    result["length"] = length_summary(latencies)
    result["memory"] = memory(running.launched.pid)
    rasa = [row["rss_mb"] for row in result["memory"] if row["role"] == "rasa server"]
    result["max_rasa_rss_mb"] = max(rasa) if rasa else None
    result["total_rss_mb"] = round(sum(row["rss_mb"] for row in result["memory"]), 1)


def still_running(running: Running, phase: str) -> None:
    """A target that lost a process makes later turns instant errors: say so instead.

    Each process is checked, not only the top one: scripts/run.py takes a
    while to stop its services after a signal, and restarts replicated ones.
    """
    gone = [pid for pid, start in running.processes if _start_time(pid) != start]
    if gone:
        code = running.launched.process.poll()
        state = "still stopping" if code is None else f"exit code {code}"
        raise TargetFailed(
            f"processes {gone} stopped during {phase} (the target: {state}); "
            f"see {running.launched.log}"
        )


def init_starter(work: Path, out: Path) -> Path:
    """`rasa init` into an empty directory (it trains the starter's model too)."""
    project = work / "starter"
    project.mkdir()
    print("[starter] rasa init...", flush=True)
    argv = [str(BIN / "rasa"), "init", "--no-prompt", "--init-dir", str(project)]
    timed_run(argv, project, base_env(), out / "starter-init.log")
    return project


def bench_target(name: str, work: Path, settings: Settings, starter: Callable[[], Path]) -> dict:
    """Start one target, measure it, stop it; a failure is reported, not raised."""
    result: dict[str, Any] = {}
    try:
        with ExitStack() as afterwards:  # runs last-in first-out: stop, then clean up
            if name == "starter":
                project = starter()
                examples = starter_examples(project)
                conversation, cycle = starter_conversation(examples), starter_cycle(examples)
                print("[starter] starting rasa run...", flush=True)
                running = start_starter(project, settings.out)
            else:
                conversation, cycle = our_conversation, list(FAQ_QUESTIONS)
                env, port = assistant_env(name, work / f"{name}-data")
                if name == "production":
                    afterwards.callback(clean_production_state, env)
                print(f"[{name}] starting scripts/run.py...", flush=True)
                running = start_ours(name, env, port, settings.out)
            afterwards.callback(running.launched.stop)
            measure_target(running, conversation, cycle, settings, result)
    except Exception as error:  # one failure must not lose the other figures
        result["error"] = failure(f"[{name}]", error)
    return result


def failure(label: str, error: Exception) -> str:
    """Say why a figure is missing; a bug in this script also shows its traceback."""
    if not isinstance(error, TargetFailed):
        traceback.print_exception(type(error), error, error.__traceback__)
    message = str(error) if isinstance(error, TargetFailed) else f"{type(error).__name__}: {error}"
    print(f"{label} MISSING: {message}", file=sys.stderr, flush=True)
    return message


def bench_training(work: Path, settings: Settings, starter: Callable[[], Path]) -> dict:
    results: dict[str, Any] = {}
    plans = [
        ("ours", lambda: ROOT, OUR_PROJECT_FILES, "utter_goodbye"),
        ("starter", starter, STARTER_PROJECT_FILES, "utter_greet"),
    ]
    for name, source, files, response in plans:
        try:
            results[name] = measure_training(name, source(), files, response, work, settings.out)
            print(
                f"[training] {name}: {results[name]['full_s']:.1f}s full, "
                f"{results[name]['retrain_s']:.1f}s retraining",
                flush=True,
            )
        except Exception as error:  # as for the targets
            results[name] = {"error": failure(f"[training] {name}", error)}
    return results


def run(settings: Settings) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bench-"))
    starter_project: list[Path] = []

    def starter() -> Path:
        if not starter_project:
            starter_project.append(init_starter(work, settings.out))
        return starter_project[0]

    try:
        report: dict[str, Any] = {"settings": settings_dict(settings), "targets": {}}
        for name in settings.targets:
            report["targets"][name] = bench_target(name, work, settings, starter)
        report["training"] = bench_training(work, settings, starter) if settings.training else {}
        return report
    finally:
        Launched.stop_all()
        shutil.rmtree(work, ignore_errors=True)


def settings_dict(settings: Settings) -> dict[str, Any]:
    values = asdict(settings)
    values["out"] = str(settings.out)
    return values


# --- ratios, checks, report --------------------------------------------------


def get(data: dict, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict) or data.get(key) is None:
            return None
        data = data[key]
    return data


def training_of(report: dict, target: str) -> dict:
    return report["training"].get("starter" if target == "starter" else "ours", {})


def comparable(report: dict, target: str) -> dict[str, float | None]:
    """The figures the ratios and checks compare, for one target."""
    data = report["targets"].get(target, {})
    return {
        "p95 at 8 (ms)": get(data, "load", "8", "p95_ms"),
        "throughput at 8 (turns/s)": get(data, "load", "8", "throughput"),
        "start-up (s)": data.get("startup_s"),
        "full training (s)": training_of(report, target).get("full_s"),
        "retraining (s)": training_of(report, target).get("retrain_s"),
        "max Rasa RSS (MB)": data.get("max_rasa_rss_mb"),
        "last-10 / first-10 turn latency": get(data, "length", "growth"),
    }


def ratios(report: dict) -> dict[str, dict[str, float | None]]:
    base = comparable(report, "starter")
    result: dict[str, dict[str, float | None]] = {}
    for target in [t for t in OURS if t in report["targets"]]:
        ours = comparable(report, target)
        result[target] = {
            key: (ours[key] / base[key] if ours[key] is not None and base[key] else None)
            for key in ours
        }
    return result


def checks(report: dict) -> dict[str, dict[str, str]]:
    """PASS/MISS against the targets; n/a where a figure is missing."""
    starter_rps = comparable(report, "starter")["throughput at 8 (turns/s)"]
    turns = report["settings"]["long_turns"]
    result: dict[str, dict[str, str]] = {}
    for target in [t for t in OURS if t in report["targets"]]:
        figures = comparable(report, target)
        rps_floor = THROUGHPUT_VS_STARTER_MIN * starter_rps if starter_rps else None
        result[target] = {
            f"p95 at 8 concurrent <= {P95_AT_8_MAX_MS:.0f} ms": verdict(
                figures["p95 at 8 (ms)"], P95_AT_8_MAX_MS, "ms"
            ),
            f"throughput at 8 >= {THROUGHPUT_VS_STARTER_MIN}x starter": verdict(
                figures["throughput at 8 (turns/s)"], rps_floor, "/s", at_least=True
            ),
            f"turns {turns - 9}-{turns} median <= {LENGTH_GROWTH_MAX}x turns 1-10": verdict(
                figures["last-10 / first-10 turn latency"], LENGTH_GROWTH_MAX, "x"
            ),
            f"start-up <= {STARTUP_MAX_S:.0f} s": verdict(
                figures["start-up (s)"], STARTUP_MAX_S, "s"
            ),
            f"full training <= {TRAINING_MAX_S:.0f} s": verdict(
                figures["full training (s)"], TRAINING_MAX_S, "s"
            ),
            f"RSS <= {RASA_RSS_MAX_MB:.0f} MB per Rasa process": verdict(
                figures["max Rasa RSS (MB)"], RASA_RSS_MAX_MB, "MB"
            ),
        }
    return result


def verdict(value: float | None, limit: float | None, unit: str, at_least: bool = False) -> str:
    if value is None or limit is None:
        return "n/a"
    ok = value >= limit if at_least else value <= limit
    sign = ">=" if at_least else "<="
    return f"{'PASS' if ok else 'MISS'} ({fmt(value)} {unit}; {sign} {fmt(limit)})"


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def main_table(report: dict, settings: Settings) -> str:
    targets = list(report["targets"])
    first, last = "turns 1-10", f"turns {settings.long_turns - 9}-{settings.long_turns}"

    def row(label: str, value: Callable[[str], Any], digits: int = 1) -> list[str]:
        return [label] + [fmt(value(t), digits) for t in targets]

    def data(target: str) -> dict:
        return report["targets"][target]

    rows = [
        row("start-up to first reply (s)", lambda t: data(t).get("startup_s")),
        row('"Assistant ready" printed (s)', lambda t: data(t).get("ready_s")),
    ]
    for level in settings.levels:
        key = str(level)
        rows += [
            row(f"p50 at {level} (ms)", lambda t, k=key: get(data(t), "load", k, "p50_ms"), 0),
            row(f"p95 at {level} (ms)", lambda t, k=key: get(data(t), "load", k, "p95_ms"), 0),
            row(f"p99 at {level} (ms)", lambda t, k=key: get(data(t), "load", k, "p99_ms"), 0),
            row(
                f"throughput at {level} (turns/s)",
                lambda t, k=key: get(data(t), "load", k, "throughput"),
            ),
            row(f"errors at {level} / turns", lambda t, k=key: error_cell(get(data(t), "load", k))),
        ]
    rows += [
        row(
            f"long conversation, {first} median (ms)",
            lambda t: get(data(t), "length", "median_first10_ms"),
            0,
        ),
        row(
            f"long conversation, {last} median (ms)",
            lambda t: get(data(t), "length", "median_last10_ms"),
            0,
        ),
        row("long conversation, last / first", lambda t: get(data(t), "length", "growth"), 2),
        row("max Rasa process RSS (MB)", lambda t: data(t).get("max_rasa_rss_mb"), 0),
        row("all processes RSS (MB)", lambda t: data(t).get("total_rss_mb"), 0),
        row("full training (s)", lambda t: training_of(report, t).get("full_s")),
        row(
            "retraining after a response edit (s)",
            lambda t: training_of(report, t).get("retrain_s"),
        ),
    ]
    return markdown(["metric", *targets], rows)


def error_cell(level: dict | None) -> str | None:
    if not level:
        return None
    return f"{level['errors']} / {level['turns']}"


def ratio_table(report: dict) -> str:
    table = ratios(report)
    if not table:
        return ""
    keys = list(next(iter(table.values())))
    rows = [[key] + [fmt(table[t][key], 2) for t in table] for key in keys]
    return markdown(["ours / starter", *table], rows)


def memory_table(report: dict) -> str:
    rows = [
        [target, row["role"], str(row["pid"]), fmt(row["rss_mb"], 0)]
        for target, data in report["targets"].items()
        for row in sorted(data.get("memory", []), key=lambda r: -r["rss_mb"])
    ]
    return markdown(["target", "process", "pid", "RSS (MB)"], rows) if rows else ""


def check_table(report: dict) -> str:
    table = checks(report)
    if not table:
        return ""
    keys = list(next(iter(table.values())))
    return markdown(["check", *table], [[key] + [table[t][key] for t in table] for key in keys])


def missing(report: dict) -> list[str]:
    notes = [
        f"- {name}: {data['error'].splitlines()[0]}"
        for name, data in report["targets"].items()
        if "error" in data
    ]
    notes += [
        f"- training {name}: {data['error'].splitlines()[0]}"
        for name, data in report["training"].items()
        if "error" in data
    ]
    return notes


def print_report(report: dict, settings: Settings) -> None:
    sections = [
        ("Benchmark", main_table(report, settings)),
        ("Ratios to the starter bot", ratio_table(report)),
        ("Memory after the load, per process", memory_table(report)),
        ("Targets check (a report: the exit code is 0 either way)", check_table(report)),
    ]
    for title, body in sections:
        if body:
            print(f"\n## {title}\n\n{body}")
    if missing(report):
        print("\n## Missing figures\n\n" + "\n".join(missing(report)))
    print(f"\nCharts and figures.json in {settings.out}")


# --- charts -----------------------------------------------------------------


def charts(report: dict, out: Path) -> list[Path]:
    """PNG charts of what the tables show; skipped quietly for missing figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for draw in (chart_length, chart_load, chart_memory, chart_times):
        figure = draw(plt, report["targets"], report)
        if figure is not None:
            path = out / f"{draw.__name__.removeprefix('chart_')}.png"
            figure.savefig(path, dpi=110, bbox_inches="tight")
            plt.close(figure)
            written.append(path)
    return written


def color(target: str) -> str:
    """The same colour for a target in every chart."""
    return f"C{ALL_TARGETS.index(target)}"


def having(targets: dict, key: str) -> dict:
    """The targets that got as far as measuring `key` (one may have died part-way)."""
    return {target: data for target, data in targets.items() if data.get(key)}


def chart_length(plt: Any, targets: dict, report: dict) -> Any:
    measured = having(targets, "length")
    if not measured:
        return None
    figure, axis = plt.subplots(figsize=(9, 4.5))
    for target, data in measured.items():
        latencies = data["length"]["latencies_ms"]
        axis.plot(
            range(1, len(latencies) + 1), latencies, color=color(target), marker=".", label=target
        )
    axis.set(
        xlabel="turn number (one conversation)",
        ylabel="turn latency (ms)",
        title="Latency against conversation length",
    )
    axis.set_yscale("log")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    return figure


def chart_load(plt: Any, targets: dict, report: dict) -> Any:
    measured = having(targets, "load")
    if not measured:
        return None
    figure, (latency, throughput) = plt.subplots(1, 2, figsize=(11, 4.5))
    for target, data in measured.items():
        levels = sorted(int(level) for level in data["load"])
        for key, style in (("p50_ms", ":"), ("p95_ms", "-"), ("p99_ms", "--")):
            values = [data["load"][str(level)][key] for level in levels]
            # One colour per target; the line style tells the percentile.
            latency.plot(
                levels, values, style, color=color(target), marker="o", label=f"{target} {key[:3]}"
            )
        rates = [data["load"][str(level)]["throughput"] for level in levels]
        throughput.plot(levels, rates, color=color(target), marker="o", label=target)
    levels = sorted({int(level) for data in measured.values() for level in data["load"]})
    latency.set(
        xlabel="concurrent conversations",
        ylabel="turn latency (ms)",
        title="REST turn latency",
        xscale="log",
        yscale="log",
    )
    throughput.set(
        xlabel="concurrent conversations",
        ylabel="turns/s",
        title="Throughput (closed loop)",
        xscale="log",
    )
    throughput.set_ylim(bottom=0)
    for axis in (latency, throughput):
        axis.set_xticks(levels, [str(level) for level in levels])
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    return figure


def chart_memory(plt: Any, targets: dict, report: dict) -> Any:
    bars = [
        (f"{t}: {row['role']} ({row['pid']})", row["rss_mb"], color(t))
        for t, d in targets.items()
        for row in d.get("memory", [])
    ]
    if not bars:
        return None
    figure, axis = plt.subplots(figsize=(9, 0.35 * len(bars) + 1.5))
    axis.barh([bar[0] for bar in bars], [bar[1] for bar in bars], color=[bar[2] for bar in bars])
    axis.axvline(RASA_RSS_MAX_MB, color="red", linestyle="--", label="limit per Rasa process")
    axis.invert_yaxis()
    axis.set(xlabel="RSS (MB)", title="Resident memory per process after the load")
    axis.legend()
    return figure


def chart_times(plt: Any, targets: dict, report: dict) -> Any:
    names = list(targets)
    series = {
        "start-up": [targets[t].get("startup_s") for t in names],
        "full training": [training_of(report, t).get("full_s") for t in names],
        "retraining": [training_of(report, t).get("retrain_s") for t in names],
    }
    if not any(v is not None for values in series.values() for v in values):
        return None
    figure, axis = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / len(series)
    for index, (label, values) in enumerate(series.items()):
        shown = [(i + index * width, v) for i, v in enumerate(values) if v is not None]
        bars = axis.bar([x for x, _ in shown], [v for _, v in shown], width, label=label)
        axis.bar_label(bars, fmt="%.0f", fontsize=8)
    axis.set_xticks([i + width for i in range(len(names))], names)
    axis.set(ylabel="seconds", title="Start-up and training (default and production share one)")
    axis.legend()
    return figure


# --- entry point -------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--targets",
        default=",".join(ALL_TARGETS),
        help="comma-separated: starter,default,production",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny durations for a smoke run; no training unless --training",
    )
    parser.add_argument("--training", action="store_true", help="train even with --quick")
    parser.add_argument("--skip-training", action="store_true", help="serving figures only")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "results" / "bench", help="default: results/bench"
    )
    args = parser.parse_args(argv)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = sorted(set(targets) - set(ALL_TARGETS))
    if unknown or not targets:
        parser.error(f"unknown targets {unknown}; choose from {', '.join(ALL_TARGETS)}")
    training = not args.skip_training and (args.training or not args.quick)
    return Settings(
        targets=targets,
        out=args.out.resolve(),
        training=training,
        levels=(1, 8, 32),
        warmup_s=1.0 if args.quick else 5.0,
        level_s=3.0 if args.quick else 20.0,
        long_turns=20 if args.quick else 100,
    )


@contextmanager
def stopping_on_sigterm() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C, so the finally blocks stop every process."""

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    settings = parse_args(argv)
    settings.out.mkdir(parents=True, exist_ok=True)
    for old_log in settings.out.glob("*.log"):  # each run's logs, not a pile of them
        old_log.unlink()
    os.environ.update(QUIET_ENV)
    began = time.monotonic()
    with stopping_on_sigterm():
        try:
            report = run(settings)
        except KeyboardInterrupt:
            print("Interrupted; every process started here was stopped.", file=sys.stderr)
            return 130
    report["ratios"], report["checks"] = ratios(report), checks(report)
    report["wall_clock_s"] = round(time.monotonic() - began, 1)
    (settings.out / "figures.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    written = charts(report, settings.out)
    print_report(report, settings)
    print("Charts: " + ", ".join(path.name for path in written))
    print(f"Whole run: {report['wall_clock_s']:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
