"""Safety floors on the blind triage set, measured through the trained model.

The blind set (tests/eval/triage_blind_*.jsonl) was written by helpers who saw
only tests/eval/triage-labels.md, never data/, the rules or the descriptions.
It is never used for error analysis (see scripts/eval_triage.py). Every
message goes through the whole NLU pipeline, exactly as a patient's would.

Floors: every emergency gets the emergency reply or the screening question
first; no question, hypothetical, third-party, negated or past message
raises an emergency. The request-framed blind set (written in the twelfth
session) has a floor a little below its measured figure and a ceiling at
it instead.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.support import load_script

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "results" / "triage-blind.txt"

evaluation = load_script("eval_triage")


@pytest.fixture(scope="module")
def blind_figures(parse):
    # Rasa logs every parsed text at debug level; a failing test would show
    # them, and the blind set must never be read.
    load_script("eval_sets").quiet_logs()
    examples = evaluation.load_set("triage_blind*.jsonl")
    outcomes = [evaluation.outcome_of(parse(e.text)) for e in examples]
    figures = evaluation.score(examples, outcomes)
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(evaluation.report("triage blind set", examples, figures, False) + "\n")
    return figures


def test_the_blind_set_is_large_and_covers_every_severity_and_spanish() -> None:
    examples = evaluation.load_set("triage_blind*.jsonl")
    assert len(examples) >= 250
    assert {e.label for e in examples} == set(evaluation.LABELS)
    assert sum(e.lang == "es" and e.label == "emergency" for e in examples) >= 10
    kinds = {e.kind for e in examples if e.label == "non_report"}
    assert {"question", "hypothetical", "third_party", "negation", "past"} <= kinds


def test_every_blind_emergency_gets_the_emergency_reply_or_the_screen_first(blind_figures) -> None:
    assert blind_figures.recall("emergency") == 1.0, REPORT.read_text()


def test_no_blind_non_report_raises_an_emergency(blind_figures) -> None:
    assert blind_figures.non_report_emergencies == [], REPORT.read_text()


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def test_no_evaluation_message_is_in_the_training_data_rules_or_descriptions() -> None:
    """Zero overlap: exact or after folding case and punctuation (fragments under four
    words, such as "passed out", are the rules' own vocabulary and are not checked)."""
    sources = [p for p in (ROOT / "data").rglob("*.yml")]
    sources += [ROOT / "clinic" / "triage-rules.yml", ROOT / "clinic" / "red-flag-descriptions.yml"]
    corpus = _words(" ".join(p.read_text(encoding="utf-8") for p in sources))
    # A blind message is not in the reader's own tests either (a dev message may be).
    probes = sorted((ROOT / "tests").glob("test_triage*.py"))
    with_probes = corpus + " " + _words(" ".join(p.read_text(encoding="utf-8") for p in probes))
    blind = evaluation.load_set("triage_blind*.jsonl")
    dev = evaluation.load_set("triage_dev*.jsonl")
    requests = evaluation.load_set("request_blind*.jsonl")
    framed = evaluation.load_set("framed_blind*.jsonl")
    # Failures name the set and position only: a blind message must not be shown.
    for name, examples, text in (
        ("blind", blind, with_probes),
        ("dev", dev, corpus),
        ("request blind", requests, with_probes),
        ("framed blind", framed, with_probes),
    ):
        found = [
            i
            for i, e in enumerate(examples)
            if len(_words(e.text).split()) >= 4 and _words(e.text) in text
        ]
        assert not found, f"{name} messages at positions {found} appear in data/, rules or probes"
    overlap = len({_words(e.text) for e in blind} & {_words(e.text) for e in dev})
    assert overlap == 0, "messages in both the blind and the dev set"
    sets = {"blind": blind, "dev": dev, "request": requests, "framed": framed}
    for name in ("request", "framed"):
        others = [e for other, examples in sets.items() if other != name for e in examples]
        mine = {_words(e.text) for e in sets[name]}
        overlap = len(mine & {_words(e.text) for e in others})
        assert overlap == 0, f"messages in both the {name} set and another set"


@pytest.fixture(scope="module")
def request_figures(parse):
    """The request-framed blind set (tests/eval/request_blind.jsonl, twelfth session:
    a request or a question first, then what is happening), through the pipeline."""
    load_script("eval_sets").quiet_logs()
    examples = evaluation.load_set("request_blind*.jsonl")
    outcomes = [evaluation.outcome_of(parse(e.text)) for e in examples]
    figures = evaluation.score(examples, outcomes)
    report = ROOT / "results" / "triage-request-blind.txt"
    report.parent.mkdir(exist_ok=True)
    report.write_text(evaluation.report("request blind set", examples, figures, False) + "\n")
    return figures


def test_request_framed_emergencies_keep_their_floor(request_figures) -> None:
    """Measured at 66, 68, 70 and (nineteenth session) 73 of 80; a floor a little
    below, raised as the figure rises."""
    assert request_figures.recall("emergency") >= 0.875


def test_request_framed_look_alikes_keep_their_ceiling(request_figures) -> None:
    """5 of 40 look-alikes got the emergency reply, before and after the change."""
    assert len(request_figures.non_report_emergencies) <= 5


def test_the_descriptions_file_is_well_formed() -> None:
    raw = yaml.safe_load((ROOT / "clinic" / "red-flag-descriptions.yml").read_text())
    assert 0 < raw["threshold"] < 1 and 0 <= raw["margin"] < 1
    assert all(isinstance(t, str) and t for texts in raw["red_flags"].values() for t in texts)
    assert raw["not_red_flags"]
