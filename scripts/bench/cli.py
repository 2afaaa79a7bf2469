"""`make bench` / `clinic-bench`: arguments, SIGTERM, the run and its report."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scripts.bench.charts import charts
from scripts.bench.config import ALL_TARGETS, QUIET_ENV, ROOT, Settings
from scripts.bench.report import checks, print_report, ratios
from scripts.bench.runner import run


def parse_args(argv: list[str] | None = None) -> Settings:
    summary = (sys.modules["scripts.bench"].__doc__ or "").split("\n\n")[0]
    parser = argparse.ArgumentParser(description=summary)
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
        "--soak-turns",
        type=int,
        default=None,
        help="turns of the soak run on the default profile (10000; --quick: 400; 0: none)",
    )
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
        soak_turns=soak_turns(args),
    )


def soak_turns(args: argparse.Namespace) -> int:
    if args.soak_turns is not None:
        return max(0, args.soak_turns)
    return 400 if args.quick else 10000


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
