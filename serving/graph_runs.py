"""Run the trained graph's nodes in a fixed order, without planning the run every time.

Rasa 3.6 answers each message by running its model graph twice or more (the
NLU pipeline, then the policies once per action of the turn) through
`DaskGraphRunner.run`, which on every call walks the graph schema
recursively to find the nodes the targets need (the same walk, without
memory, for every node reached by several paths), builds a dask task graph
from them and hands it to dask's local scheduler. `make bench` profiled the
Rasa process under load: the walk alone was about 4 % of its time, dask's
scheduling 3 %, for a plan that never changes while the model is loaded.

Here the plan (which nodes, in which order, fed by which nodes) is made
once per runner and set of targets, and the nodes are called in that order
in the calling thread, as dask's synchronous scheduler calls them: each
node receives its dependencies' `(name, output)` pairs, an input is passed
as the `(name, value)` pair Rasa's runner gives it (an input given under a
node's name stands for that node, as in a dask graph), and a dependency
that is neither a node nor an input is passed as its bare name (as dask
passes an unknown key). Errors go through unchanged: Rasa's node wraps
whatever its component or a hook raises in a GraphComponentException, which
Rasa's runner passes on too (its own RuntimeError branch is for dask's
errors).

The order is a depth-first order of the schema (dependencies before the
node that needs them, in the schema's order). Dask may choose another
order among nodes that do not depend on each other (it does for the
policies, each of which reads the conversation and none of which writes
anything another reads); the NLU pipeline is a chain, run in the same
order. Tests compare the predictions of both runners, each on its own
loaded model (so that no cache one run fills answers the other), on the
training conversations and messages. Installed by serving/patches.py, after its
Rasa version check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rasa.engine.exceptions import GraphRunError
from rasa.engine.graph import GraphSchema
from rasa.engine.runner.dask import DaskGraphRunner

# A run's plan: each node to call, in order, with the names of what it needs.
Plan = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class _Planned:
    steps: Plan
    nodes: frozenset[str]  # the nodes the run calls (an input may not be named like one)


_original_run = DaskGraphRunner.run


def plan_for(schema: GraphSchema, targets: tuple[str, ...]) -> Plan:
    """The nodes the targets need, each after everything it needs."""
    ordered: list[tuple[str, tuple[str, ...]]] = []
    placed: set[str] = set()

    def place(name: str) -> None:
        if name in placed or name not in schema.nodes:
            return
        placed.add(name)
        needs = tuple(schema.nodes[name].needs.values())
        for dependency in needs:
            place(dependency)
        ordered.append((name, needs))

    for target in targets:
        place(target)
    return tuple(ordered)


def run_planned(
    runner: DaskGraphRunner,
    inputs: dict[str, Any] | None = None,
    targets: list[str] | None = None,
) -> dict[str, Any]:
    """`DaskGraphRunner.run`, from a plan made once per set of targets."""
    run_targets = tuple(targets if targets else runner._graph_schema.target_names)
    plans: dict[tuple[str, ...], _Planned] = runner.__dict__.setdefault("_clinic_plans", {})
    planned = plans.get(run_targets)
    if planned is None:
        steps = plan_for(runner._graph_schema, run_targets)
        planned = plans[run_targets] = _Planned(steps, frozenset(name for name, _ in steps))

    results: dict[str, Any] = {}
    for input_name, input_value in (inputs or {}).items():
        if isinstance(input_value, str) and input_value in planned.nodes:
            # Rasa's runner refuses this too: the value would be read as that node's output.
            raise GraphRunError(f"The input {input_name!r} names the graph node {input_value!r}.")
        results[input_name] = (input_name, input_value)
    nodes = runner._instantiated_nodes
    for name, needs in planned.steps:
        if name not in results:  # an input given under a node's name stands for it
            results[name] = nodes[name](*(results.get(need, need) for need in needs))
    return dict(results.get(target, target) for target in run_targets)


def install() -> None:
    """Called by serving/patches.py after its Rasa version check."""
    DaskGraphRunner.run = run_planned


def uninstall() -> None:
    DaskGraphRunner.run = _original_run
