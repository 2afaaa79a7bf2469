"""Starting, timing and stopping process trees, whatever they leave behind."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from contextlib import suppress
from pathlib import Path

from scripts.bench.config import QUIET_ENV, STOP_GRACE_S, TRAIN_TIMEOUT_S
from scripts.run import stop_process_group


class TargetFailed(Exception):
    """A target could not be started or measured; the others still are."""


def base_env() -> dict[str, str]:
    return {**os.environ, **QUIET_ENV}


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
        stop_process_group(self.process, STOP_GRACE_S)  # as the supervisor stops a service
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
