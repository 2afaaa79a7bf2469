"""Staff annotations as Rasa NLU training data (YAML)."""

from __future__ import annotations

import re
from collections.abc import Iterable

_LABEL = re.compile(r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)?$")
# `[text](entity)`, `[text]{"entity": ...}` and `[text][...]` are entity
# annotations in Rasa's training data; a "]" directly followed by "(", "{" or
# "[" is what makes them so, and Rasa has no escape for it.
_ENTITY_JOIN = re.compile(r"\](?=[(\[{])")


def _yaml_safe_char(char: str) -> bool:
    """Characters YAML allows in a document (its printable set), minus the BOM."""
    code = ord(char)
    return (
        0x20 <= code <= 0x7E
        or 0xA0 <= code <= 0xD7FF
        or (0xE000 <= code <= 0xFFFD and code != 0xFEFF)
        or 0x10000 <= code <= 0x10FFFF
    )


def training_text(text: str) -> str:
    """A message as one line of an NLU example that Rasa reads back unchanged.

    Whitespace (including line and paragraph separators) collapses to single
    spaces; characters YAML forbids are dropped; and a space is put between
    "]" and a following "(", "{" or "[" so a patient's brackets are never
    read as an entity annotation.  Other brackets are kept as written.
    """
    cleaned = "".join(char for char in " ".join(text.split()) if _yaml_safe_char(char))
    return _ENTITY_JOIN.sub("] ", " ".join(cleaned.split()))


def export_nlu_yaml(annotations: Iterable[tuple[str, str]]) -> str:
    """Rasa NLU training data (version "3.1") from (message text, label) pairs.

    Labels are intents ("book_appointment") or retrieval intents
    ("faq/duration").  Duplicates are dropped; the same text under two labels
    raises ValueError, because `rasa data validate` rejects it.  Examples are
    written as literal blocks, where no character of the text needs escaping.
    """
    by_label: dict[str, list[str]] = {}
    label_of: dict[str, str] = {}
    conflicts = 0
    for text, label in annotations:
        if not isinstance(label, str) or not _LABEL.match(label):
            raise ValueError(f"Not an intent name: {label!r}")
        example = training_text(text or "")
        if not example:
            continue
        if example in label_of:
            conflicts += label_of[example] != label
            continue
        label_of[example] = label
        by_label.setdefault(label, []).append(example)
    if conflicts:
        raise ValueError(f"{conflicts} message(s) annotated with two different labels.")

    lines = ['version: "3.1"', "", "nlu:"]
    for label, examples in by_label.items():
        lines.append(f'- intent: "{label}"')
        lines.append("  examples: |")
        lines.extend(f"    - {example}" for example in examples)
    if not by_label:
        lines[-1] = "nlu: []"
    return "\n".join(lines) + "\n"
