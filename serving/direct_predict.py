"""The TensorFlow models' prediction graph called directly, once it is traced.

Why: Rasa wraps each model's `predict_step` in a `tf.function` with one
input signature, so every prediction runs the same traced graph. Yet each
call still goes through TensorFlow's dispatch: it canonicalises the
arguments against the signature, works out the arguments' trace type and
looks the graph up again (`_maybe_define_function`). `make bench` profiled
an FAQ turn at 8 concurrent conversations: for DIET and the ResponseSelector
together that dispatch was about a fifth of the Rasa process's main
thread, more than the graphs themselves; a single call costs about 0.85 ms
through the dispatch and 0.35 ms directly.

Here, after Rasa's own first call has traced the graph (the model load
does one), later calls convert the batch to tensors of the signature's
types and run the traced graph, the `ConcreteFunction`, with them: the same
graph, the same weights, the same outputs (a test compares them for every
model of the trained assistant). A batch that does not match the signature
exactly (number of arrays, type, or a shape the signature does not accept)
takes Rasa's own path, which converts or rejects it as it always did. Eager
mode (`run_eagerly`, or TensorFlow told to run functions eagerly) and
training are untouched: training never calls `_rasa_predict`.

`ConcreteFunction._call_flat` is TensorFlow's own entry point below the
dispatch (the one the dispatch ends in); it is private, which is why this
is installed only with the versions checked: serving/patches.py checks
Rasa's, and `install` checks TensorFlow's.

Installed in the Rasa server only (serving/patches.py, after its version
check).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf
from keras.utils import tf_utils
from rasa.shared.constants import DIAGNOSTIC_DATA
from rasa.utils.tensorflow.models import RasaModel

logger = logging.getLogger(__name__)

WRITTEN_FOR_TENSORFLOW = "2.12."

_original_rasa_predict = RasaModel._rasa_predict

# Where a model keeps its direct call (an attribute Rasa does not use).
KEPT = "_clinic_direct_predict"


class UnknownTensorFlowVersion(RuntimeError):
    """The installed TensorFlow is not the release this module was written for."""


@dataclass(frozen=True)
class DirectCall:
    """A traced prediction graph and the types of its inputs, in flat order."""

    graph: Any  # the tf.function's one ConcreteFunction
    # Per input: its numpy type and its dimensions (None: any size), as the signature says.
    accepted: tuple[tuple[Any, tuple[int | None, ...]], ...]

    @classmethod
    def of(cls, function: Any) -> DirectCall | None:
        """The direct call of a `tf.function` with a signature of tensors only, else None."""
        try:
            graph = function.get_concrete_function()
            specs = tuple(tf.nest.flatten(graph.structured_input_signature))
        except Exception:  # noqa: BLE001 - not traceable without arguments: Rasa's path
            logger.warning("A prediction graph cannot be called directly; using Rasa's path.")
            return None
        if not specs or not all(isinstance(spec, tf.TensorSpec) for spec in specs):
            logger.warning("A prediction graph takes more than tensors; using Rasa's path.")
            return None
        if any(spec.shape.rank is None for spec in specs):
            logger.warning("A prediction graph takes inputs of any rank; using Rasa's path.")
            return None
        accepted = tuple((spec.dtype.as_numpy_dtype, tuple(spec.shape.as_list())) for spec in specs)
        return cls(graph, accepted)

    def tensors(self, batch_in: Any) -> list[tf.Tensor] | None:
        """The batch as the graph's flat inputs, or None if it does not fit the signature."""
        arrays = tf.nest.flatten(batch_in)
        if len(arrays) != len(self.accepted):
            return None
        tensors = []
        for array, (dtype, dimensions) in zip(arrays, self.accepted, strict=True):
            if not isinstance(array, np.ndarray) or array.dtype != dtype:
                return None
            # TensorFlow's dispatch checks the shape; the graph call does not.
            if len(dimensions) != array.ndim or any(
                wanted is not None and wanted != size
                for wanted, size in zip(dimensions, array.shape, strict=True)
            ):
                return None
            tensors.append(tf.constant(array))
        return tensors

    def __call__(self, tensors: list[tf.Tensor]) -> Any:
        return self.graph._call_flat(tensors, self.graph.captured_inputs)


def _direct_call(model: RasaModel) -> DirectCall | None:
    """The model's direct call, made once per traced function (None: Rasa's path)."""
    function = model._tf_predict_step
    if function is None:
        return None
    kept = model.__dict__.get(KEPT)
    if kept is None or kept[0] is not function:
        kept = (function, DirectCall.of(function))  # a None is kept too: not tried again
        model.__dict__[KEPT] = kept
    return kept[1]


def rasa_predict(self: RasaModel, batch_in: Any) -> dict[str, Any]:
    """RasaModel._rasa_predict, calling the traced graph without TensorFlow's dispatch."""
    if self._run_eagerly or not self.prepared_for_prediction or tf.config.functions_run_eagerly():
        return _original_rasa_predict(self, batch_in)
    call = _direct_call(self)
    tensors = call.tensors(batch_in) if call is not None else None
    if tensors is None:
        return _original_rasa_predict(self, batch_in)
    self._training = False
    outputs = tf_utils.sync_to_numpy_or_python_type(call(tensors))
    if DIAGNOSTIC_DATA in outputs:
        outputs[DIAGNOSTIC_DATA] = self._empty_lists_to_none_in_dict(outputs[DIAGNOSTIC_DATA])
    return outputs


def check_tensorflow_version(installed: str | None = None) -> None:
    installed = installed or tf.__version__
    if not installed.startswith(WRITTEN_FOR_TENSORFLOW):
        raise UnknownTensorFlowVersion(
            f"TensorFlow {installed} is installed, but serving/direct_predict.py calls a "
            f"private method of TensorFlow {WRITTEN_FOR_TENSORFLOW}x: check it, then update "
            "WRITTEN_FOR_TENSORFLOW."
        )


def install() -> None:
    """Called by serving/patches.py after its Rasa version check."""
    check_tensorflow_version()
    RasaModel._rasa_predict = rasa_predict


def uninstall() -> None:
    RasaModel._rasa_predict = _original_rasa_predict
