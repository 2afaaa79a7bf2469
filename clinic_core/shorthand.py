"""Texting shorthand spelled out, so that the meaning classifier reads "appt pls" as words.

Why this exists: patients text ("need appt asap pls", "thx", "hw long"); the
pretrained sentence encoder saw few such spellings and places them far from
the meaning they carry. The meaning classifier (components/meaning_classifier.py)
spells out the common, unambiguous ones before the encoder reads a message,
in training and in use alike.

Only that reading changes: the stored message, what staff see, DIET's
features and the triage layers (rules and red-flag meanings, which were
measured on patients' own spellings) keep the patient's text. A word is
listed only when it has one reading in a patient's message to a clinic ("r"
can be "right", "cos" "cosmetic": not listed).
"""

from __future__ import annotations

import re

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
    "bc": "because",
    "bcos": "because",
    "bcoz": "because",
    "becoz": "because",
    "cuz": "because",
    "coz": "because",
    "wat": "what",
    "wot": "what",
    "wen": "when",
    "dr": "doctor",
    "msg": "message",
    "tmrw": "tomorrow",
    "tmrow": "tomorrow",
    "tmw": "tomorrow",
    "2moro": "tomorrow",
    "wk": "week",
    "wks": "weeks",
    "hrs": "hours",
    "idk": "i don't know",
    "rn": "right now",
    "b4": "before",
    "nxt": "next",
    "txt": "text",
    "smth": "something",
}

_WORD = re.compile(r"(?<![\w'])(" + "|".join(map(re.escape, SHORTHAND)) + r")(?![\w'])", re.I)


def spelled_out(text: str) -> str:
    """`text` with each listed shorthand word replaced by its words (case of the rest kept)."""
    return _WORD.sub(lambda m: SHORTHAND[m.group(1).lower()], text)
