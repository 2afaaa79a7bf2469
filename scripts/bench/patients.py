"""What the simulated patients say: our FAQ conversations and the starter bot's
own training examples.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

# The same kinds of messages as the end-to-end tests (tests/test_e2e_*.py).

FAQ_QUESTIONS = (
    "how long does botox last?",
    "what are the side effects of botox?",
    "how does botox work on wrinkles",
    "who should avoid botox?",
    "how much does botox cost?",
    "is it normal to bruise after botox injections?",
    "how often do i need to come back for touch ups",
    "what actually is botox?",
    "how long do botox side effects last?",
    "which parts of the body can botox be injected into",
)
OPENINGS = ("hi", "hello", "good morning")
BOOKING = (
    "I'd like to book an appointment",
    "Ana Diaz",
    "201 555 0123",
    "ana.diaz@example.com",
    "next tuesday afternoon",
    "forehead",
    "yes",
    "yes",
    "yes, send it",
)
EXPECTED_SYMPTOMS = (
    "I have a small bruise where I was injected yesterday",
    "i had botox on monday and now my forehead is a bit swollen",
)
UNUSUAL_SYMPTOM = (
    "the spot where i was injected is hot and red and there's pus coming out",
    "Ana Diaz",
    "201 555 0123",
    "last tuesday",
)
# Mostly questions, some bookings, some symptom reports: shares of conversations;
# of turns about 55 % FAQ, 33 % booking, 12 % triage (a booking is ten turns).
OUR_MIX = (("faq", 0.70), ("booking", 0.15), ("expected", 0.10), ("unusual", 0.05))

Conversation = Callable[[random.Random], list[str]]


def our_conversation(rng: random.Random) -> list[str]:
    """One patient conversation drawn from OUR_MIX."""
    kind = rng.choices([k for k, _ in OUR_MIX], weights=[w for _, w in OUR_MIX])[0]
    opening = [rng.choice(OPENINGS)]
    if kind == "booking":
        return opening + list(BOOKING)
    if kind == "expected":
        return opening + [rng.choice(EXPECTED_SYMPTOMS), "no thanks"]
    if kind == "unusual":
        return opening + list(UNUSUAL_SYMPTOM)
    questions = rng.sample(FAQ_QUESTIONS, 3)
    return questions if rng.random() < 0.5 else opening + questions


def faq_conversation(rng: random.Random) -> list[str]:
    """Questions only: every turn answered from the article (the FAQ-turn figure)."""
    return rng.sample(FAQ_QUESTIONS, 4)


def starter_messages(examples: dict[str, list[str]]) -> list[str]:
    """Every starter example, for its parse-only floor."""
    return [text for texts in examples.values() for text in texts]


def messages_of(texts: list[str] | tuple[str, ...]) -> Conversation:
    """Conversations of three messages drawn from `texts` (for /model/parse, order is moot)."""
    pool = list(texts)
    return lambda rng: [rng.choice(pool) for _ in range(3)]


def starter_examples(project: Path) -> dict[str, list[str]]:
    """The starter's NLU examples by intent, read from its data/nlu.yml."""
    import yaml

    data = yaml.safe_load((project / "data" / "nlu.yml").read_text(encoding="utf-8"))
    examples: dict[str, list[str]] = {}
    for block in data.get("nlu", []):
        if "intent" in block:
            lines = block.get("examples", "").splitlines()
            texts = [line.strip()[2:].strip() for line in lines if line.strip().startswith("- ")]
            examples[block["intent"]] = texts
    return examples


def starter_conversation(examples: dict[str, list[str]]) -> Conversation:
    """Conversations that follow the starter's stories: greet, mood, answer, bye."""

    def pick(rng: random.Random, intent: str) -> str:
        return rng.choice(examples[intent])

    def conversation(rng: random.Random) -> list[str]:
        mood = rng.choice(["mood_great", "mood_unhappy"])
        turns = [pick(rng, "greet"), pick(rng, mood)]
        if mood == "mood_unhappy":
            turns.append(pick(rng, rng.choice(["affirm", "deny"])))
        if rng.random() < 0.3:
            turns.append(pick(rng, "bot_challenge"))
        return turns + [pick(rng, "goodbye")]

    return conversation


def starter_cycle(examples: dict[str, list[str]]) -> list[str]:
    """One message per starter intent, for the long conversation."""
    order = ["greet", "mood_great", "mood_unhappy", "affirm", "bot_challenge", "deny"]
    return [examples[intent][0] for intent in order if examples.get(intent)]
