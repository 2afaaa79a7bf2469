"""One benchmark run: every target measured in turn, failures reported, not raised."""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from scripts.bench.config import BIN, FLOOR_LEVEL, ROOT, SOAK_WARMUP_SHARE, Settings
from scripts.bench.load import (
    TURN,
    length_summary,
    long_conversation,
    parse_only,
    run_level,
    soak,
)
from scripts.bench.memory import memory
from scripts.bench.patients import (
    FAQ_QUESTIONS,
    Conversation,
    faq_conversation,
    messages_of,
    our_conversation,
    starter_conversation,
    starter_cycle,
    starter_examples,
    starter_messages,
)
from scripts.bench.processes import Launched, TargetFailed, _start_time, base_env, timed_run
from scripts.bench.report import fmt
from scripts.bench.shared_services import clean_production_state
from scripts.bench.targets import Running, assistant_env, start_ours, start_starter
from scripts.bench.training import OUR_PROJECT_FILES, STARTER_PROJECT_FILES, measure_training


@dataclass
class Workload:
    """What a target is sent: its mixed conversations, FAQ-only ones, the long
    conversation's cycle, and the messages of its parse-only floor."""

    conversation: Conversation
    faq: Conversation
    cycle: list[str]
    floor: Conversation


def measure_target(
    running: Running, work: Workload, settings: Settings, result: dict[str, Any]
) -> None:
    """Load levels, the long conversation, then memory, of one started target, into `result`.

    Filled as it goes, so that a target which dies part-way keeps what was measured.
    """
    result.update({"startup_s": running.startup_s, "ready_s": running.ready_s, "load": {}})
    print(f"[{running.name}] answering after {running.startup_s:.1f}s", flush=True)
    for level in settings.levels:
        figures = asyncio.run(
            run_level(running.url, work.conversation, level, settings.warmup_s, settings.level_s)
        )
        result["load"][str(level)] = asdict(figures)
        print(
            f"[{running.name}] {level:>2} concurrent: p95 {fmt(figures.p95_ms)} ms, "
            f"{figures.throughput:.1f} turns/s, {figures.errors} errors",
            flush=True,
        )
        still_running(running, f"the {level}-concurrent level")
    measure_floor(running, work, settings, result)
    latencies = asyncio.run(long_conversation(running.url, work.cycle, settings.long_turns))
    still_running(running, "the long conversation")
    result["length"] = length_summary(latencies)
    result["memory"] = memory(running.launched.pid)
    result.update(rss_figures(result["memory"]))
    if settings.soak_turns and running.name in settings.soak_targets:
        result["soak"] = soak_run(running, work, settings)


def measure_floor(running: Running, work: Workload, settings: Settings, result: dict) -> None:
    """FAQ-only turns, then NLU alone (/model/parse), at the same concurrency.

    Their throughputs give a full FAQ turn's cost as a multiple of the models'
    own inference on this machine, measured in the same minute.
    """
    for key, conversation, endpoint in (
        ("faq", work.faq, TURN),
        ("parse", work.floor, parse_only(running.token)),
    ):
        figures = asyncio.run(
            run_level(
                running.url,
                conversation,
                FLOOR_LEVEL,
                settings.warmup_s,
                settings.level_s,
                endpoint,
            )
        )
        result[key] = asdict(figures)
        print(
            f"[{running.name}] {key} only, {FLOOR_LEVEL} concurrent: p50 {fmt(figures.p50_ms)} ms, "
            f"{figures.throughput:.1f}/s, {figures.errors} errors",
            flush=True,
        )
        still_running(running, f"the {key}-only level")


def rss_now(running: Running) -> dict[str, float | None]:
    return rss_figures(memory(running.launched.pid))


def rss_figures(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """The largest Rasa process and all processes together (MB RSS)."""
    rasa = [row["rss_mb"] for row in rows if row["role"] == "rasa server"]
    return {
        "max_rasa_rss_mb": max(rasa) if rasa else None,
        "total_rss_mb": round(sum(row["rss_mb"] for row in rows), 1),
    }


def soak_run(running: Running, work: Workload, settings: Settings) -> dict[str, Any]:
    """`soak_turns` turns of the mixed workload; memory after a warm-up share and at the end."""
    warm = max(1, int(settings.soak_turns * SOAK_WARMUP_SHARE))
    began = time.monotonic()
    first = asyncio.run(soak(running.url, work.conversation, FLOOR_LEVEL, warm))
    after_warmup = rss_now(running)
    rest = asyncio.run(
        soak(running.url, work.conversation, FLOOR_LEVEL, settings.soak_turns - warm)
    )
    still_running(running, "the soak run")
    at_end = rss_now(running)
    turns = first + rest
    errors = [t for t in turns if t.status != 200]
    growth = None
    if after_warmup["total_rss_mb"] and at_end["total_rss_mb"]:
        growth = at_end["total_rss_mb"] / after_warmup["total_rss_mb"] - 1
    summary = {
        "turns": len(turns),
        "errors": len(errors),
        "error_samples": sorted({t.detail for t in errors})[:5],
        "seconds": round(time.monotonic() - began, 1),
        "after_warmup": after_warmup,
        "at_end": at_end,
        "rss_growth": growth,
    }
    print(
        f"[{running.name}] soak: {len(turns)} turns, {len(errors)} errors, RSS "
        f"{fmt(after_warmup['total_rss_mb'], 0)} -> {fmt(at_end['total_rss_mb'], 0)} MB",
        flush=True,
    )
    return summary


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
                conversation = starter_conversation(examples)
                work_load = Workload(
                    conversation,
                    conversation,
                    starter_cycle(examples),
                    messages_of(starter_messages(examples)),
                )
                print("[starter] starting rasa run...", flush=True)
                running = start_starter(project, settings.out)
            else:
                work_load = Workload(
                    our_conversation,
                    faq_conversation,
                    list(FAQ_QUESTIONS),
                    messages_of(FAQ_QUESTIONS),
                )
                env, port = assistant_env(name, work / f"{name}-data")
                if name == "production":
                    afterwards.callback(clean_production_state, env)
                print(f"[{name}] starting clinic-run...", flush=True)
                running = start_ours(name, env, port, settings.out)
            afterwards.callback(running.launched.stop)
            measure_target(running, work_load, settings, result)
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
