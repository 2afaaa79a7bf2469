"""One benchmark run: every target measured in turn, failures reported, not raised."""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Any

from scripts.bench.config import BIN, ROOT, Settings
from scripts.bench.load import length_summary, long_conversation, run_level
from scripts.bench.memory import memory
from scripts.bench.patients import (
    FAQ_QUESTIONS,
    Conversation,
    our_conversation,
    starter_conversation,
    starter_cycle,
    starter_examples,
)
from scripts.bench.processes import Launched, TargetFailed, _start_time, base_env, timed_run
from scripts.bench.report import fmt
from scripts.bench.shared_services import clean_production_state
from scripts.bench.targets import Running, assistant_env, start_ours, start_starter
from scripts.bench.training import OUR_PROJECT_FILES, STARTER_PROJECT_FILES, measure_training


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
                print(f"[{name}] starting clinic-run...", flush=True)
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
