"""NLU figures on the blind set: accuracy per label, confusions, confidently-wrong rate.

`make eval` runs it against the trained model. The blind set
(tests/eval/nlu_blind_*.jsonl) was written by helpers who saw only the label
definitions (tests/eval/nlu-labels.md), never data/, the rules or earlier
sets. It is never used for error analysis: a message looked at to decide a
change moves to the dev set (tests/eval/nlu_dev*.jsonl) and is replaced by a
fresh blind one. `--set dev --misses` lists the dev set's errors.

A message counts as right only when the label the assistant acts on (the
intent, or faq/<topic>) is the expected one; a fallback or a clarification
question is not right, but it is not a confident wrong answer either.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any

from clinic_core.settings import PROJECT_ROOT
from scripts.eval_sets import evaluation_arguments, quiet_agent, read_jsonl

ROOT = PROJECT_ROOT
CONFIDENT = 0.9
# A message this close (sentence-embedding cosine) to a training example is a
# near paraphrase of it: the accuracy on the others says how strangers fare.
NEAR_TRAINING = 0.9
NOT_ANSWERED = ("nlu_fallback",)


@dataclass(frozen=True)
class Example:
    text: str
    label: str


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float


def load_set(pattern: str) -> list[Example]:
    return [Example(row["text"], row["label"]) for row in read_jsonl(pattern)]


def prediction_of(parse: dict[str, Any]) -> Prediction:
    """The label the assistant acts on and how sure it is (the FAQ topic's own confidence)."""
    intent = parse.get("intent") or {}
    name = intent.get("name") or ""
    confidence = float(intent.get("confidence") or 0.0)
    if name == "faq":
        response = parse.get("response_selector", {}).get("faq", {}).get("response", {})
        topic = response.get("intent_response_key")
        return Prediction(topic or "faq", min(confidence, float(response.get("confidence") or 0)))
    return Prediction(name, confidence)


def predict(examples: list[Example], model: str) -> list[Prediction]:
    agent = quiet_agent(model)

    async def run() -> list[Prediction]:
        return [prediction_of(await agent.parse_message(e.text)) for e in examples]

    return asyncio.run(run())


@dataclass
class Figures:
    total: int
    correct: int
    answered: int
    correct_answered: int
    confidently_wrong: int
    per_label: Counter
    right_per_label: Counter
    confusions: Counter
    misses: list[tuple[Example, Prediction]]

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def confidently_wrong_rate(self) -> float:
        return self.confidently_wrong / self.total if self.total else 0.0


def score(examples: list[Example], predictions: list[Prediction]) -> Figures:
    figures = Figures(len(examples), 0, 0, 0, 0, Counter(), Counter(), Counter(), [])
    for example, prediction in zip(examples, predictions, strict=False):
        right = prediction.label == example.label
        answered = prediction.label not in NOT_ANSWERED
        figures.per_label[example.label] += 1
        figures.correct += right
        figures.answered += answered
        figures.correct_answered += right and answered
        if right:
            figures.right_per_label[example.label] += 1
        else:
            figures.confusions[(example.label, prediction.label)] += 1
            figures.misses.append((example, prediction))
            if answered and prediction.confidence >= CONFIDENT:
                figures.confidently_wrong += 1
    return figures


def report(name: str, figures: Figures, show_misses: bool) -> str:
    f = figures
    lines = [
        f"== {name}: {f.total} messages",
        f"accuracy (intent + FAQ topic): {f.correct}/{f.total} = {f.accuracy:.1%}",
        f"confidently wrong (wrong with confidence >= {CONFIDENT}): "
        f"{f.confidently_wrong}/{f.total} = {f.confidently_wrong_rate:.1%}",
        f"answered: {f.answered}/{f.total} = {f.answered / max(f.total, 1):.1%};"
        f" accuracy of answered: {f.correct_answered}/{max(f.answered, 1)}"
        f" = {f.correct_answered / max(f.answered, 1):.1%};"
        f" sent to fallback or clarification: {f.total - f.answered}",
        "per label:",
    ]
    for label in sorted(f.per_label):
        right, n = f.right_per_label[label], f.per_label[label]
        lines.append(f"  {label:28s} {right:3d}/{n:<3d} {right / n:6.1%}")
    lines.append("most common confusions (expected -> predicted: count):")
    lines += [f"  {e} -> {g}: {n}" for (e, g), n in f.confusions.most_common(15)]
    if show_misses:
        lines += [
            f"  MISS {e.label} -> {p.label} ({p.confidence:.2f}): {e.text}" for e, p in f.misses
        ]
    return "\n".join(lines)


def far_from_training(examples: list[Example]) -> list[bool]:
    """Is each message further than NEAR_TRAINING from every training example?"""
    from rasa.shared.nlu.training_data.loading import load_data

    from clinic_core.sentence_encoder import shared_encoder

    trained = [m.get("text") for m in load_data(str(ROOT / "data" / "nlu")).intent_examples]
    encoder = shared_encoder()
    nearest = (encoder.encode([e.text for e in examples]) @ encoder.encode(trained).T).max(axis=1)
    return [bool(score < NEAR_TRAINING) for score in nearest]


def far_report(examples: list[Example], predictions: list[Prediction]) -> str:
    far = far_from_training(examples)
    kept = [(e, p) for e, p, f in zip(examples, predictions, far, strict=True) if f]
    figures = score([e for e, _ in kept], [p for _, p in kept])
    return (
        f"messages with no training example within cosine {NEAR_TRAINING}: "
        f"{figures.total}/{len(examples)}; accuracy on them {figures.correct}/{figures.total}"
        f" = {figures.accuracy:.1%}; confidently wrong {figures.confidently_wrong}"
    )


def main(argv: list[str] | None = None) -> int:
    args = evaluation_arguments(__doc__.split("\n")[0], argv)
    examples = load_set(f"nlu_{args.set}*.jsonl")
    predictions = predict(examples, args.model)
    figures = score(examples, predictions)
    print(report(f"NLU {args.set} set", figures, args.misses))
    print(far_report(examples, predictions))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
