"""Emergencies are recognised by rules, not by the classifier's mood.

Runs last in the NLU pipeline, on every message in every state (mid-booking,
mid-FAQ, after a handoff).  When the deterministic triage rules
(actions/triage.py, vocabulary in clinic/triage-rules.yml) find that the
patient reports a sign of an emergency, the message becomes `report_symptom`
with full confidence, whatever the classifier said.  The dialogue then sends
it to action_triage, which tells the patient to call emergency services
before anything else.  Questions and hypotheticals that merely mention a red
flag keep their intent (they are answered with the safety line added).
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

from actions import triage

SYMPTOM_INTENT = "report_symptom"


def is_emergency_report(text: str) -> bool:
    assessment = triage.assess(text or "")
    return assessment.is_report and assessment.severity == "emergency"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class RedFlagGuard(GraphComponent, IntentClassifier):
    """Overrides the intent with `report_symptom` for an emergency report."""

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
    ) -> RedFlagGuard:
        return cls()

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            if is_emergency_report(message.get(TEXT)):
                override = {"name": SYMPTOM_INTENT, "confidence": 1.0}
                message.set(INTENT, override, add_to_output=True)
                ranking = [
                    r
                    for r in message.get(INTENT_RANKING_KEY) or []
                    if r.get("name") != SYMPTOM_INTENT
                ]
                message.set(INTENT_RANKING_KEY, [override, *ranking], add_to_output=True)
        return messages
