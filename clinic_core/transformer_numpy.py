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


# Abramowitz and Stegun 7.1.26: 1 - erf(z) = poly(t) * exp(-z^2), t = 1 / (1 + p z),
# for z >= 0, within 1.5e-7 of the true value (float32 rounding is about as large).
_ERFC_P = np.float32(0.3275911)
_ERFC_COEFFICIENTS = tuple(
    np.float32(a) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)
)
_ZERO = np.float32(0.0)
_ONE = np.float32(1.0)
_HALF = np.float32(0.5)
_INV_SQRT2 = np.float32(1.0 / np.sqrt(2.0))


def gelu(x: np.ndarray) -> np.ndarray:
    """The exact (erf) GELU, x * Phi(x), to float32 precision.

    Why not scipy's erf: it evaluates each number on its own in double
    precision and took a third of the small encoder's time. Here the normal
    distribution's upper tail Q(|x|) comes from one polynomial and one exp
    over whole arrays, and x * Phi(x) = max(x, 0) - |x| * Q(|x|) for either
    sign, so no masked operation (numpy's are slow) is needed.
    """
    magnitude = np.abs(x)
    z = magnitude * _INV_SQRT2
    t = z * _ERFC_P
    t += _ONE
    np.reciprocal(t, out=t)
    tail = t * _ERFC_COEFFICIENTS[0]
    for coefficient in _ERFC_COEFFICIENTS[1:]:
        tail += coefficient
        tail *= t
    z *= z
    np.negative(z, out=z)
    np.exp(z, out=z)
    tail *= z
    tail *= _HALF  # Q(|x|) = erfc(|x| / sqrt 2) / 2
    tail *= magnitude
    result = np.maximum(x, _ZERO)
    result -= tail
    return result


def encoder_block(
    x: np.ndarray, layer: Layer, heads: int, attention_bias: np.ndarray, eps: float
) -> np.ndarray:
    """Self-attention then the feed-forward part, each with its residual and layer norm.

    The dense projections run on all tokens of the batch as one 2-D matrix:
    numpy multiplies a 3-D array by a matrix one sentence at a time, which
    was several times slower for a batch of short messages.
    """
    batch, length, width = x.shape
    head = width // heads
    tokens = x.reshape(batch * length, width)
    qkv = (tokens @ widened(layer.qkv) + layer.qkv_bias).reshape(batch, length, 3 * width)
    q, k, v = (
        qkv[..., i * width : (i + 1) * width]
        .reshape(batch, length, heads, head)
        .transpose(0, 2, 1, 3)
        for i in range(3)
    )
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(head) + attention_bias
    scores = np.exp(scores - scores.max(-1, keepdims=True))
    scores /= scores.sum(-1, keepdims=True)
    context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * length, width)
    tokens = layer_norm(tokens + context @ widened(layer.out) + layer.out_bias, layer.ln1, eps)
    up = gelu(tokens @ widened(layer.up) + layer.up_bias)
    tokens = layer_norm(tokens + up @ widened(layer.down) + layer.down_bias, layer.ln2, eps)
    return tokens.reshape(batch, length, width)


def mean_pooled_unit_vectors(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The sentence-transformers pooling: the mean over real tokens, scaled to unit length."""
    pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-9)).astype(np.float32)
