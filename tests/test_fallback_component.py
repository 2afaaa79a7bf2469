"""The fallback classifier catches what Rasa's own one misses."""

from __future__ import annotations

from typing import Any

import pytest
from rasa.shared.nlu.training_data.message import Message

from components.fallback import ClinicFallbackClassifier

CONFIG = {**ClinicFallbackClassifier.get_default_config(), "threshold": 0.5, "faq_threshold": 0.5}


def message(text: str, intent: str, confidence: float, topic_confidence: float = 0.9) -> Message:
    data: dict[str, Any] = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "intent_ranking": [
            {"name": intent, "confidence": confidence},
            {"name": "greet", "confidence": 1 - confidence},
        ],
        "response_selector": {
            "faq": {
                "response": {"intent_response_key": "faq/duration", "confidence": topic_confidence}
            }
        },
    }
    return Message(data=data)


def classify(msg: Message) -> str:
    (result,) = ClinicFallbackClassifier(CONFIG).process([msg])
    return result.get("intent")["name"]


def test_confident_faq_with_a_confident_topic_is_kept() -> None:
    assert classify(message("how long does it last", "faq", 0.95, 0.9)) == "faq"


def test_confident_faq_with_an_unsure_topic_falls_back() -> None:
    assert classify(message("how long is it safe", "faq", 0.95, 0.3)) == "nlu_fallback"


def test_the_topic_floor_only_applies_to_the_faq_intent() -> None:
    assert classify(message("hello", "greet", 0.95, 0.1)) == "greet"


def test_low_intent_confidence_still_falls_back() -> None:
    assert classify(message("hmm", "greet", 0.4)) == "nlu_fallback"


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "😀😀😀", "?!...", "👍", "__"])
def test_messages_without_words_fall_back_even_when_the_model_is_sure(text: str) -> None:
    assert classify(message(text, "affirm", 0.9998)) == "nlu_fallback"


@pytest.mark.parametrize("text", ["ok", "2", "né", "Да"])
def test_a_single_word_is_enough(text: str) -> None:
    assert classify(message(text, "affirm", 0.99)) == "affirm"
