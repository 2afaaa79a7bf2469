"""The cached TED answers exactly as TED does, and reruns the network only for new states."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from rasa.core.agent import Agent
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import TEXT

from components.cached_ted import CachedTEDPolicy
from tests.test_state_history import project  # noqa: F401 - the training conversations

pytestmark = pytest.mark.integration


def component(agent: Agent, kind: type) -> Any:
    """The instance of a graph component of `kind` in the loaded model."""
    nodes = agent.processor.graph_runner._instantiated_nodes.values()
    (found,) = [node._component for node in nodes if type(node._component) is kind]
    return found


@pytest.fixture(scope="module")
def policies(nlu_agent: Agent) -> tuple[CachedTEDPolicy, dict[str, Any], Domain]:
    from rasa.graph_components.providers.rule_only_provider import RuleOnlyDataProvider

    ted = component(nlu_agent, CachedTEDPolicy)
    rule_only = component(nlu_agent, RuleOnlyDataProvider).provide()
    return ted, rule_only, nlu_agent.domain


def prediction_points(domain: Domain, events: list[Event]):
    """The tracker at each point the policies predict: after a user message or an action."""
    tracker = DialogueStateTracker.from_events("ted", [], domain.slots)
    for event in events:
        if isinstance(event, ActionExecuted):
            yield tracker.copy()  # the policies chose this action from the tracker so far
        tracker.update(event)


def test_the_cache_answers_exactly_as_ted_on_every_training_conversation(
    policies,
    project,  # noqa: F811
) -> None:
    ted, rule_only, domain = policies
    _, conversations = project
    ted._predictions.clear()
    compared = 0
    for events in conversations[:60]:
        for tracker in prediction_points(domain, events):
            ours = ted.predict_action_probabilities(tracker, domain, rule_only)
            teds = TEDPolicy.predict_action_probabilities(ted, tracker, domain, rule_only)
            np.testing.assert_allclose(ours.probabilities, teds.probabilities, atol=1e-6)
            assert ours.is_end_to_end_prediction == teds.is_end_to_end_prediction
            compared += 1
    assert compared > 300
    # Conversations repeat their states: far fewer network runs than predictions.
    assert 0 < len(ted._predictions) < compared / 2


def test_a_known_state_does_not_run_the_network(policies, project, monkeypatch) -> None:  # noqa: F811
    ted, rule_only, domain = policies
    _, conversations = project
    tracker = list(prediction_points(domain, conversations[0]))[-1]
    first = ted.predict_action_probabilities(tracker, domain, rule_only)
    runs: list[int] = []
    real = ted.model.run_inference
    monkeypatch.setattr(ted.model, "run_inference", lambda *a, **k: runs.append(1) or real(*a, **k))
    again = ted.predict_action_probabilities(tracker, domain, rule_only)
    assert runs == [] and again.probabilities == first.probabilities
    again.probabilities[0] = 42.0  # a caller changing its copy changes nothing cached
    assert ted.predict_action_probabilities(tracker, domain, rule_only).probabilities[0] != 42.0
    ted._predictions.clear()
    ted.predict_action_probabilities(tracker, domain, rule_only)
    assert runs == [1]


def test_ted_that_reads_text_is_never_cached(policies, project, monkeypatch) -> None:  # noqa: F811
    ted, rule_only, domain = policies
    _, conversations = project
    tracker = list(prediction_points(domain, conversations[0]))[-1]
    monkeypatch.setattr(ted, "fake_features", {**ted.fake_features, TEXT: []})
    assert not ted._reads_only_states()
    ted._predictions.clear()
    monkeypatch.setattr(TEDPolicy, "predict_action_probabilities", lambda *a, **k: "TED ran")
    assert ted.predict_action_probabilities(tracker, domain, rule_only) == "TED ran"
    assert len(ted._predictions) == 0
