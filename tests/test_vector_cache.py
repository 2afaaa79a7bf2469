"""Training vectors kept between trainings: only new texts are encoded, nothing else changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clinic_core.vector_cache import cached_vectors


class CountingEncoder:
    """A stand-in encoder whose vector is a function of the text, counting what it reads."""

    def __init__(self) -> None:
        self.read: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.read += texts
        return np.array([[len(t), t.count("a"), 1.0] for t in texts], dtype=np.float32)


def test_a_second_training_encodes_only_the_new_examples(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "vectors.npz"
    encoder = CountingEncoder()
    first = cached_vectors(encoder, ["book a slot", "how long", "book a slot"], path)
    assert encoder.read == ["book a slot", "how long"]  # a repeated text is encoded once
    np.testing.assert_array_equal(first, encoder.encode(["book a slot", "how long", "book a slot"]))
    encoder.read = []
    again = cached_vectors(encoder, ["how long", "a new example"], path)
    assert encoder.read == ["a new example"]
    np.testing.assert_array_equal(again, CountingEncoder().encode(["how long", "a new example"]))


def test_the_file_holds_only_the_last_trainings_examples(tmp_path: Path) -> None:
    path = tmp_path / "vectors.npz"
    encoder = CountingEncoder()
    cached_vectors(encoder, ["one", "two"], path)
    cached_vectors(encoder, ["two"], path)
    encoder.read = []
    cached_vectors(encoder, ["one"], path)
    assert encoder.read == ["one"]  # dropped with the training set that no longer had it


def test_an_unreadable_file_means_encoding_everything(tmp_path: Path) -> None:
    path = tmp_path / "vectors.npz"
    path.write_bytes(b"not a numpy file")
    encoder = CountingEncoder()
    vectors = cached_vectors(encoder, ["one", "two"], path)
    assert encoder.read == ["one", "two"] and vectors.shape == (2, 3)
    encoder.read = []
    cached_vectors(encoder, ["one", "two"], path)
    assert encoder.read == []  # and it was written anew


def test_a_truncated_file_means_encoding_everything(tmp_path: Path) -> None:
    path = tmp_path / "vectors.npz"
    encoder = CountingEncoder()
    cached_vectors(encoder, ["one", "two"], path)
    path.write_bytes(path.read_bytes()[:100])  # cut short, as by a crash while writing
    encoder.read = []
    cached_vectors(encoder, ["one", "two"], path)
    assert encoder.read == ["one", "two"]
    assert list(tmp_path.iterdir()) == [path]  # no partial file left behind
