"""The traced prediction graphs, called directly, answer exactly as through TensorFlow's dispatch.

serving/direct_predict.py runs a model's traced `predict_step` graph with
the batch converted to its signature's tensors. Here the trained model's
three TensorFlow models are compared with and without it: DIET and the
ResponseSelector through whole parses of a third of the NLU training
messages, TED on the training conversations' prediction points. A batch
that does not fit the signature must take Rasa's own path.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from rasa.core.policies.ted_policy import TEDPolicy

from serving import direct_predict
from tests.support import parses_with_and_without, training_texts
from tests.test_cached_ted import policies, prediction_points  # noqa: F401 - fixtures
from tests.test_state_history import project  # noqa: F401 - the training conversations

pytestmark = pytest.mark.integration


@pytest.fixture
def direct_calls(monkeypatch: pytest.MonkeyPatch) -> list[direct_predict.DirectCall]:
    """The direct calls made, one entry per graph run."""
    made: list[direct_predict.DirectCall] = []
    real = direct_predict.DirectCall.__call__

    def counting(self: direct_predict.DirectCall, tensors: list[Any]) -> Any:
        made.append(self)
        return real(self, tensors)

    monkeypatch.setattr(direct_predict.DirectCall, "__call__", counting)
    return made


def test_every_training_message_is_parsed_alike(nlu_agent: Any, direct_calls: list[Any]) -> None:
    texts = training_texts(every=3, first=2)
    assert len(texts) > 500
    parses = parses_with_and_without(nlu_agent, direct_predict, texts)
    for text, (mine, theirs) in zip(texts, parses, strict=True):
        assert mine == theirs, text
    # DIET and the ResponseSelector, each through its own graph, for every message.
    assert len(direct_calls) == 2 * len(texts)
    assert len({id(call.graph) for call in direct_calls}) == 2


def test_ted_predicts_alike_on_the_training_conversations(
    policies,  # noqa: F811
    project,  # noqa: F811
    direct_calls: list[Any],
) -> None:
    ted, rule_only, domain = policies
    _, conversations = project
    points = [t for events in conversations[:40] for t in prediction_points(domain, events)]
    assert len(points) > 200
    rasas = [TEDPolicy.predict_action_probabilities(ted, t, domain, rule_only) for t in points]
    direct_predict.install()
    try:
        ours = [TEDPolicy.predict_action_probabilities(ted, t, domain, rule_only) for t in points]
    finally:
        direct_predict.uninstall()
    for mine, theirs in zip(ours, rasas, strict=True):
        assert mine.probabilities == theirs.probabilities
        assert mine.diagnostic_data.keys() == theirs.diagnostic_data.keys()
        for key, value in theirs.diagnostic_data.items():
            np.testing.assert_array_equal(mine.diagnostic_data[key], value)
    assert len(direct_calls) == len(points)


def test_a_batch_that_does_not_fit_the_signature_takes_rasas_path(
    nlu_agent: Any, direct_calls: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from rasa.nlu.classifiers.diet_classifier import DIETClassifier
    from rasa.utils.tensorflow.models import RasaModel

    from tests.test_cached_ted import component

    model = component(nlu_agent, DIETClassifier).model
    real = direct_predict._original_rasa_predict
    batches: list[Any] = []

    def recording(self: Any, batch_in: Any) -> Any:
        if self is model:
            batches.append(batch_in)
        return real(self, batch_in)

    RasaModel._rasa_predict = recording
    try:
        asyncio.run(nlu_agent.parse_message("how long does botox last"))
    finally:
        RasaModel._rasa_predict = real
    (batch,) = batches
    batches.clear()
    monkeypatch.setattr(direct_predict, "_original_rasa_predict", recording)
    direct_predict.install()
    try:
        fitting = model._rasa_predict(batch)
        assert batches == [] and len(direct_calls) == 1
        # float64 where the graph takes float32: Rasa's path, which converts it.
        wrong_type = tuple(a.astype(np.float64) if a.dtype == np.float32 else a for a in batch)
        model._rasa_predict(wrong_type)
        # One array too few; a sparse index of 2 columns where the signature says 3; an
        # array of another rank: Rasa's path, which rejects them.
        call = direct_predict._direct_call(model)
        fixed = next(i for i, (_, dims) in enumerate(call.accepted) if dims[-1] is not None)
        narrower = list(batch)
        narrower[fixed] = batch[fixed][..., :-1]
        deeper = list(batch)
        deeper[fixed] = batch[fixed][..., None]
        for wrong in (batch[:-1], tuple(narrower), tuple(deeper)):
            with pytest.raises((TypeError, ValueError)):
                model._rasa_predict(wrong)
    finally:
        direct_predict.uninstall()
    assert len(batches) == 4 and len(direct_calls) == 1
    np.testing.assert_array_equal(fitting["i_scores"], real(model, batch)["i_scores"])


def test_another_tensorflow_is_refused() -> None:
    direct_predict.check_tensorflow_version("2.12.1")
    with pytest.raises(direct_predict.UnknownTensorFlowVersion):
        direct_predict.check_tensorflow_version("2.13.0")


def test_a_model_loaded_for_answering_is_called_directly_alike(trained_model: Any) -> None:
    """The server loads its models with serving/model_loading.py (weights made by the trace)."""
    from rasa.core.agent import Agent

    from serving import model_loading

    model_loading.install()
    try:
        agent = Agent.load(str(trained_model))
    finally:
        model_loading.uninstall()
    texts = training_texts(every=20, first=0)
    parses = parses_with_and_without(agent, direct_predict, texts)
    for text, (mine, theirs) in zip(texts, parses, strict=True):
        assert mine == theirs, text
