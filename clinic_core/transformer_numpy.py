"""The pieces of a BERT-style transformer encoder, in plain numpy.

Why: the sentence encoders (clinic_core/sentence_encoder.py, MiniLM, and
clinic_core/mpnet_encoder.py, MPNet) run pretrained models without PyTorch or
ONNX Runtime, which would add gigabytes or another native runtime to every
Rasa process. Both models are the same stack of attention and feed-forward
blocks; only their embeddings and attention bias differ, so the block lives
here once.

Large weight matrices may be kept as bfloat16 (the top 16 bits of a float32):
half the memory, and widened back with an integer shift just before each
matrix product, which numpy does much faster than a float16 conversion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import erf


@dataclass(frozen=True)
class Layer:
    """One encoder block's weights; the four matrices may be float32 or bfloat16 (uint16)."""

    qkv: np.ndarray  # (width, 3*width): query, key and value projections side by side
    qkv_bias: np.ndarray
    out: np.ndarray
    out_bias: np.ndarray
    ln1: tuple[np.ndarray, np.ndarray]
    up: np.ndarray
    up_bias: np.ndarray
    down: np.ndarray
    down_bias: np.ndarray
    ln2: tuple[np.ndarray, np.ndarray]


def to_bfloat16(matrix: np.ndarray, rows: int = 2048) -> np.ndarray:
    """float32 -> bfloat16 bits (uint16), rounded to nearest even; a few rows at a time,
    so that a large matrix needs no full-size temporary copies."""
    result = np.empty(matrix.shape, dtype=np.uint16)
    for start in range(0, matrix.shape[0], rows):
        part = np.ascontiguousarray(matrix[start : start + rows], dtype=np.float32)
        bits = part.view(np.uint32)
        rounded = bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))
        result[start : start + rows] = rounded >> np.uint32(16)
    return result


def widened(matrix: np.ndarray) -> np.ndarray:
    """A stored matrix as float32 (bfloat16 bits are shifted back into place)."""
    if matrix.dtype == np.uint16:
        return (matrix.astype(np.uint32) << np.uint32(16)).view(np.float32)
    return matrix


def layer_norm(x: np.ndarray, weights: tuple[np.ndarray, np.ndarray], eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weights[0] + weights[1]


def encoder_block(
    x: np.ndarray, layer: Layer, heads: int, attention_bias: np.ndarray, eps: float
) -> np.ndarray:
    """Self-attention then the feed-forward part, each with its residual and layer norm."""
    batch, length, width = x.shape
    head = width // heads
    qkv = x @ widened(layer.qkv) + layer.qkv_bias
    q, k, v = (
        qkv[..., i * width : (i + 1) * width]
        .reshape(batch, length, heads, head)
        .transpose(0, 2, 1, 3)
        for i in range(3)
    )
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(head) + attention_bias
    scores = np.exp(scores - scores.max(-1, keepdims=True))
    scores /= scores.sum(-1, keepdims=True)
    context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, length, width)
    x = layer_norm(x + context @ widened(layer.out) + layer.out_bias, layer.ln1, eps)
    up = x @ widened(layer.up) + layer.up_bias
    up = 0.5 * up * (1.0 + erf(up / np.sqrt(2.0)))
    return layer_norm(x + up @ widened(layer.down) + layer.down_bias, layer.ln2, eps)


def mean_pooled_unit_vectors(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The sentence-transformers pooling: the mean over real tokens, scaled to unit length."""
    pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-9)).astype(np.float32)
