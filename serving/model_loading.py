"""Load the trained TensorFlow models for answering, without tracing their training step.

Rasa 3.6 restores DIET, the ResponseSelector and TED by compiling each model
and training it for one step on one example (to create every weight, the
optimizer's included), then overwriting the weights from the checkpoint,
then running one prediction to trace the prediction graph. `make bench`
profiled start-up: tracing the training step is about two thirds of loading
the model, for weights a server never uses.

Here the checkpoint is attached first; TensorFlow restores each weight the
moment the prediction trace creates it (object-based checkpoints defer the
restore of weights not yet created). Then the checkpoint is asked to confirm
that every weight the model created was found in it
(`assert_existing_objects_matched`); if anything is missing or the
checkpoint does not fit, the model is loaded again Rasa's own way. Loading
to fine-tune, or without an example to predict on, is always Rasa's way.
Tests compare the predictions of both loads.

Installed in the Rasa server only (serving/patches.py, after its version
check); training is untouched.
"""

from __future__ import annotations

import logging
from typing import Any

import tensorflow as tf
from rasa.utils.tensorflow.constants import LEARNING_RATE, RUN_EAGERLY
from rasa.utils.tensorflow.models import RasaModel

logger = logging.getLogger(__name__)

# The classmethod itself (`RasaModel.load` would be bound to RasaModel, not to DIET or TED).
_original_load = RasaModel.__dict__["load"]


def load_for_answering(
    cls: type[RasaModel],
    model_file_name: str,
    model_data_example: Any,
    predict_data_example: Any = None,
    finetune_mode: bool = False,
    *args: Any,
    **kwargs: Any,
) -> RasaModel:
    """RasaModel.load, with the prediction trace creating (and restoring) the weights."""

    def rasas_way() -> RasaModel:
        return _original_load.__func__(
            cls,
            model_file_name,
            model_data_example,
            predict_data_example,
            finetune_mode,
            *args,
            **kwargs,
        )

    if finetune_mode or predict_data_example is None:
        return rasas_way()
    try:
        model = cls(*args, **kwargs)
        config = kwargs.get("config", {})
        model.compile(
            optimizer=tf.keras.optimizers.Adam(config.get(LEARNING_RATE, 0.001)),
            run_eagerly=config.get(RUN_EAGERLY),
        )
        status = model.load_weights(model_file_name)
        status.expect_partial()  # the optimizer's state is in the file, and not wanted
        model.run_inference(predict_data_example)
        status.assert_existing_objects_matched()
        return model
    except Exception:  # noqa: BLE001 - Rasa's own way still works
        logger.warning(
            "Loading %s for answering only did not restore every weight; loading it Rasa's way.",
            cls.__name__,
            exc_info=True,
        )
        return rasas_way()


def install() -> None:
    """Called by serving/patches.py after its Rasa version check."""
    RasaModel.load = classmethod(load_for_answering)


def uninstall() -> None:
    RasaModel.load = _original_load
