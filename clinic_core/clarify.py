"""Ask instead of guessing: "Did you mean ...?" with the likely topics as buttons.

When the NLU is unsure (low confidence, or two FAQ topics almost equally
likely: components/fallback.py), the patient gets the two or three most
likely topics, in their own terms, plus "Something else". A button sends the
topic's plain question, which the assistant understands like any other
message (a test checks that each one is read as its topic); "Something else"
sends a no, answered with the rephrase hint and the offer of a person. The
buttons become numbered options on SMS like every other button.
"""

from __future__ import annotations

from typing import Any

# label -> (button title in the patient's terms, what the button sends)
TOPICS: dict[str, tuple[str, str]] = {
    "faq/what_is_botox": ("What Botox is", "What is Botox?"),
    "faq/how_it_works": ("How Botox works", "How does Botox work?"),
    "faq/treatment_areas": ("Which areas can be treated", "Which areas can Botox treat?"),
    "faq/side_effects": ("Possible side effects", "What are the side effects of Botox?"),
    "faq/side_effects_mild": (
        "Soreness, swelling or bruising",
        "Is it normal to get bruising or swelling after Botox?",
    ),
    "faq/side_effects_moderate": (
        "Headaches or drooping",
        "Can Botox cause headaches or facial drooping?",
    ),
    "faq/side_effects_duration": (
        "How long side effects last",
        "How long do Botox side effects last?",
    ),
    "faq/duration": ("How long results last", "How long do Botox results last?"),
    "faq/touch_ups": ("How often to have it again", "How often should I have Botox touch-ups?"),
    "faq/suitability": ("Whether Botox suits me", "Is Botox right for me?"),
    "faq/when_to_call": (
        "When to call the clinic",
        "When should I call the clinic after my treatment?",
    ),
    "book_appointment": ("Book an appointment", "/book_appointment"),
    "human_handoff": ("Talk to a person", "/human_handoff"),
}
SOMETHING_ELSE = {"title": "Something else", "payload": "/deny"}
MAX_CANDIDATES = 3
MIN_SCORE = 0.1  # a candidate the model gives less than this is no help


def candidates(parse_data: dict[str, Any]) -> list[str]:
    """The most likely labels the patient may have meant, best first (at most three)."""
    scores: dict[str, float] = {}
    faq_confidence = 0.0
    for entry in parse_data.get("intent_ranking") or []:
        name, confidence = entry.get("name"), float(entry.get("confidence") or 0.0)
        if name == "faq":
            faq_confidence = max(faq_confidence, confidence)
        elif name in TOPICS:
            scores[name] = max(scores.get(name, 0.0), confidence)
    selector = (parse_data.get("response_selector") or {}).get("faq") or {}
    for entry in selector.get("ranking") or []:
        topic = entry.get("intent_response_key")
        if topic in TOPICS:
            scores[topic] = faq_confidence * float(entry.get("confidence") or 0.0)
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    return [label for label, score in ranked[:MAX_CANDIDATES] if score >= MIN_SCORE]


def buttons(labels: list[str]) -> list[dict[str, str]]:
    return [{"title": TOPICS[label][0], "payload": TOPICS[label][1]} for label in labels] + [
        SOMETHING_ELSE
    ]
