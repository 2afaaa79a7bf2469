"""PNG charts of a report (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scripts.bench.config import ALL_TARGETS, RASA_RSS_MAX_MB
from scripts.bench.report import training_of


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
