"""The numpy encoders (MiniLM, and MPNet for second opinions): unit vectors by meaning,
the reference implementation's numbers, and a cache that changes nothing."""

from __future__ import annotations

import io
from pathlib import Path

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


@pytest.mark.parametrize("blas_threads", [1, 2])
def test_a_training_set_is_encoded_in_order_on_the_processs_threads(
    monkeypatch, blas_threads: int
) -> None:
    """Several batches run on as many workers as BLAS may use threads, each
    multiplying on one thread; a process set up for one thread stays on it."""
    import threading

    from threadpoolctl import threadpool_info, threadpool_limits

    from clinic_core import sentence_encoder

    monkeypatch.setattr(sentence_encoder, "_blas_threads", lambda: blas_threads)
    encoder = SentenceEncoder()
    texts = [
        f"question {i} " + "about botox " * (i % 7) for i in range(2 * sentence_encoder.BATCH + 5)
    ]
    seen = []
    real_batch = encoder._encode_batch

    def recording(batch: list[str]) -> np.ndarray:
        blas = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
        seen.append((threading.current_thread() is threading.main_thread(), max(blas)))
        return real_batch(batch)

    monkeypatch.setattr(encoder, "_encode_batch", recording)
    # The tests run with one BLAS thread: allow two, so that a missing limit would show.
    with threadpool_limits(limits=2, user_api="blas"):
        before = [p["num_threads"] for p in threadpool_info()]
        together = encoder.encode(texts)
        assert [p["num_threads"] for p in threadpool_info()] == before  # restored
    assert len(seen) == 3
    if blas_threads == 1:
        assert all(on_main for on_main, _ in seen)
    else:
        assert not any(on_main for on_main, _ in seen)
        assert all(threads == 1 for _, threads in seen)
    one_by_one = np.vstack([real_batch([t]) for t in texts])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)


# -- the larger encoder (all-mpnet-base-v2), the meaning classifier's second opinion ------

REFERENCE_TEXTS = [
    "how long does botox last?",
    "my throat feels tight and i cant swallow",
    "ok",
    "can i book for tuesday afternoon please, i am free after 3",
]


@pytest.fixture(scope="module")
def mpnet():
    from clinic_core.mpnet_encoder import shared_mpnet_encoder

    return shared_mpnet_encoder()


def test_the_numpy_mpnet_gives_the_reference_implementations_vectors(mpnet) -> None:
    """tests/fixtures/mpnet_reference.npy holds these texts' vectors from Hugging Face
    transformers 5.25 on PyTorch 2.13 (mean pooling, unit length), computed once
    offline from the same weights; the numpy forward in bfloat16 must agree. Made with:
    AutoModel/AutoTokenizer.from_pretrained(<the zip's all-mpnet-base-v2 folder>), padding
    on, last_hidden_state averaged over the attention mask, then normalised."""
    reference = np.load(Path(__file__).parent / "fixtures" / "mpnet_reference.npy")
    vectors = mpnet.encode(REFERENCE_TEXTS)
    assert vectors.shape == (4, 768)
    cosines = (vectors * reference).sum(axis=1)
    assert cosines.min() > 0.9999
    # and not by accident: different texts are far apart
    assert (vectors[0] @ reference[1]) < 0.5


def test_mpnet_vectors_do_not_depend_on_the_batch(mpnet) -> None:
    together = mpnet._encode_batch(REFERENCE_TEXTS + ["x " * 40])[:4]  # padded, not cached
    alone = np.vstack([mpnet._encode_batch([t]) for t in REFERENCE_TEXTS])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_bfloat16_keeps_three_significant_digits() -> None:
    from clinic_core.transformer_numpy import to_bfloat16, widened

    rng = np.random.default_rng(7)
    matrix = rng.normal(size=(5000, 7)).astype(np.float32)
    stored = to_bfloat16(matrix, rows=1024)  # several chunks
    assert stored.dtype == np.uint16 and stored.shape == matrix.shape
    back = widened(stored)
    assert np.max(np.abs(back - matrix) / np.abs(matrix)) <= 2.0**-8
    np.testing.assert_array_equal(widened(matrix), matrix)  # float32 passes through


def test_the_fast_gelu_matches_the_erf_definition_to_float32_precision() -> None:
    """The encoders' GELU is a polynomial for erf; it must agree with the exact
    x * Phi(x) (scipy's erf in double precision) everywhere a hidden state can be,
    and differ clearly from the tanh approximation, which the models were not trained with."""
    from scipy.special import erf

    from clinic_core.transformer_numpy import gelu

    rng = np.random.default_rng(11)
    x = np.concatenate([np.linspace(-30, 30, 200_000), rng.normal(scale=4, size=50_000)])
    x = x.astype(np.float32).reshape(-1, 50)  # 2-D like a batch of hidden states
    exact = 0.5 * x.astype(np.float64) * (1.0 + erf(x.astype(np.float64) / np.sqrt(2.0)))
    got = gelu(x)
    assert got.dtype == np.float32 and got.shape == x.shape
    assert np.max(np.abs(got - exact)) < 1e-6
    assert np.array_equal(gelu(np.zeros((1, 3), np.float32)), np.zeros((1, 3), np.float32))
    tanh_form = 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    assert np.max(np.abs(tanh_form - exact)) > 1e-4  # so the bound above can tell them apart


def test_split_zip_parts_read_as_one_file(tmp_path: Path) -> None:
    from clinic_core.mpnet_encoder import _JoinedFiles

    data = bytes(range(256)) * 50
    paths = []
    for i, (start, end) in enumerate([(0, 1000), (1000, 1001), (1001, 9000), (9000, len(data))]):
        path = tmp_path / f"part{i}"
        path.write_bytes(data[start:end])
        paths.append(path)
    joined = _JoinedFiles(paths)
    assert joined.read() == data
    joined.seek(995)
    assert joined.read(10) == data[995:1005]  # across two part boundaries
    joined.seek(-3, io.SEEK_END)
    assert joined.read() == data[-3:]
    joined.close()
