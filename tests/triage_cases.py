"""What the triage case lists share: readable ids, and the outcome a message gets."""

from __future__ import annotations

import re

import pytest

from clinic_core import screening


def cases(texts: list[str]) -> list:
    """One pytest case per message, named by its first words."""
    return [
        pytest.param(text, id=f"{i:02d}-" + "-".join(re.findall(r"\w+", text.lower())[:6]))
        for i, text in enumerate(texts, 1)
    ]


def outcome(text: str) -> str:
    """The two triage layers' outcome, the classifier taken as reading an FAQ question."""
    return screening.read(text, "faq/side_effects", semantic=False).outcome


def readings(groups: list[tuple[list[str], tuple[str, ...]]]) -> list:
    """One pytest case per message of each group, with the outcomes allowed for the group."""
    return [
        pytest.param(text, allowed, id=param.id)
        for texts, allowed in groups
        for param, text in zip(cases(texts), texts, strict=True)
    ]
