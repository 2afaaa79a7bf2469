"""Texting shorthand spelled out, so that the meaning classifier reads "appt pls" as words.

Why this exists: patients text ("need appt asap pls", "thx", "hw long"); the
pretrained sentence encoder saw few such spellings and places them far from
the meaning they carry. The meaning classifier (components/meaning_classifier.py)
spells out the common, unambiguous ones before the encoder reads a message,
in training and in use alike.

Only that reading changes: the stored message, what staff see, DIET's
features and the triage layers (rules and red-flag meanings, which were
measured on patients' own spellings) keep the patient's text. A word is
listed only when what else it can mean in a patient's message to a clinic
reads the same to the classifier ("ur": your or you're). Not listed: "r"
(right), "cos" (cosmetic), "bc" (birth control), "cuz" (cousin), "rn"
(registered nurse), "msg" (an allergy); "u" after a number is units.
"""

from __future__ import annotations

import re

from clinic_core.triage_text import APOSTROPHES

SHORTHAND: dict[str, str] = {
    "u": "you",
    "ur": "your",
    "pls": "please",
    "plz": "please",
    "appt": "appointment",
    "appts": "appointments",
    "thx": "thanks",
    "tnx": "thanks",
    "thnx": "thanks",
    "thanx": "thanks",
    "thks": "thanks",
    "thnks": "thanks",
    "ty": "thank you",
    "hw": "how",
    "abt": "about",
    "ppl": "people",
    "bcos": "because",
    "bcoz": "because",
    "becoz": "because",
    "wat": "what",
    "wot": "what",
    "wen": "when",
    "dr": "doctor",
    "tmrw": "tomorrow",
    "tmrow": "tomorrow",
    "tmw": "tomorrow",
    "2moro": "tomorrow",
    "wk": "week",
    "wks": "weeks",
    "hrs": "hours",
    "idk": "i don't know",
    "b4": "before",
    "nxt": "next",
    "txt": "text",
    "smth": "something",
}

_WORD = re.compile(
    rf"(?<![\w{APOSTROPHES}])({'|'.join(map(re.escape, SHORTHAND))})(?![\w{APOSTROPHES}])",
    re.IGNORECASE,
)
# "20 u", "50u of botox": units after a number, not "you".
_AFTER_NUMBER = re.compile(r"\d\s*$")


def spelled_out(text: str) -> str:
    """`text` with each listed shorthand word replaced by its words (the rest kept as typed)."""

    def spell(match: re.Match[str]) -> str:
        typed = match.group(1)
        key = typed.lower()
        if key == "u" and _AFTER_NUMBER.search(text, 0, match.start()):
            return typed
        return SHORTHAND.get(key, typed)  # "İdk" lower-cases to no key: left as typed

    return _WORD.sub(spell, text)
