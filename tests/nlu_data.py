"""Read NLU examples (training data and the held-out set) as (text, label) pairs.

A label is the intent, or `faq/<topic>` for the retrieval intent, which is
what the assistant's NLU contract promises on /model/parse.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TRAINING_FILES = sorted((ROOT / "data" / "nlu").glob("*.yml"))
HELDOUT_FILES = sorted((ROOT / "tests" / "nlu").glob("*.yml"))


def examples(paths: Iterable[Path]) -> list[tuple[str, str]]:
    pairs = []
    for path in paths:
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            for line in block.get("examples", "").splitlines():
                line = line.strip()
                if line.startswith("- "):
                    pairs.append((line[2:].strip(), block["intent"]))
    return pairs


def by_label(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for text, label in pairs:
        grouped.setdefault(label, []).append(text)
    return grouped


def normalise(text: str) -> str:
    """Lower-case words only: two examples equal here teach the same thing."""
    return re.sub(r"[\W_]+", " ", text.lower()).strip()


def predicted_label(parse: dict) -> str:
    """The label a /model/parse result states: intent, or faq/<topic>."""
    intent = (parse.get("intent") or {}).get("name") or ""
    if intent == "faq":
        selection = parse.get("response_selector", {}).get("faq", {}).get("response", {})
        return selection.get("intent_response_key") or "faq"
    return intent
