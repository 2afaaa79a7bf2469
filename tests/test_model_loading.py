"""The Rasa server loads its TensorFlow models for answering only: same predictions, faster start.

serving/model_loading.py skips tracing the training step Rasa 3.6 runs to
restore a model. The trained model is loaded both ways and asked the same
things: every intent and FAQ-topic ranking and every dialogue prediction must
be the same numbers.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rasa.core.agent import Agent
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from serving import model_loading

ROOT = Path(__file__).resolve().parent.parent
# Spent development messages (never the blind sets): varied, realistic wording.
DEV = ROOT / "tests" / "eval" / "nlu_dev.jsonl"


def readings(agent: Agent, texts: list[str]) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        results = []
        for text in texts:
            parsed = await agent.parse_message(text)
            topic = (parsed.get("response_selector") or {}).get("faq", {})
            tracker = DialogueStateTracker.from_events(
                "load-test",
                [
                    ActionExecuted("action_listen"),
                    UserUttered(text, parsed["intent"], parse_data=parsed),
                ],
                agent.domain.slots,
            )
            prediction = agent.processor._predict_next_with_tracker(tracker)
            results.append(
                {
                    "intents": [(i["name"], i["confidence"]) for i in parsed["intent_ranking"]],
                    "topics": [
                        (t["intent_response_key"], t["confidence"])
                        for t in topic.get("ranking", [])
                    ],
                    "action": prediction.max_confidence_index,
                    "policy": prediction.policy_name,
                    "probabilities": prediction.probabilities,
                }
            )
        return results

    return asyncio.run(read())


def assert_same(ours: dict[str, Any], rasas: dict[str, Any]) -> None:
    for key in ("intents", "topics"):
        assert [name for name, _ in ours[key]] == [name for name, _ in rasas[key]]
        np.testing.assert_allclose(
            [c for _, c in ours[key]], [c for _, c in rasas[key]], rtol=1e-5, atol=1e-7
        )
    assert (ours["action"], ours["policy"]) == (rasas["action"], rasas["policy"])
    np.testing.assert_allclose(ours["probabilities"], rasas["probabilities"], rtol=1e-5, atol=1e-7)


def test_the_answering_load_predicts_exactly_as_rasas_load(
    nlu_agent: Agent, trained_model: Path, caplog: pytest.LogCaptureFixture
) -> None:
    texts = [json.loads(line)["text"] for line in DEV.read_text(encoding="utf-8").splitlines()]
    texts = texts[:120]
    model_loading.install()
    try:
        answering = Agent.load(str(trained_model))
    finally:
        model_loading.uninstall()
    assert "did not restore every weight" not in caplog.text  # the fast path was taken
    for ours, rasas in zip(readings(answering, texts), readings(nlu_agent, texts), strict=True):
        assert_same(ours, rasas)


def test_a_checkpoint_that_does_not_fit_is_loaded_rasas_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple] = []

    class Broken:
        def __init__(self, *_args: Any, **_kwargs: Any) -> None:
            raise ValueError("shapes do not match")

    def rasas_load(cls: type, *args: Any, **kwargs: Any) -> str:
        calls.append((cls, args))
        return "loaded Rasa's way"

    monkeypatch.setattr(model_loading, "_original_load", classmethod(rasas_load))
    result = model_loading.load_for_answering(Broken, "weights", "example", "predict example")
    assert result == "loaded Rasa's way"
    assert calls == [(Broken, ("weights", "example", "predict example", False))]


@pytest.mark.parametrize(
    ("predict_example", "finetune"), [(None, False), ("predict example", True)]
)
def test_finetuning_or_no_example_is_always_rasas_way(
    monkeypatch: pytest.MonkeyPatch, predict_example: Any, finetune: bool
) -> None:
    def rasas_load(cls: type, *args: Any, **kwargs: Any) -> str:
        return "loaded Rasa's way"

    monkeypatch.setattr(model_loading, "_original_load", classmethod(rasas_load))
    result = model_loading.load_for_answering(object, "w", "e", predict_example, finetune)
    assert result == "loaded Rasa's way"
