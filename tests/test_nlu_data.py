"""The NLU contract and the quality rules of the training and held-out data."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.nlu_data import HELDOUT_FILES, TRAINING_FILES, by_label, examples, normalise

FAQ_TOPICS = {
    "what_is_botox",
    "how_it_works",
    "treatment_areas",
    "side_effects",
    "side_effects_mild",
    "side_effects_moderate",
    "side_effects_duration",
    "duration",
    "touch_ups",
    "suitability",
    "when_to_call",
}
OTHER_INTENTS = {
    "book_appointment",
    "report_symptom",
    "human_handoff",
    "clinic_info",
    "greet",
    "goodbye",
    "thank",
    "affirm",
    "deny",
    "bot_challenge",
    "out_of_scope",
    "cancel",
}
CONTRACT = {f"faq/{topic}" for topic in FAQ_TOPICS} | OTHER_INTENTS

TRAINING = by_label(examples(TRAINING_FILES))
HELDOUT = by_label(examples(HELDOUT_FILES))


def test_training_data_has_exactly_the_contract_labels() -> None:
    assert set(TRAINING) == CONTRACT


def test_heldout_set_covers_every_label() -> None:
    assert set(HELDOUT) == CONTRACT


@pytest.mark.parametrize("label", sorted(CONTRACT))
def test_at_least_25_distinct_training_examples(label: str) -> None:
    distinct = {normalise(text) for text in TRAINING[label]}
    assert len(distinct) >= 25, f"{label}: {len(distinct)} distinct examples"


@pytest.mark.parametrize("label", sorted(CONTRACT))
def test_at_least_8_heldout_examples(label: str) -> None:
    assert len({normalise(text) for text in HELDOUT[label]}) >= 8


def test_no_heldout_message_is_in_the_training_data() -> None:
    trained = {normalise(text) for texts in TRAINING.values() for text in texts}
    leaked = [text for texts in HELDOUT.values() for text in texts if normalise(text) in trained]
    assert leaked == []


def test_no_training_example_is_taught_under_two_labels() -> None:
    labels_of = Counter()
    for texts in TRAINING.values():
        for text in {normalise(t) for t in texts if normalise(t)}:
            labels_of[text] += 1
    assert [text for text, count in labels_of.items() if count > 1] == []
