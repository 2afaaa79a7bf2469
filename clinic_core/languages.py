"""Which language a patient writes in, and what to tell them if it is not English.

Reads clinic/languages.yml (greetings and thanks in many languages, the
candidate languages, the replies) and detects a message's language with
py3langid's pretrained model (offline, in the package). Used by the NLU
pipeline (components/language_guard.py) and by action_other_language.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from clinic_core.settings import PROJECT_ROOT

DEFAULT_PATH = PROJECT_ROOT / "clinic" / "languages.yml"
ENGLISH = "en"
NEUTRAL_WORDS = frozenset({"botox"})
_APOSTROPHES = re.compile("['\u2019\u02bc`]")


def fold(text: str) -> str:
    """Lower case, accents and punctuation dropped, spaces squeezed."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.findall(r"\w+", plain))


@dataclass(frozen=True)
class LanguageFile:
    detect: tuple[str, ...]
    min_confidence: float
    min_words: int
    greetings: re.Pattern[str]
    thanks: re.Pattern[str]
    english_words: frozenset[str]
    replies: dict[str, str]

    def mostly_english(self, text: str) -> bool:
        """More than half the words are everyday English ones (numbers and 'botox' not counted).

        The detector judges character sequences and is easily fooled on a few
        words; a message of common English words is English. Apostrophes are
        dropped first, so "can't" is the word "cant", not "can" and "t".
        """
        folded = fold(_APOSTROPHES.sub("", text))
        words = [w for w in folded.split() if not w.isdigit() and w not in NEUTRAL_WORDS]
        known = sum(w in self.english_words for w in words)
        return bool(words) and 2 * known > len(words)


def _alternatives(raw: Any) -> re.Pattern[str]:
    words = "".join(str(raw).split("\n"))
    options = [fold(o) or o.strip() for o in words.split("|") if o.strip()]
    return re.compile("(?:" + "|".join(re.escape(o) for o in options) + ")")


@lru_cache(maxsize=4)
def load(path: Path = DEFAULT_PATH) -> LanguageFile:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    replies = {str(k): " ".join(str(v).split()) for k, v in (raw.get("replies") or {}).items()}
    if "default" not in replies:
        raise ValueError(f"{path}: replies need a `default`")
    return LanguageFile(
        detect=tuple(raw["detect"]),
        min_confidence=float(raw["min_confidence"]),
        min_words=int(raw["min_words"]),
        greetings=_alternatives(raw["greetings"]),
        thanks=_alternatives(raw["thanks"]),
        english_words=frozenset(fold(w) for w in str(raw["english_words"]).split("|") if w.strip()),
        replies=replies,
    )


_detector_lock = threading.Lock()


@lru_cache(maxsize=1)
def _detector(languages: tuple[str, ...]) -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_pickled_model(MODEL_FILE, norm_probs=True)
    identifier.set_languages([ENGLISH, *languages])
    return identifier


@dataclass(frozen=True)
class Reading:
    language: str  # ISO code; "en" when unsure
    confidence: float
    greeting: bool
    thanks: bool


def read(text: str, languages: LanguageFile | None = None) -> Reading:
    """The message's language (English unless clearly another); is it a greeting or thanks?"""
    languages = languages or load()
    folded = fold(text or "")
    greeting = bool(folded) and bool(languages.greetings.fullmatch(folded))
    thanks = bool(folded) and bool(languages.thanks.fullmatch(folded))
    if len(folded.split()) < languages.min_words or languages.mostly_english(text or ""):
        return Reading(ENGLISH, 1.0, greeting, thanks)
    with _detector_lock:
        code, confidence = _detector(languages.detect).classify(text)
    if code != ENGLISH and confidence >= languages.min_confidence:
        return Reading(str(code), float(confidence), greeting, thanks)
    return Reading(ENGLISH, float(confidence), greeting, thanks)


def reply_for(language: str, staff_languages: tuple[str, ...] | None) -> str:
    """The reply template for a patient writing in `language`."""
    replies = load().replies
    if language in (staff_languages or ()) and language in replies:
        return replies[language]
    return replies["default"]
