"""Follow-up questions answered in the context of the answer they follow.

After the side-effects answer, "how long do they last?" asks how long side
effects last, not how long results last; the classifier sees only the
message and answers the latter, which would tell a patient their side
effects could last half a year. Here a short message that refers back
("they", "that", "and the bruising?", "why does that happen?") is read
against the FAQ topic the assistant just answered, with a small table of
what such a question means after each kind of answer.
"""

from __future__ import annotations

import re
from typing import Any

SIDE_EFFECTS = {
    "faq/side_effects",
    "faq/side_effects_mild",
    "faq/side_effects_moderate",
    "faq/side_effects_duration",
    "faq/when_to_call",
}
MAX_WORDS = 14

_REFERS_BACK = re.compile(
    r"\b(they|them|that|this|it|its|those|these|one|ones|same)\b|^\s*(and|but|so|or|also|then|"
    r"what about|how about|why|where|how long|how often|how come|what if|is that|are they)\b",
    re.IGNORECASE,
)
# Naming the subject makes a question stand on its own: the classifier reads it.
_NAMES_ITS_SUBJECT = re.compile(
    r"\b(botox|botax|tox|results?|side ?effects?|treatment|injections?|procedure|wrinkles)\b",
    re.IGNORECASE,
)


# (question cue, topic after a side-effects answer, topic after any other answer); first match
# wins, so the more specific cues come first.
def _cue(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_CUES: list[tuple[re.Pattern[str], str, str]] = [
    (
        _cue(r"been around|how old|how new|history|invented"),
        "faq/what_is_botox",
        "faq/what_is_botox",
    ),
    (
        _cue(
            r"what if (it|they|that|this|mine)|longer than (that|this|usual)|(does ?n.?t|do ?n.?t|"
            r"won.?t|not) (go|going|gone) (away|down)|when (should|do|would) i (call|ring|worry|"
            r"contact)|what (should|do) i do|(call|ring|contact) (you|the clinic|someone)|"
            r"worr(y|ied)|serious|emergency"
        ),
        "faq/when_to_call",
        "faq/when_to_call",
    ),
    (
        _cue(
            r"pregnan|breast ?feed|nursing|for me\b|am i (a good|suitable|too|ok)|"
            r"(can|could|should) i (have|get|do) (it|this|that)|too (old|young)|my age|"
            r"medication|medicine|pills?\b|antibiotic|allerg|diabet|condition|illness|disease|"
            r"if i (have|take|am|m|use|suffer|had)"
        ),
        "faq/suitability",
        "faq/suitability",
    ),
    (
        _cue(r"\bsafe\b|risks?\b|go wrong|downsides?|dangers?"),
        "faq/side_effects",
        "faq/side_effects",
    ),
    (
        _cue(
            r"how often|again|repeat|top ?-?ups?|touch ?-?ups?|next (one|time|treatment|session)|"
            r"after that|how many times|regular"
        ),
        "faq/touch_ups",
        "faq/touch_ups",
    ),
    (
        _cue(
            r"\bwhere\b|which (areas|parts)|what (areas|parts|else)|other (areas|parts|places)|"
            r"(can|does|will) (it|that|you) (do|treat|work on|help with)|crow.?s? ?feet|"
            r"frown|forehead|jaw|neck|armpits?|under ?arms?|sweat"
        ),
        "faq/treatment_areas",
        "faq/treatment_areas",
    ),
    (
        _cue(
            r"how long|\blast(s|ing)?\b|wear(s|ing)? off|go(es)? away|fade|settle|stay(s)?\b|"
            r"disappear|clear(s)? up|stick around|how many (days|weeks)"
        ),
        "faq/side_effects_duration",
        "faq/duration",
    ),
    (
        _cue(r"bruis|swell|swollen|sore|redness|\bred\b|tender|bumps?"),
        "faq/side_effects_mild",
        "faq/side_effects_mild",
    ),
    (
        _cue(r"head ?aches?|droop|eyelid|brow"),
        "faq/side_effects_moderate",
        "faq/side_effects_moderate",
    ),
    (_cue(r"\bwhy\b|what causes|how come|reason"), "faq/side_effects_moderate", "faq/how_it_works"),
    (
        _cue(r"how does (it|that) work|how it works|what does (it|that) (\w+ )?do"),
        "faq/how_it_works",
        "faq/how_it_works",
    ),
]
SHORT = 8  # a message this short, not naming its subject, is read in context


def last_answered_topic(events: list[dict[str, Any]]) -> str | None:
    """The FAQ topic of the assistant's latest turn (None if that turn answered none)."""
    seen_bot = False
    for event in reversed(events):
        kind = event.get("event")
        if kind == "user":
            if seen_bot:
                return None
            continue
        if kind != "bot":
            continue
        seen_bot = True
        action = (event.get("metadata") or {}).get("utter_action") or ""
        if action.startswith("utter_faq/"):
            return "faq/" + action.removeprefix("utter_faq/")
    return None


def is_follow_up(text: str) -> bool:
    """Short (or refers back), and does not name its own subject."""
    words = text.split()
    refers_back = len(words) <= SHORT or bool(_REFERS_BACK.search(text))
    return 0 < len(words) <= MAX_WORDS and refers_back and not _NAMES_ITS_SUBJECT.search(text)


def resolve(previous_topic: str | None, text: str) -> str | None:
    """The topic a follow-up asks about after `previous_topic`, or None if not a follow-up."""
    if not previous_topic or not is_follow_up(text or ""):
        return None
    after_side_effects = previous_topic in SIDE_EFFECTS
    for cue, side_topic, other_topic in _CUES:
        if cue.search(text):
            return side_topic if after_side_effects else other_topic
    if re.search(r"\bnormal\b|common|expected|usual", text, re.IGNORECASE):
        if previous_topic in ("faq/side_effects_mild", "faq/side_effects_moderate"):
            return previous_topic
        return "faq/side_effects_mild" if after_side_effects else None
    return None
