"""Rasa's FallbackClassifier, plus two cases it misses.

1. An unsure FAQ topic.  The FallbackClassifier looks only at the intent
   confidence.  A message can be confidently *some* FAQ question while the
   ResponseSelector cannot tell which topic; answering the top topic anyway
   gives a patient a confident, wrong answer.
2. A message with no words at all (empty, whitespace, emoji or punctuation
   only).  The classifier has no features to go on and returns whatever
   intent an empty input happens to map to, with high confidence: in practice
   "affirm", i.e. a "yes" the patient never said.

Both become `nlu_fallback`, so the dialogue (and `/model/parse`) honestly
says "not sure".
"""

from __future__ import annotations

import re
from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

RESPONSE_SELECTOR_KEY = "response_selector"
# A button payload like "/affirm" is handled before NLU; anything reaching the
# classifier needs at least one letter or digit to carry meaning.
WORD_CHARACTER = re.compile(r"[^\W_]", re.UNICODE)


def has_words(text: str) -> bool:
    return bool(WORD_CHARACTER.search(text or ""))


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class ClinicFallbackClassifier(FallbackClassifier):
    """FallbackClassifier + a floor on the FAQ topic + no-words input."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        config = FallbackClassifier.get_default_config()
        config.update(
            {"retrieval_intent": "faq", "faq_threshold": 0.5, "faq_ambiguity_threshold": 0.1}
        )
        return config

    def _should_fallback(self, message: Message) -> bool:
        if not has_words(message.get(TEXT)):
            return True
        if super()._should_fallback(message):
            return True
        return self.topic_confidence_too_low(message)

    def topic_confidence_too_low(self, message: Message) -> bool:
        retrieval_intent = self.component_config["retrieval_intent"]
        if message.data.get(INTENT, {}).get(INTENT_NAME_KEY) != retrieval_intent:
            return False
        selection = (
            message.data.get(RESPONSE_SELECTOR_KEY, {})
            .get(retrieval_intent, {})
            .get("response", {})
        )
        confidence = selection.get("confidence") or 0.0
        if confidence < self.component_config["faq_threshold"]:
            return True
        # Two topics almost equally likely: ask which one (clinic_core/clarify.py)
        # rather than answer one of them confidently.
        ranking = message.data.get(RESPONSE_SELECTOR_KEY, {}).get(retrieval_intent, {})
        scores = sorted(
            (r.get("confidence") or 0.0 for r in ranking.get("ranking") or []), reverse=True
        )
        margin = self.component_config.get("faq_ambiguity_threshold", 0.0)
        return len(scores) > 1 and scores[0] - scores[1] < margin
