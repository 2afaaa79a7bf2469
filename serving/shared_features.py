"""The text features DIET and the ResponseSelector read, combined once per message.

Why: both classifiers read the same features of a message's text (every
featurizer's, as config.yml configures neither with a `featurizers` list),
and Rasa's `Message.get_all_features` combines them anew for each of them:
a deep copy of the first featurizer's matrices, then scipy's `hstack` of the
others', for the token sequence and for the sentence. A profile of parses
put this at about 15 % of the NLU's time, done twice per message.

At prediction (one message, not training), the combination the first
classifier asks for is kept on the message, and the second one reads it
again: the same `Features` objects. Neither classifier changes them: their
model data and batches only read the matrices (`convert_to_data_format`,
`prepare_batch`) or copy them, as a reviewer traced in Rasa 3.6.21's code;
a test compares whole parses with and without this. The key holds the
number of features the message carries, so a component that appended
features in between would get a fresh combination (none in config.yml
replaces or changes features between the two). Training is untouched.

The combination itself is made in one step where every matrix is in
scipy's COO form (what the featurizers in config.yml produce): the
matrices' entries are concatenated with their columns shifted, which is
what scipy's `hstack` (through `bmat`) computes for COO blocks, without its
generic checks and one pass per added featurizer (about 0.37 ms -> 0.07 ms
per message). Same entries in the same order, same types: a test compares
them with Rasa's. Anything else (one matrix, dense or other sparse forms)
is Rasa's own combination.

Installed in the Rasa server only (serving/patches.py, after its version
check).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse
from rasa.nlu.classifiers.diet_classifier import DIETClassifier
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message

# Where a message keeps its combined features: a plain dict (it stays on the
# message, which Rasa drops after the parse; `as_dict`, `fingerprint` and
# equality read only its data and features), so the message still copies and
# pickles, carrying the dict.
KEPT = "_clinic_combined_features"

_original_create_model_data = DIETClassifier._create_model_data


def create_model_data(
    self: DIETClassifier,
    training_data: list[Message],
    label_id_dict: dict[str, int] | None = None,
    label_attribute: str | None = None,
    training: bool = True,
) -> Any:
    """DIETClassifier._create_model_data (and the ResponseSelector's, inherited), reading
    a predicted message's combined features once for both classifiers."""
    if training or len(training_data) != 1:
        return _original_create_model_data(
            self, training_data, label_id_dict, label_attribute, training
        )
    message = training_data[0]
    kept: dict[tuple[Any, ...], list[Any]] = message.__dict__.setdefault(KEPT, {})

    def get_all_features(attribute: str, featurizers: list[str] | None = None) -> list[Any]:
        key = (attribute, tuple(featurizers or ()), len(message.features))
        if key not in kept:
            kept[key] = all_features(message, attribute, featurizers)
        return list(kept[key])

    message.get_all_features = get_all_features  # type: ignore[method-assign]
    try:
        return _original_create_model_data(
            self, training_data, label_id_dict, label_attribute, training
        )
    finally:
        del message.get_all_features


def combined_sparse(features: list[Features], featurizers: list[str]) -> Features | None:
    """Rasa's `Message._combine_features` of sparse features, in one step for COO matrices."""
    matrices = [feature.features for feature in features]
    if (
        len(features) < 2
        or not all(scipy.sparse.isspmatrix_coo(m) for m in matrices)
        or len({m.shape[0] for m in matrices}) != 1  # Rasa's raises
    ):
        return Message._combine_features(features, featurizers)
    shifts = np.cumsum([0] + [m.shape[1] for m in matrices[:-1]])
    combined = scipy.sparse.coo_matrix(
        (
            np.concatenate([m.data for m in matrices]),
            (
                np.concatenate([m.row for m in matrices]),
                np.concatenate([m.col + shift for m, shift in zip(matrices, shifts, strict=True)]),
            ),
        ),
        shape=(matrices[0].shape[0], sum(m.shape[1] for m in matrices)),
    )
    first = features[0]
    return Features(combined, first.type, first.attribute, featurizers)


def all_features(
    message: Message, attribute: str, featurizers: list[str] | None = None
) -> list[Features]:
    """`Message.get_all_features`, its sparse features combined by `combined_sparse`."""
    chosen = featurizers or []
    sequence, sentence = message._filter_sparse_features(attribute, chosen)
    sparse = [combined_sparse(sequence, chosen), combined_sparse(sentence, chosen)]
    dense = list(message.get_dense_features(attribute, featurizers))
    return [feature for feature in sparse + dense if feature is not None]


def install() -> None:
    """Replace DIET's model-data step (called by serving/patches.py, after its version check)."""
    DIETClassifier._create_model_data = create_model_data


def uninstall() -> None:
    DIETClassifier._create_model_data = _original_create_model_data
