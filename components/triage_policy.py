"""A symptom report goes to triage first, in any state, by construction.

Rasa's RulePolicy gives an active form the patient's next message before any
rule can look at it ("loop happy path"), so a form waiting for a name took
"I can't swallow properly since my treatment" as the name. This policy runs
with a higher priority than every other policy and, right after a patient
message that the NLU pipeline's triage reading (components/red_flags.py,
parse data `triage`) marks as the patient's own symptom report, predicts
`action_triage` with full confidence. No form, rule, story or classifier
score can override it; action_triage ends whatever form was active.

The prediction is marked as not depending on user input only so that Rasa's
ensemble compares it with the loop's happy-path prediction (which is marked
so) instead of discarding it; with equal confidence the priority decides.
"""

from __future__ import annotations

from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

TRIAGE_ACTION = "action_triage"
REPORT_INTENT = "report_symptom"
# Above RulePolicy (6): ties on confidence go to the higher priority.
PRIORITY = 7


# How serious a reading is; a form waiting for an answer is interrupted only by
# something more serious than what the conversation already knows.
RANK = {None: 0, "none": 0, "expected": 1, "unclear": 2, "urgent": 3, "emergency": 4}


def reported_symptom(tracker: DialogueStateTracker) -> bool:
    """Should the patient's latest message, just received, go to triage first?

    The pipeline's reading decides. An emergency always does. While a form
    waits for an answer, a report interrupts it at once only when it is a
    possible red flag or urgent by the rules, and more serious than the
    conversation's triage so far (a patient giving their name after
    an urgent report and adding "my forehead is a bit sore" keeps giving
    details; one who adds "now I can't breathe" is an emergency). A message
    that bypassed the pipeline (a button payload such as "/report_symptom",
    or a `rasa test` story step) has no reading: its intent decides, and
    action_triage reads its text again with the rules (so an injected
    "/report_symptom" escalates nothing).
    """
    if tracker.latest_action_name != ACTION_LISTEN_NAME:
        return False
    message = tracker.latest_message
    if message is None:
        return False
    reading = (message.parse_data or {}).get("triage")
    if not isinstance(reading, dict):
        return message.intent_name == REPORT_INTENT
    severity = reading.get("severity")
    if severity is None:
        return False
    if severity == "emergency" or not tracker.active_loop_name:
        return True
    if not clearly_serious(reading):
        # An expected symptom, or a report only the classifier sees: the form
        # decides whether it answers its question (a surname such as "Bruise",
        # a date such as "yesterday morning") or interrupts it (actions/forms.py).
        return False
    level = "unclear" if reading.get("screen") else severity
    return RANK.get(level, 0) > RANK.get(tracker.get_slot("triage_severity"), 0)


def clearly_serious(reading: dict[str, Any]) -> bool:
    """A possible red flag (rules or meaning) or an urgent sign the rules know."""
    if reading.get("semantic_flag") or reading.get("mentions_red_flag"):
        return True
    return reading.get("source") == "rules" and reading.get("rules_severity") in (
        "urgent",
        "emergency",
    )


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class TriagePreemptionPolicy(Policy):
    """Predicts action_triage after every symptom report, before any form or rule."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"priority": PRIORITY}

    def train(
        self, training_trackers: list[TrackerWithCachedStates], domain: Domain, **kwargs: Any
    ) -> Resource:
        return self._resource  # nothing to learn: the decision is the triage reading's

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        if not reported_symptom(tracker):
            return self._prediction(probabilities)
        probabilities[domain.index_for_action(TRIAGE_ACTION)] = 1.0
        return self._prediction(probabilities, is_no_user_prediction=True)
