"""The numpy MiniLM encoder: unit vectors by meaning, and a cache that changes nothing."""

from __future__ import annotations

import numpy as np
import pytest

from clinic_core.sentence_encoder import CACHE_SIZE, SentenceEncoder, shared_encoder


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return shared_encoder()


def test_vectors_are_unit_length_and_place_messages_by_meaning(encoder: SentenceEncoder) -> None:
    bruise, bruise_again, opening_hours = encoder.encode(
        [
            "how long will the bruise on my forehead last",
            "when does a bruise from the injection fade",
            "what time do you open on saturday",
        ]
    )
    assert np.linalg.norm(bruise) == pytest.approx(1.0, abs=1e-4)
    assert bruise @ bruise_again > bruise @ opening_hours + 0.2


def test_a_cached_text_gets_exactly_the_vector_it_would_get_fresh(
    encoder: SentenceEncoder,
) -> None:
    texts = ["is it normal to feel a headache the next day", "can i book for tuesday"]
    fresh = SentenceEncoder().encode(texts)  # a new encoder has an empty cache
    first = encoder.encode(texts)
    again = encoder.encode(list(reversed(texts)))[::-1]  # from the cache, in another order
    np.testing.assert_allclose(first, fresh, atol=1e-6)
    np.testing.assert_array_equal(first, again)


def test_changing_a_returned_vector_does_not_change_the_cache(encoder: SentenceEncoder) -> None:
    text = "my eyelid feels heavy since this morning"
    vector = encoder.encode([text])
    vector[:] = 0.0
    assert np.linalg.norm(encoder.encode([text])[0]) == pytest.approx(1.0, abs=1e-4)


def test_the_cache_stays_bounded(encoder: SentenceEncoder) -> None:
    for i in range(CACHE_SIZE + 20):
        encoder.encode([f"message number {i}"])
    assert len(encoder._cache) <= CACHE_SIZE
