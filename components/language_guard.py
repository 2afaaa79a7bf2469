"""Greetings and thanks in any language; a message in another language is said to be one.

Runs after the classifier and before the red-flag guard (a red flag in
Spanish still wins). A whole-message greeting or thanks in any language of
clinic/languages.yml becomes `greet` / `thank`; a message clearly written in
another language becomes `other_language`, answered by action_other_language
(in Spanish when the clinic's staff speak it). The detected language is kept
in the parse data under `language`.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from clinic_core import languages
from components.intent_override import IntentOverride

OTHER_LANGUAGE = "other_language"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class LanguageGuard(IntentOverride):
    """Sets `language`; greetings/thanks in any language; other languages to other_language."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self._languages = languages.load()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            reading = languages.read(message.get(TEXT) or "", self._languages)
            message.set(
                "language",
                {"code": reading.language, "confidence": round(reading.confidence, 3)},
                add_to_output=True,
            )
            if reading.greeting:
                self.set_intent(message, "greet")
            elif reading.thanks:
                self.set_intent(message, "thank")
            elif reading.language != languages.ENGLISH:
                self.set_intent(message, OTHER_LANGUAGE)
        return messages
