"""DIET and the ResponseSelector read a message's combined text features once.

serving/shared_features.py keeps the combination the first classifier asks
for on the message. Here the trained model reads a third of the NLU training
messages with and without it: the whole parse (intent ranking, FAQ topic
ranking, triage reading) must be the same, the combination must be made once
per message instead of twice, and the message's `get_all_features` must be
Rasa's own again afterwards (the kept combination stays on it as a dict).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from serving import shared_features
from tests.support import project_importer


def parsed(agent: Any, text: str) -> str:
    return json.dumps(asyncio.run(agent.parse_message(text)), sort_keys=True, default=str)


@pytest.fixture
def combinations(monkeypatch: pytest.MonkeyPatch) -> list[Message]:
    """The messages whose text features were combined, once per combination."""
    made: list[Message] = []
    rasas = Message.get_sparse_features

    def counting(message: Message, attribute: str, featurizers: Any = None) -> Any:
        if attribute == TEXT:
            made.append(message)
        return rasas(message, attribute, featurizers)

    monkeypatch.setattr(Message, "get_sparse_features", counting)
    return made


def test_every_training_message_is_parsed_alike(nlu_agent: Any) -> None:
    importer = project_importer(with_test_stories=False)
    texts = sorted({m.get("text") for m in importer.get_nlu_data().intent_examples})[1::3]
    assert len(texts) > 500
    rasas = [parsed(nlu_agent, text) for text in texts]
    shared_features.install()
    try:
        ours = [parsed(nlu_agent, text) for text in texts]
    finally:
        shared_features.uninstall()
    for text, mine, theirs in zip(texts, ours, rasas, strict=True):
        assert mine == theirs, text


def test_the_features_are_combined_once_per_message(
    nlu_agent: Any, combinations: list[Message]
) -> None:
    asyncio.run(nlu_agent.parse_message("how long does botox last"))
    assert len(combinations) == 2  # Rasa's own: DIET, then the ResponseSelector
    combinations.clear()
    shared_features.install()
    try:
        asyncio.run(nlu_agent.parse_message("how long does botox last"))
    finally:
        shared_features.uninstall()
    assert len(combinations) == 1
    message = combinations[0]
    assert "get_all_features" not in vars(message)  # Rasa's method again
    assert message.get_all_features.__func__ is Message.get_all_features


def test_a_feature_added_after_the_first_classifier_is_combined_afresh() -> None:
    """The kept combination belongs to the features the message had when it was made."""
    import numpy as np
    import scipy.sparse
    from rasa.shared.nlu.training_data.features import Features

    message = Message(data={TEXT: "hello"})
    message.add_features(
        Features(scipy.sparse.coo_matrix(np.ones((1, 3))), "sentence", TEXT, "first")
    )

    class Reads:
        """Stands for a classifier: reads the features the way DIET's model data does."""

        def read(self) -> list[Any]:
            return message.get_all_features(TEXT, None)

    seen: list[list[Any]] = []

    def fake_original(self: Any, data: list[Message], *args: Any) -> None:
        seen.append(Reads().read())

    original = shared_features._original_create_model_data
    shared_features._original_create_model_data = fake_original
    try:
        shared_features.create_model_data(None, [message], training=False)  # type: ignore[arg-type]
        shared_features.create_model_data(None, [message], training=False)  # type: ignore[arg-type]
        message.add_features(
            Features(scipy.sparse.coo_matrix(np.ones((1, 2))), "sentence", TEXT, "second")
        )
        shared_features.create_model_data(None, [message], training=False)  # type: ignore[arg-type]
    finally:
        shared_features._original_create_model_data = original
    assert seen[0][0] is seen[1][0]  # the same combination, read twice
    assert seen[0][0].features.shape == (1, 3)
    assert seen[2][0].features.shape == (1, 5)  # the new feature is in
