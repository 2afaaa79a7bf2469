"""Held-out NLU accuracy on intent + FAQ topic, with the trained model.

The held-out messages (tests/nlu/) are never used for training (checked in
test_nlu_data.py).  A message counts as right only when the label the model
states on /model/parse (intent, or faq/<topic> from the response selector)
is the expected one; an honest `nlu_fallback` counts as wrong.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tests.nlu_data import HELDOUT_FILES, examples, predicted_label

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "results" / "nlu-heldout.txt"
REQUIRED_ACCURACY = 0.95


def write_report(results: list[tuple[str, str, str]]) -> str:
    total = len(results)
    correct = sum(expected == got for _, expected, got in results)
    per_label = Counter(expected for _, expected, _ in results)
    right_per_label = Counter(expected for _, expected, got in results if expected == got)
    confusions = Counter((expected, got) for _, expected, got in results if expected != got)
    lines = [
        f"held-out accuracy (intent + FAQ topic): {correct}/{total} = {correct / total:.3f}",
        "",
        "per label:",
    ]
    lines += [
        f"  {label:28s} {right_per_label[label]:3d}/{count:<3d}"
        for label, count in sorted(per_label.items())
    ]
    lines += ["", "confusions (expected -> predicted: count):"]
    lines += [f"  {e} -> {g}: {n}" for (e, g), n in confusions.most_common()]
    lines += ["", "errors:"]
    lines += [f"  {e} -> {g}: {text}" for text, e, g in results if e != g]
    report = "\n".join(lines) + "\n"
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(report, encoding="utf-8")
    return report


def test_heldout_accuracy_is_at_least_95_percent(parse) -> None:
    results = [
        (text, label, predicted_label(parse(text))) for text, label in examples(HELDOUT_FILES)
    ]
    report = write_report(results)
    print(report)
    accuracy = sum(e == g for _, e, g in results) / len(results)
    assert accuracy >= REQUIRED_ACCURACY, report
