"""The red-flag guard overrides the classifier for emergency reports, and only for them."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from components.red_flags import RedFlagGuard


def classify(text: str, intent: str) -> Message:
    message = Message(
        data={
            "text": text,
            "intent": {"name": intent, "confidence": 0.9},
            "intent_ranking": [{"name": intent, "confidence": 0.9}],
        }
    )
    (result,) = RedFlagGuard().process([message])
    return result


@pytest.mark.parametrize(
    "text, classifier_said",
    [
        ("i had botox yesterday and now i cant breathe", "faq"),
        ("my lips and tongue are swelling up", "greet"),
        ("i can't swallow since my injections", "nlu_fallback"),
        ("seeing double after botox this morning", "out_of_scope"),
    ],
)
def test_an_emergency_report_becomes_report_symptom_whatever_the_classifier_said(
    text: str, classifier_said: str
) -> None:
    result = classify(text, classifier_said)
    assert result.get("intent") == {"name": "report_symptom", "confidence": 1.0}
    assert result.get("intent_ranking")[0]["name"] == "report_symptom"


@pytest.mark.parametrize(
    "text, intent",
    [
        ("can botox cause trouble swallowing?", "faq"),
        ("what if i can't breathe after botox", "faq"),
        ("i have no trouble breathing, just a small bruise", "report_symptom"),
        ("how long does botox last", "faq"),
    ],
)
def test_questions_and_non_emergencies_keep_their_intent(text: str, intent: str) -> None:
    assert classify(text, intent).get("intent")["name"] == intent
