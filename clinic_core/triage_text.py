"""Text preparation for the triage rules: one message made ready for matching.

Why a module of its own: the rules (clinic/triage-rules.yml) are written in
plain lower case without apostrophes or accents ("cant breathe", "respiracion"),
so every message is brought to that form first, keeping a map back to the
patient's characters so that what matched is quoted in their own words. This
module only prepares text; clinic_core/triage.py reads it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

# Longer messages are cut: nobody types a symptom report this long, and the
# bound keeps the worst case fast. Far above the 10,000 characters tested.
MAX_CHARS = 50_000

# Every apostrophe patients type; it joins letters into one word ("cant", "Dr’s").
APOSTROPHES = "'\u2019\u2018`\u00b4\u02bc\u2032"
_APOSTROPHES = frozenset(APOSTROPHES)
_DASHES = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2015_")
_SENTENCE_END = re.compile(r"[!?;:\n]+|\.(?!\d)")


@dataclass(frozen=True)
class Text:
    """The normalised message and a map back to the original characters."""

    original: str
    norm: str
    index: tuple[int, ...]  # norm position -> original position

    def phrase(self, start: int, end: int) -> str:
        """The patient's own words for norm[start:end]."""
        stop = self.index[end] if end < len(self.index) else len(self.original)
        return self.original[self.index[start] : stop].strip()


def as_text(text: Any) -> str:
    """Whatever the caller passes becomes a bounded string (never raises)."""
    if text is None:
        return ""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", errors="replace")
    elif not isinstance(text, str):
        text = str(text)
    return text[:MAX_CHARS]


def _normalise_char(ch: str) -> str | None:
    """One character of matching text (None: drop it, e.g. apostrophes)."""
    if ch in _APOSTROPHES:
        return None
    if ch in _DASHES or ch == "\u2026":
        return " "
    if ch in "\r\n\u2028\u2029\x0b\x0c\x85":
        return "\n"
    if not ch.isprintable():
        return " "
    low = ch.lower()
    if len(low) != 1:
        return ch
    # Accents dropped ("respiración" -> "respiracion", "año" -> "ano"): patients
    # often type without them, so patterns are written without them.
    if not low.isascii():
        base = unicodedata.normalize("NFD", low)[0]
        if base.isalpha() and base.isascii():
            return base
    return low


def normalise(text: str) -> Text:
    """Lower-case, drop apostrophes, squeeze 'sooo' to 'so', keep the index map."""
    chars: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        low = _normalise_char(ch)
        if low is not None:
            chars.append(low)
            index.append(i)
    out_chars: list[str] = []
    out_index: list[int] = []
    i = 0
    while i < len(chars):
        j = i
        while j + 1 < len(chars) and chars[j + 1] == chars[i]:
            j += 1
        if chars[i] == "." and j > i:  # "..." is a pause, not a sentence end
            out_chars.extend(" " * (j - i + 1))
            out_index.extend(index[i : j + 1])
        elif chars[i].isalpha() and j - i >= 2:  # "sooo" -> "so"
            out_chars.append(chars[i])
            out_index.append(index[i])
        else:
            out_chars.extend(chars[i : j + 1])
            out_index.extend(index[i : j + 1])
        i = j + 1
    return _fix_words(Text(text, "".join(out_chars), tuple(out_index)))


# Shorthand typed for a question word, spelled out so that every cue that reads
# questions ("how long...", "how soon...") knows it: "hw long will my lips be swollen".
_WORD_FIXES = {"hw": "how"}
_FIXED_WORD = re.compile(r"(?<!\w)(?:" + "|".join(_WORD_FIXES) + r")(?!\w)")


def _fix_words(text: Text) -> Text:
    """`text` with `_WORD_FIXES` applied; an added letter maps to its word's last character."""
    if not _FIXED_WORD.search(text.norm):
        return text
    chars: list[str] = []
    index: list[int] = []
    done = 0
    for match in _FIXED_WORD.finditer(text.norm):
        chars.append(text.norm[done : match.start()])
        index.extend(text.index[done : match.start()])
        fixed = _WORD_FIXES[match.group()]
        chars.append(fixed)
        last = text.index[match.end() - 1]
        index.extend(text.index[match.start() : match.end()][: len(fixed)])
        index.extend([last] * (len(fixed) - (match.end() - match.start())))
        done = match.end()
    chars.append(text.norm[done:])
    index.extend(text.index[done:])
    return Text(text.original, "".join(chars), tuple(index))


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    question_mark: bool


def sentences(norm: str) -> list[Sentence]:
    """Sentence spans; a sentence ending in '?' is flagged."""
    spans: list[Sentence] = []
    start = 0
    for match in _SENTENCE_END.finditer(norm):
        spans.append(Sentence(start, match.start(), "?" in match.group()))
        start = match.end()
    spans.append(Sentence(start, len(norm), False))
    return spans
