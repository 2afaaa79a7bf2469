"""The trained graph run from a plan made once gives what Rasa's dask runner gives.

serving/graph_runs.py replaces `DaskGraphRunner.run`. Here both runners
read a third of the NLU training messages and predict the next action after every
user turn and action of every rule, story and test conversation, on the
trained model; their outputs must be equal. The plan itself, the inputs and
the errors are checked on small hand-made graphs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
from rasa.engine.exceptions import GraphComponentException, GraphRunError
from rasa.engine.graph import (
    ExecutionContext,
    GraphComponent,
    GraphSchema,
    SchemaNode,
)
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from serving import graph_runs
from tests.support import project_conversations, project_importer

RASAS_RUN = graph_runs._original_run


@pytest.fixture(scope="module")
def planned_agent(trained_model: Path) -> Any:
    """A second load of the model for the planned runs: no cache that Rasa's runs
    fill (TED's remembered predictions) answers for the planned runner."""
    from rasa.core.agent import Agent

    from serving import model_loading

    model_loading.install()  # the quick load; predictions equal (tests/test_model_loading.py)
    try:
        return Agent.load(str(trained_model))
    finally:
        model_loading.uninstall()


def both_runs(
    planned_agent: Any, rasas_agent: Any, inputs: dict[str, Any], target: str
) -> tuple[Any, Any]:
    rasas = RASAS_RUN(rasas_agent.processor.graph_runner, inputs=inputs, targets=[target])
    planned = graph_runs.run_planned(
        planned_agent.processor.graph_runner, inputs=inputs, targets=[target]
    )
    return planned[target], rasas[target]


def test_every_training_message_is_read_alike(nlu_agent: Any, planned_agent: Any) -> None:
    target = nlu_agent.processor.model_metadata.nlu_target
    importer = project_importer(with_test_stories=False)
    # Every third message (sorted): every intent and topic, in a third of the time.
    texts = sorted({m.get("text") for m in importer.get_nlu_data().intent_examples})[::3]
    assert len(texts) > 500
    empty = DialogueStateTracker.from_events("reading", [])
    for text in texts:
        inputs = {PLACEHOLDER_MESSAGE: [UserMessage(text)], PLACEHOLDER_TRACKER: empty}
        planned, rasas = both_runs(planned_agent, nlu_agent, inputs, target)
        ours = planned[0].as_dict(only_output_properties=True)
        theirs = rasas[0].as_dict(only_output_properties=True)
        assert json.dumps(ours, sort_keys=True, default=str) == json.dumps(
            theirs, sort_keys=True, default=str
        ), text


def test_every_conversation_step_is_predicted_alike(nlu_agent: Any, planned_agent: Any) -> None:
    target = nlu_agent.processor.model_metadata.core_target
    domain = nlu_agent.processor.domain
    predicted = 0
    for number, events in enumerate(project_conversations(project_importer(), domain)):
        tracker = DialogueStateTracker.from_events("steps", [], domain.slots)
        for event in events:
            tracker.update(event)
            if not isinstance(event, UserUttered | ActionExecuted):
                continue
            inputs = {PLACEHOLDER_TRACKER: tracker}
            planned, rasas = both_runs(planned_agent, nlu_agent, inputs, target)
            assert planned == rasas, (number, event)
            predicted += 1
    assert predicted > 500


class Adds(GraphComponent):
    """A node that returns its config's `value` plus what it is given."""

    def __init__(self, value: int) -> None:
        self.value = value

    @classmethod
    def create(cls, config: dict[str, Any], *_: Any, **__: Any) -> Adds:
        return cls(config["value"])

    def add(self, **given: Any) -> Any:
        if self.value < 0:
            raise RuntimeError("negative")
        return self.value + sum(v for v in given.values() if isinstance(v, int))


def node(value: int, **needs: str) -> SchemaNode:
    return SchemaNode(needs, Adds, "create", "add", {"value": value})


def runner_for(nodes: dict[str, SchemaNode], tmp_path: Path) -> DaskGraphRunner:
    return DaskGraphRunner(
        GraphSchema(nodes),
        LocalModelStorage(tmp_path),
        ExecutionContext(GraphSchema(nodes), "test"),
    )


def test_a_plan_calls_each_needed_node_once_after_what_it_needs(tmp_path: Path) -> None:
    nodes = {
        "unused": node(100),
        "a": node(1),
        "b": node(2, x="a"),
        "c": node(3, x="a", y="b"),
        "d": node(4, x="c", y="b", z="a"),
    }
    plan = graph_runs.plan_for(GraphSchema(nodes), ("d",))
    assert [name for name, _ in plan] == ["a", "b", "c", "d"]
    runner = runner_for(nodes, tmp_path)
    assert graph_runs.run_planned(runner, targets=["d"]) == RASAS_RUN(runner, targets=["d"])
    assert graph_runs.run_planned(runner, targets=["d"]) == {"d": 4 + (3 + 1 + 3) + 3 + 1}


def test_inputs_are_passed_as_rasa_passes_them(tmp_path: Path) -> None:
    nodes = {"a": node(1, x="__number__"), "b": node(2, x="a", y="__number__")}
    runner = runner_for(nodes, tmp_path)
    inputs = {"__number__": 5}
    # An input reaches the node as (name, value), as Rasa's runner passes it.
    assert graph_runs.run_planned(runner, inputs, ["a", "b"]) == RASAS_RUN(
        runner, inputs, ["a", "b"]
    )
    assert graph_runs.run_planned(runner, inputs, ["a", "b"]) == {"a": 6, "b": 2 + 6 + 5}
    with pytest.raises(GraphRunError, match="names the graph node"):
        graph_runs.run_planned(runner, {"__number__": "a"}, ["a"])
    # Only a node of the run clashes, as in Rasa's runner ("b" is not needed for "a").
    assert graph_runs.run_planned(runner, {"__number__": "b"}, ["a"]) == RASAS_RUN(
        runner, {"__number__": "b"}, ["a"]
    )
    # An input given under a node's name stands for that node, as in Rasa's runner.
    assert graph_runs.run_planned(runner, {"__number__": 5, "a": 100}, ["b"]) == RASAS_RUN(
        runner, {"__number__": 5, "a": 100}, ["b"]
    )


def test_a_failing_node_fails_the_run_as_in_rasa(tmp_path: Path) -> None:
    """Rasa's node wraps a component's error in GraphComponentException: both runners
    raise it as it is."""
    runner = runner_for({"a": node(-1), "b": node(1, x="a")}, tmp_path)
    with pytest.raises(GraphComponentException, match="node a"):
        graph_runs.run_planned(runner, targets=["b"])
    with pytest.raises(GraphComponentException, match="node a"):
        RASAS_RUN(runner, targets=["b"])
