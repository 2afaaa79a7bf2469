"""Symptom reports are decided by the triage layers, not by the classifier's mood.

Runs last in the NLU pipeline, on every message in every state (mid-booking,
mid-FAQ, after a handoff). It reads the message with clinic_core/screening.py:
the deterministic triage rules first (clinic_core/triage.py, vocabulary in
clinic/triage-rules.yml), then the semantic red-flag layer. The reading is
stored in the message's parse data under `triage`, so the dialogue policy
(components/triage_policy.py) and the actions act on this one decision.

When the reading says the patient reports their own current symptom, at any
severity, the message becomes `report_symptom` with full confidence,
whatever the classifier said. Questions, hypotheticals and other people's
symptoms keep their intent (they are answered, with the safety line when
they name a red flag).
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from clinic_core import faq_answer, red_flag_semantic, screening
from clinic_core.clinic import load_clinic
from components.intent_override import IntentOverride

log = logging.getLogger(__name__)
SYMPTOM_INTENT = screening.REPORT_INTENT
TRIAGE_KEY = "triage"
RETRIEVAL_INTENT = "faq"


def _clinic_languages() -> tuple[str, ...] | None:
    """The clinic file's emergency languages; every language the rules know if it can't be read."""
    try:
        return load_clinic().emergency_languages
    except Exception:  # noqa: BLE001 - recognising more languages is the safe side
        log.exception("The clinic file could not be read; recognising every rules language.")
        return None


def acting_label(message: Message) -> tuple[str | None, float]:
    """The classifier's label as the assistant acts on it: the intent, or faq/<topic>.

    An FAQ question's confidence is the intent's times its topic's.
    """
    intent = message.get(INTENT) or {}
    name, confidence = intent.get("name"), float(intent.get("confidence") or 0.0)
    if name != RETRIEVAL_INTENT:
        return name, confidence
    topic, topic_confidence = faq_answer.selection(message.data)
    return (str(topic), confidence * topic_confidence) if topic else (name, confidence)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class RedFlagGuard(IntentOverride):
    """Stores the triage reading; a symptom report becomes `report_symptom`."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # The meaning-based second layer; off only in tests that pin the rules alone.
        return {"semantic": True}

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self._semantic = bool(self.config["semantic"])
        if self._semantic:
            red_flag_semantic.shared()  # load the encoder now, not on the first patient

    def process(self, messages: list[Message]) -> list[Message]:
        languages = _clinic_languages()
        for message in messages:
            label, confidence = acting_label(message)
            reading = screening.read(
                message.get(TEXT) or "",
                label,
                classifier_confidence=confidence,
                semantic=self._semantic,
                languages=languages,
            )
            message.set(TRIAGE_KEY, reading.as_parse_data(), add_to_output=True)
            if reading.is_report:
                self.set_intent(message, SYMPTOM_INTENT)
        return messages
