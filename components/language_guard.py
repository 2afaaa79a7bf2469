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

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from actions import languages

OTHER_LANGUAGE = "other_language"


def _set_intent(message: Message, name: str) -> None:
    chosen = {"name": name, "confidence": 1.0}
    ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != name]
    message.set(INTENT, chosen, add_to_output=True)
    message.set(INTENT_RANKING_KEY, [chosen, *ranking], add_to_output=True)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class LanguageGuard(GraphComponent, IntentClassifier):
    """Sets `language`; greetings/thanks in any language; other languages to other_language."""

    @classmethod
    def required_components(cls) -> list[type]:
        return [IntentClassifier]

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageGuard:
        return cls()

    def __init__(self) -> None:
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
                _set_intent(message, "greet")
            elif reading.thanks:
                _set_intent(message, "thank")
            elif reading.language != languages.ENGLISH:
                _set_intent(message, OTHER_LANGUAGE)
        return messages
