"""The triage policy puts action_triage ahead of every form and rule after a report."""

from __future__ import annotations

from typing import Any

import pytest
from rasa.core.policies.ensemble import DefaultPolicyPredictionEnsemble
from rasa.core.policies.policy import PolicyPrediction
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from components.triage_policy import TRIAGE_ACTION, TriagePreemptionPolicy

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [report_symptom, faq]
actions: [action_triage]
slots:
  triage_severity:
    type: any
    mappings:
      - type: custom
forms:
  booking_form:
    required_slots: []
"""
)


@pytest.fixture
def policy(tmp_path) -> TriagePreemptionPolicy:
    return TriagePreemptionPolicy(
        TriagePreemptionPolicy.get_default_config(),
        LocalModelStorage(tmp_path),
        Resource("triage_policy"),
        ExecutionContext(GraphSchema({}), "test-model"),
    )


def tracker_with(
    reading: dict[str, Any] | None, *, then: str | None = None, severity_so_far: str | None = None
) -> DialogueStateTracker:
    parse_data: dict[str, Any] = {"intent": {"name": "faq", "confidence": 0.99}}
    if reading is not None:
        parse_data["triage"] = reading
    events = [
        ActionExecuted("action_listen"),
        SlotSet("triage_severity", severity_so_far),
        ActiveLoop("booking_form"),
        ActionExecuted("action_listen"),
        UserUttered("text", parse_data["intent"], parse_data=parse_data),
    ]
    if then:
        events.append(ActionExecuted(then))
    return DialogueStateTracker.from_events("patient", events)


def predicted(prediction: PolicyPrediction) -> str | None:
    if prediction.max_confidence <= 0:
        return None
    return DOMAIN.action_names_or_texts[prediction.max_confidence_index]


SERIOUS_READINGS = [
    {"severity": "emergency", "source": "rules", "rules_severity": "emergency"},
    {"severity": "urgent", "source": "rules", "rules_severity": "urgent"},
    {"severity": "unclear", "screen": True, "source": "semantic", "semantic_flag": "breathing"},
    {"severity": "expected", "screen": True, "source": "rules", "mentions_red_flag": True},
]


@pytest.mark.parametrize("reading", SERIOUS_READINGS)
def test_a_serious_report_mid_form_predicts_triage_ahead_of_the_form(policy, reading) -> None:
    prediction = policy.predict_action_probabilities(tracker_with(reading), DOMAIN)
    assert predicted(prediction) == TRIAGE_ACTION and prediction.max_confidence == 1.0
    # It must win against the form's happy-path prediction (RulePolicy, priority 6).
    loop = PolicyPrediction([0.0] * DOMAIN.num_actions, "RulePolicy", 6, is_no_user_prediction=True)
    loop.probabilities[DOMAIN.index_for_action("booking_form")] = 1.0
    best = DefaultPolicyPredictionEnsemble._pick_best_policy([loop, prediction])
    assert best.policy_name == "TriagePreemptionPolicy"


@pytest.mark.parametrize(
    "reading",
    [
        {"severity": "expected", "source": "rules", "rules_severity": "expected"},  # "Jo Bruise"
        {"severity": "unclear", "screen": True, "source": "classifier"},  # "yesterday morning"
    ],
)
def test_a_mild_or_classifier_only_report_mid_form_is_left_to_the_form(policy, reading) -> None:
    """The form decides whether it answers its question (actions/forms.py)."""
    assert predicted(policy.predict_action_probabilities(tracker_with(reading), DOMAIN)) is None


def test_no_prediction_for_a_non_report_or_once_triage_ran(policy) -> None:
    not_a_report = tracker_with({"severity": None, "mentions_red_flag": True})
    assert predicted(policy.predict_action_probabilities(not_a_report, DOMAIN)) is None
    without_reading = tracker_with(None)  # no pipeline reading: the intent (faq) decides
    assert predicted(policy.predict_action_probabilities(without_reading, DOMAIN)) is None
    after = tracker_with({"severity": "emergency"}, then=TRIAGE_ACTION)
    assert predicted(policy.predict_action_probabilities(after, DOMAIN)) is None


def test_a_milder_report_while_a_form_waits_lets_the_form_take_the_answer(policy) -> None:
    """After an urgent report, "Ana, my forehead is a bit sore" is still the name."""
    milder = tracker_with({"severity": "expected"}, severity_so_far="urgent")
    assert predicted(policy.predict_action_probabilities(milder, DOMAIN)) is None
    same = tracker_with({"severity": "urgent"}, severity_so_far="urgent")
    assert predicted(policy.predict_action_probabilities(same, DOMAIN)) is None
    worse = tracker_with({"severity": "emergency"}, severity_so_far="emergency")
    assert predicted(policy.predict_action_probabilities(worse, DOMAIN)) == TRIAGE_ACTION
    screen = tracker_with(
        {"severity": "expected", "screen": True, "semantic_flag": "swallowing"},
        severity_so_far="expected",
    )
    assert predicted(policy.predict_action_probabilities(screen, DOMAIN)) == TRIAGE_ACTION
