"""A fallback classifier that also distrusts an unsure FAQ topic.

Rasa's FallbackClassifier looks only at the intent confidence.  For a
retrieval intent that is not enough: "is it safe for how long?" can be
confidently *some* FAQ question while the ResponseSelector cannot tell which
topic, and answering the top topic anyway gives a patient a confident, wrong
answer.  This subclass also predicts `nlu_fallback` when the retrieval
intent wins but its selected response is below `faq_threshold`, so the
dialogue (and `/model/parse`) honestly says "not sure".
"""

from __future__ import annotations

from typing import Any, Dict, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY
from rasa.shared.nlu.training_data.message import Message

RESPONSE_SELECTOR_KEY = "response_selector"


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False
)
class FaqAwareFallbackClassifier(FallbackClassifier):
    """FallbackClassifier + a confidence floor on the selected FAQ topic."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        config = FallbackClassifier.get_default_config()
        config.update({"retrieval_intent": "faq", "faq_threshold": 0.5})
        return config

    def _should_fallback(self, message: Message) -> bool:
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
        return confidence < self.component_config["faq_threshold"]
