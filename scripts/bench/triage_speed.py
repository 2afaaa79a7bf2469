"""`make bench-triage`: how long the triage rules take per message (printed, never asserted).

The rules run on every patient message (the NLU's red-flag guard), so their
cost is a share of every turn. Timing belongs in a benchmark that prints
figures: a timed unit test fails by chance on a busy machine.
"""

from __future__ import annotations

import statistics
import sys
import time

from clinic_core import triage
from scripts.bench.load import percentile
from scripts.eval_sets import read_jsonl

LONG_MESSAGES = {
    "10,000 characters, one word": "a" * 10_000,
    "10,000 characters, 250 sentences": ("my face looks great and botox was nice. " * 300)[:10_000],
    "10,000 characters, symptoms": ("my lips are swelling, no rash, what if I bruise? " * 250)[
        :10_000
    ],
}


def _timings_ms(texts: list[str], rounds: int) -> list[float]:
    """Per-message times with the verdict cache cleared, so every reading is real."""
    times = []
    for _ in range(rounds):
        for text in texts:
            triage.forget_recent()
            start = time.perf_counter()
            triage.assess(text)
            times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> int:
    texts = [row["text"] for row in read_jsonl("triage_dev*.jsonl")]
    triage.assess("warm up: load and compile the rules")
    typical = _timings_ms(texts, rounds=5)
    print(f"triage rules per message ({len(texts)} dev-set messages x 5, cache cleared):")
    print(
        f"  median {statistics.median(typical):.3f} ms, p99 {percentile(typical, 99):.3f} ms,"
        f" max {max(typical):.3f} ms"
    )
    for name, text in LONG_MESSAGES.items():
        long = _timings_ms([text], rounds=5)
        print(f"  {name}: median {statistics.median(long):.1f} ms, max {max(long):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
