"""Sentence vectors of training examples, kept between trainings.

Why: the larger encoder (clinic_core/mpnet_encoder.py) needs a few minutes
to read the whole training set on a small machine, while a retraining after
an edit of the data changes a handful of examples. The vectors of the last
training are kept in one file beside Rasa's own training cache, keyed by a
hash of each text; only texts not seen before are encoded. The file holds
exactly the last training's examples, so it does not grow, and a missing or
unreadable file only means encoding everything again. The examples are the
team's training data, never a patient's message.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Protocol

import numpy as np


class Encoder(Protocol):
    def encode(self, texts: list[str]) -> np.ndarray: ...


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _stored(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
    except Exception:  # noqa: BLE001 - missing, truncated or foreign: encode everything again
        return {}


def cached_vectors(encoder: Encoder, texts: list[str], path: Path) -> np.ndarray:
    """The texts' vectors, reusing those stored at `path`; afterwards it holds these texts'."""
    keys = [_key(text) for text in texts]
    stored = _stored(path)
    missing = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in stored))
    if missing:
        stored.update(zip((_key(t) for t in missing), encoder.encode(missing), strict=True))
    vectors = np.vstack([stored[key] for key in keys]) if keys else np.zeros((0, 0))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A file of its own, then renamed: two trainings at once never mix their writes.
        handle, partial = tempfile.mkstemp(dir=path.parent, suffix=".partial.npz")
        with os.fdopen(handle, "wb") as out:
            np.savez(out, keys=np.array(keys), vectors=vectors)
        os.replace(partial, path)
    except OSError:
        pass  # a read-only checkout trains all the same, only slower next time
    return vectors
