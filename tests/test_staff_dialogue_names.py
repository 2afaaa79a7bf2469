"""The dialogue names the staff console reads events by exist in domain.yml.

staff/conversations.py flags and filters conversations by action, intent,
response and slot names.  A rename in the domain would silently empty a
queue filter or a flag; this test fails instead.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from staff import conversations as conv

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
# Names Rasa itself defines, never listed in a domain.
RASA_BUILT_INS = {"nlu_fallback", "requested_slot", "session_started_metadata"}


def domain_names(section: str) -> set[str]:
    entries = DOMAIN.get(section) or []
    names = set(entries) if isinstance(entries, dict) else set()
    for entry in entries if isinstance(entries, list) else []:
        names.update(entry if isinstance(entry, dict) else [entry])
    return names | RASA_BUILT_INS


def test_actions_the_console_flags_by_are_in_the_domain() -> None:
    actions = domain_names("actions")
    for name in (*conv.ESCALATION_ACTIONS, conv.BOOKING_ACTION, conv.HANDOFF_ACTION):
        assert name in actions, name


def test_intents_the_console_reads_are_in_the_domain() -> None:
    intents = domain_names("intents")
    for name in (
        conv.HANDOFF_INTENT,
        conv.FALLBACK_INTENT,
        conv.OUT_OF_SCOPE_INTENT,
        conv.FAQ_INTENT,
    ):
        assert name in intents, name


def test_responses_the_console_counts_as_unanswered_are_in_the_domain() -> None:
    responses = domain_names("responses")
    for name in conv.UNANSWERED_RESPONSES:
        assert name in responses, name


def test_slots_folded_away_as_internal_are_in_the_domain() -> None:
    slots = domain_names("slots")
    assert sorted(conv.INTERNAL_SLOTS - slots) == []


def test_the_check_sees_a_missing_name() -> None:
    assert "action_renamed_away" not in domain_names("actions")
