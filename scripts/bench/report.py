"""Ratios to the starter bot, the checks against the targets, markdown tables."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scripts.bench.config import (
    FAQ_TURN_VS_PARSE_MAX,
    LENGTH_GROWTH_MAX,
    OURS,
    P95_AT_8_MAX_MS,
    P95_VS_STARTER_MAX,
    PRODUCTION_VS_DEFAULT_MIN,
    RASA_RSS_MAX_MB,
    SOAK_RSS_GROWTH_MAX,
    STARTUP_VS_STARTER_MAX,
    THROUGHPUT_VS_STARTER_MIN,
    TRAINING_MAX_S,
    Settings,
)


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
        "FAQ turn cost / parse-only cost": turn_vs_floor(data),
    }


def turn_vs_floor(data: dict) -> float | None:
    """A full FAQ turn's cost as a multiple of /model/parse's, both at the same
    concurrency on a saturated machine: cost per turn is 1 / throughput."""
    faq, parse = get(data, "faq", "throughput"), get(data, "parse", "throughput")
    return parse / faq if faq and parse else None


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
    starter = comparable(report, "starter")
    turns = report["settings"]["long_turns"]
    result: dict[str, dict[str, str]] = {}
    for target in [t for t in OURS if t in report["targets"]]:
        figures = comparable(report, target)
        data = report["targets"][target]
        result[target] = {
            f"throughput at 8 >= {THROUGHPUT_VS_STARTER_MIN}x starter": verdict(
                figures["throughput at 8 (turns/s)"],
                scaled(starter["throughput at 8 (turns/s)"], THROUGHPUT_VS_STARTER_MIN),
                "/s",
                at_least=True,
            ),
            f"p95 at 8 <= {P95_VS_STARTER_MAX}x starter": verdict(
                figures["p95 at 8 (ms)"],
                scaled(starter["p95 at 8 (ms)"], P95_VS_STARTER_MAX),
                "ms",
            ),
            f"p95 at 8 concurrent <= {P95_AT_8_MAX_MS:.0f} ms": verdict(
                figures["p95 at 8 (ms)"], P95_AT_8_MAX_MS, "ms"
            ),
            f"FAQ turn <= {FAQ_TURN_VS_PARSE_MAX}x parse-only": verdict(
                figures["FAQ turn cost / parse-only cost"], FAQ_TURN_VS_PARSE_MAX, "x"
            ),
            f"turns {turns - 9}-{turns} median <= {LENGTH_GROWTH_MAX}x turns 1-10": verdict(
                figures["last-10 / first-10 turn latency"], LENGTH_GROWTH_MAX, "x"
            ),
            f"start-up <= {STARTUP_VS_STARTER_MAX}x starter": verdict(
                figures["start-up (s)"],
                scaled(starter["start-up (s)"], STARTUP_VS_STARTER_MAX),
                "s",
            ),
            f"full training <= {TRAINING_MAX_S:.0f} s": verdict(
                figures["full training (s)"], TRAINING_MAX_S, "s"
            ),
            f"RSS <= {RASA_RSS_MAX_MB:.0f} MB per Rasa process": verdict(
                figures["max Rasa RSS (MB)"], RASA_RSS_MAX_MB, "MB"
            ),
            f"soak: RSS growth < {SOAK_RSS_GROWTH_MAX:.0%}, no error": soak_verdict(data),
        }
    if "production" in result:
        default_rps = comparable(report, "default")["throughput at 8 (turns/s)"]
        result["production"][f"throughput at 8 >= {PRODUCTION_VS_DEFAULT_MIN}x default"] = verdict(
            comparable(report, "production")["throughput at 8 (turns/s)"],
            scaled(default_rps, PRODUCTION_VS_DEFAULT_MIN),
            "/s",
            at_least=True,
        )
    return result


def scaled(value: float | None, factor: float) -> float | None:
    return value * factor if value is not None else None


def soak_verdict(data: dict) -> str:
    soak = data.get("soak")
    if not soak or soak.get("rss_growth") is None:
        return "n/a"
    ok = soak["rss_growth"] < SOAK_RSS_GROWTH_MAX and soak["errors"] == 0
    return (
        f"{'PASS' if ok else 'MISS'} ({soak['turns']} turns, {soak['errors']} errors, "
        f"RSS {soak['rss_growth']:+.1%})"
    )


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
        row("FAQ-only at 8: p50 (ms)", lambda t: get(data(t), "faq", "p50_ms"), 0),
        row("FAQ-only at 8 (turns/s)", lambda t: get(data(t), "faq", "throughput")),
        row("parse-only at 8: p50 (ms)", lambda t: get(data(t), "parse", "p50_ms"), 0),
        row("parse-only at 8 (parses/s)", lambda t: get(data(t), "parse", "throughput")),
        row("FAQ turn cost / parse-only cost", lambda t: turn_vs_floor(data(t)), 2),
        row("soak: turns / errors", lambda t: soak_cell(data(t).get("soak"))),
        row(
            "soak: all RSS after warm-up (MB)",
            lambda t: get(data(t), "soak", "after_warmup", "total_rss_mb"),
            0,
        ),
        row(
            "soak: all RSS at the end (MB)",
            lambda t: get(data(t), "soak", "at_end", "total_rss_mb"),
            0,
        ),
        row("max Rasa process RSS (MB)", lambda t: data(t).get("max_rasa_rss_mb"), 0),
        row("all processes RSS (MB)", lambda t: data(t).get("total_rss_mb"), 0),
        row("full training (s)", lambda t: training_of(report, t).get("full_s")),
        row(
            "retraining after a response edit (s)",
            lambda t: training_of(report, t).get("retrain_s"),
        ),
    ]
    return markdown(["metric", *targets], rows)


def soak_cell(soak: dict | None) -> str | None:
    return f"{soak['turns']} / {soak['errors']}" if soak else None


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
