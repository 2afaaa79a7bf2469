"""Triage figures on the blind set (and the dev set): recall and precision per severity.

`make eval` runs it against the trained model: every message goes through the
whole NLU pipeline, so the reading is the one the dialogue acts on (rules,
semantic layer and the classifier's view of unplaced reports). `--rules-only`
skips the model (no classifier, no Rasa start-up) for quick work on the dev
set.

The blind set (tests/eval/triage_blind_*.jsonl) was written by helpers who saw
only tests/eval/triage-labels.md. It is never used for error analysis: a
message looked at to decide a change moves to the dev set
(tests/eval/triage_dev*.jsonl) and is replaced by a fresh blind one.

Outcomes: emergency (emergency reply at once), screen (the emergency screening
question at once), urgent, expected, non_report. An emergency message is
*caught* when it gets the emergency reply or the screening question first;
an urgent one when it is escalated (urgent, emergency, or screened: a "no" to
the screen continues to urgent).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass

from clinic_core.settings import PROJECT_ROOT
from scripts.eval_sets import evaluation_arguments, quiet_agent, read_jsonl

ROOT = PROJECT_ROOT
LABELS = ("emergency", "urgent", "expected", "non_report")


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    kind: str
    lang: str


def load_set(pattern: str) -> list[Example]:
    return [Example(r["text"], r["label"], r["kind"], r["lang"]) for r in read_jsonl(pattern)]


def outcomes_rules_only(examples: list[Example]) -> list[str]:
    from clinic_core import screening

    return [screening.read(e.text).outcome for e in examples]


def outcome_of(parse_data: dict) -> str:
    """What the dialogue does with a parsed message (the pipeline's triage reading)."""
    reading = parse_data.get("triage") or {}
    if reading.get("severity") == "emergency":
        return "emergency"
    if reading.get("screen"):
        return "screen"
    return reading.get("severity") or "non_report"


def outcomes_with_model(examples: list[Example], model: str) -> list[str]:
    agent = quiet_agent(model)

    async def run() -> list[str]:
        return [outcome_of(await agent.parse_message(e.text)) for e in examples]

    return asyncio.run(run())


def caught(label: str, outcome: str) -> bool:
    """Did the message get what its label needs (or something safer)?"""
    if label == "emergency":
        return outcome in ("emergency", "screen")
    if label == "urgent":
        return outcome in ("urgent", "emergency", "screen")
    if label == "expected":
        return outcome not in ("urgent", "emergency")  # not escalated
    return outcome != "emergency"  # non-reports: never an emergency escalation


@dataclass
class Figures:
    total: Counter
    hits: Counter
    direct: Counter  # emergencies given the emergency reply straight away
    predicted: Counter  # outcome counts
    confusion: Counter
    non_report_emergencies: list[Example]
    misses: list[tuple[Example, str]]

    def recall(self, label: str) -> float:
        return self.hits[label] / self.total[label] if self.total[label] else 1.0


def score(examples: list[Example], outcomes: list[str]) -> Figures:
    figures = Figures(Counter(), Counter(), Counter(), Counter(), Counter(), [], [])
    for example, outcome in zip(examples, outcomes, strict=False):
        figures.total[example.label] += 1
        figures.predicted[outcome] += 1
        figures.confusion[(example.label, outcome)] += 1
        if caught(example.label, outcome):
            figures.hits[example.label] += 1
        else:
            figures.misses.append((example, outcome))
        if example.label == "emergency" and outcome == "emergency":
            figures.direct[example.label] += 1
        if example.label == "non_report" and outcome == "emergency":
            figures.non_report_emergencies.append(example)
    return figures


def report(name: str, examples: list[Example], figures: Figures, show_misses: bool) -> str:
    outcomes = ("emergency", "screen", "urgent", "expected", "non_report")
    lines = [f"== {name}: {len(examples)} messages"]
    lines.append(f"{'label':<11}{'n':>4}  caught  " + "".join(f"{o:>11}" for o in outcomes))
    for label in LABELS:
        row = "".join(f"{figures.confusion[(label, o)]:>11}" for o in outcomes)
        lines.append(f"{label:<11}{figures.total[label]:>4}  {figures.recall(label):6.1%}  {row}")
    emergencies = figures.total["emergency"]
    urgent_flagged = (
        figures.confusion[("urgent", "urgent")] + figures.confusion[("urgent", "emergency")]
    )
    escalated = sum(figures.predicted[o] for o in ("emergency", "urgent"))
    escalated_right = sum(
        figures.confusion[(label, o)]
        for label in ("emergency", "urgent")
        for o in ("emergency", "urgent")
    )
    lines += [
        f"emergency recall (emergency reply or screen first): "
        f"{figures.hits['emergency']}/{emergencies} = {figures.recall('emergency'):.1%}",
        f"emergency reply straight away: {figures.direct['emergency']}/{emergencies}",
        f"emergency precision (emergency outcomes that were emergencies): "
        f"{figures.confusion[('emergency', 'emergency')]}/{figures.predicted['emergency']}",
        f"urgent recall (escalated or screened): {figures.recall('urgent'):.1%}"
        f" (escalated without a screen: {urgent_flagged}/{figures.total['urgent']})",
        f"escalation precision (emergency/urgent outcomes on emergency/urgent messages): "
        f"{escalated_right}/{escalated}",
        f"expected reports not escalated: {figures.recall('expected'):.1%}"
        f" (reassured as expected: {figures.confusion[('expected', 'expected')]}"
        f"/{figures.total['expected']})",
        f"non-reports given an emergency: {len(figures.non_report_emergencies)}",
        f"screening questions asked: {figures.predicted['screen']}"
        f" (on non-reports: {figures.confusion[('non_report', 'screen')]})",
    ]
    lines.append("precision per outcome (messages given it whose label fits it):")
    fits = {
        "emergency": ("emergency",),
        "screen": ("emergency", "urgent", "expected"),  # any report may be screened
        "urgent": ("emergency", "urgent"),
        "expected": ("expected",),
        "non_report": ("non_report",),
    }
    for outcome, labels in fits.items():
        given = figures.predicted[outcome]
        right = sum(figures.confusion[(label, outcome)] for label in labels)
        share = f"{right / given:.1%}" if given else "n/a"
        lines.append(f"  {outcome:<11} {right}/{given} = {share}")
    if show_misses:
        for example, outcome in figures.misses:
            lines.append(
                f"  MISS {example.label:>10} -> {outcome:<10} "
                f"[{example.lang}/{example.kind}] {example.text}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = evaluation_arguments(
        __doc__.split("\n")[0],
        argv,
        lambda parser: parser.add_argument(
            "--rules-only", action="store_true", help="no model: rules + semantic layer"
        ),
    )
    examples = load_set(f"triage_{args.set}*.jsonl")
    outcomes = (
        outcomes_rules_only(examples)
        if args.rules_only
        else outcomes_with_model(examples, args.model)
    )
    figures = score(examples, outcomes)
    print(report(f"triage {args.set} set", examples, figures, args.misses))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
