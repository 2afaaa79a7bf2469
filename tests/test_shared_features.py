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
from typing import Any

import pytest
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from serving import shared_features
from tests.support import parses_with_and_without, training_texts


@pytest.fixture
def combinations(monkeypatch: pytest.MonkeyPatch) -> list[Message]:
    """The messages whose text features were combined, once per combination."""
    made: list[Message] = []
    rasas = Message.get_sparse_features
    ours = shared_features.all_features

    def rasas_counted(message: Message, attribute: str, featurizers: Any = None) -> Any:
        if attribute == TEXT:
            made.append(message)
        return rasas(message, attribute, featurizers)

    def ours_counted(message: Message, attribute: str, featurizers: Any = None) -> Any:
        if attribute == TEXT:
            made.append(message)
        return ours(message, attribute, featurizers)

    monkeypatch.setattr(Message, "get_sparse_features", rasas_counted)
    monkeypatch.setattr(shared_features, "all_features", ours_counted)
    return made


def test_every_training_message_is_parsed_alike(nlu_agent: Any) -> None:
    texts = training_texts(every=3, first=1)
    assert len(texts) > 500
    parses = parses_with_and_without(nlu_agent, shared_features, texts)
    for text, (mine, theirs) in zip(texts, parses, strict=True):
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


def coo(rows: int, columns: int, dtype: Any, seed: int) -> Any:
    import scipy.sparse

    matrix = scipy.sparse.random(rows, columns, density=0.3, random_state=seed, format="coo")
    return scipy.sparse.coo_matrix(matrix.astype(dtype) * 7)


@pytest.mark.parametrize(
    "dtypes", [("float64", "int64", "int64"), ("int64", "int64"), ("float32", "int64")]
)
def test_the_one_step_combination_is_scipys(dtypes: tuple[str, ...]) -> None:
    """Same entries in the same order, same types and shape, as Rasa's hstack of them."""
    import numpy as np
    from rasa.shared.nlu.training_data.features import Features

    features = [
        Features(coo(5, 4 + 3 * i, dtype, seed=i), "sequence", TEXT, f"featurizer{i}")
        for i, dtype in enumerate(dtypes)
    ]
    rasas = Message._combine_features(features, [])
    ours = shared_features.combined_sparse(features, [])
    assert (ours.type, ours.attribute, ours.origin) == (rasas.type, rasas.attribute, rasas.origin)
    assert ours.features.format == rasas.features.format == "coo"
    assert ours.features.shape == rasas.features.shape
    for part in ("data", "row", "col"):
        mine, theirs = getattr(ours.features, part), getattr(rasas.features, part)
        assert mine.dtype == theirs.dtype
        np.testing.assert_array_equal(mine, theirs)


def test_other_matrices_are_combined_rasas_way() -> None:
    import numpy as np
    import scipy.sparse
    from rasa.shared.nlu.training_data.features import Features

    one = [Features(coo(3, 4, "int64", 0), "sentence", TEXT, "a")]
    assert shared_features.combined_sparse(one, []).features is not one[0].features  # a copy
    mixed = one + [Features(scipy.sparse.csr_matrix(np.ones((3, 2))), "sentence", TEXT, "b")]
    combined = shared_features.combined_sparse(mixed, [])
    assert combined.features.shape == (3, 6)
    uneven = one + [Features(coo(2, 2, "int64", 1), "sentence", TEXT, "b")]
    with pytest.raises(ValueError):
        shared_features.combined_sparse(uneven, [])
