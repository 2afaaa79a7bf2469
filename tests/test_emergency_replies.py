"""The emergency advice in the patient's language, and never lost to a broken translation."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from channels import failure_replies
from clinic_core import emergency_replies, triage
from clinic_core.clinic import fill, load_clinic

pytestmark = pytest.mark.unit
SPANISH_EMERGENCY = "no puedo respirar"


def values() -> dict[str, Any]:
    return load_clinic().template_values()


def a_request() -> Any:
    """A channel request whose app serves no model: the domain file's English is used."""
    return SimpleNamespace(app=SimpleNamespace(ctx=SimpleNamespace()))


def test_english_is_left_to_the_domain() -> None:
    assert emergency_replies.translated("call_now", "en", values()) is None
    assert emergency_replies.translated("call_now", None, values()) is None


def test_a_translation_is_filled_with_the_clinics_facts() -> None:
    text = emergency_replies.translated("call_now", "es", values())
    assert text and "{" not in text
    assert text == triage.replies("es")["call_now"].format_map(values())


@pytest.mark.parametrize("replies", [{"call_now": "Llame al {emergency_number"}, {}])
def test_a_broken_or_missing_translation_gives_way_to_english(
    monkeypatch: pytest.MonkeyPatch, replies: dict[str, str]
) -> None:
    monkeypatch.setattr(triage, "replies", lambda *_: replies)
    assert emergency_replies.translated("call_now", "es", values()) is None
    # The channel's own reply when the dialogue fails still carries the advice, in English.
    advice = failure_replies.emergency_advice(a_request(), SPANISH_EMERGENCY)
    assert advice == fill(failure_replies.english_advice(a_request()), values())
    assert load_clinic().emergency_number in advice


def test_the_channels_advice_is_in_spanish_when_the_translation_is_sound() -> None:
    advice = failure_replies.emergency_advice(a_request(), SPANISH_EMERGENCY)
    assert advice == emergency_replies.translated("call_now", "es", values())
