"""The second, meaning-based red-flag layer: is a sentence close to a red flag?

The deterministic rules (clinic_core/triage.py) stay the first layer and the only
one that raises an emergency by itself. This layer compares each sentence and
clause of a message with the clinic's curated descriptions of every red flag
(`clinic/red-flag-descriptions.yml`) using pretrained sentence embeddings
(clinic_core/sentence_encoder.py). A sentence that is closer to a red flag than a
threshold, and clearly closer to it than to any harmless description, is a
*possible* red flag: the patient is asked the screening question at once.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from clinic_core import triage
from clinic_core.sentence_encoder import SentenceEncoder, shared_encoder
from clinic_core.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

DEFAULT_PATH = PROJECT_ROOT / "clinic" / "red-flag-descriptions.yml"
MAX_CHUNKS = 24  # a long story is cut into at most this many pieces (bounded cost)
_SENTENCES = re.compile(r"[^.!?;\n]+")
_CLAUSE_BREAK = re.compile(r",|\b(?:and|but|so|then|plus|y|pero)\b", re.IGNORECASE)


@dataclass(frozen=True)
class SemanticMatch:
    """The piece of the message closest to a red flag."""

    flag: str  # the red flag it resembles (a key of `red_flags`)
    score: float  # cosine similarity to the closest description of that flag
    margin: float  # how much closer to the red flag than to any harmless description
    start: int  # the piece's position in the message
    end: int

    def phrase(self, text: str) -> str:
        return text[self.start : self.end].strip()


def _pieces(text: str) -> list[tuple[int, int]]:
    """Sentences, and the clauses of sentences with several, as (start, end) spans.

    Never the whole message across sentences: each piece is judged (report or
    question?) in its own sentence.  A clause run on without a comma ("can i
    book an appointment i went floppy this morning") is cut where the triage
    reader sees it start: within the whole sentence the booking words would
    make its meaning the harmless "I want to book an appointment".
    """
    run_ons = triage.run_on_clause_starts(text)
    spans: list[tuple[int, int]] = []
    run_on_spans: list[tuple[int, int]] = []
    for sentence in _SENTENCES.finditer(text):
        start, end = sentence.span()
        if not text[start:end].strip():
            continue
        spans.append((start, end))
        cuts = [start] + [m.end() for m in _CLAUSE_BREAK.finditer(text, start, end)] + [end]
        if len(cuts) > 2:
            for a, b in zip(cuts, cuts[1:], strict=False):
                if len(text[a:b].split()) >= 2:
                    spans.append((a, b))
        # A run-on clause on its own, never the question before it ("can i
        # swallow tablets" alone would read as a report of a swallowing problem).
        for cut in (p for p in run_ons if start < p < end):
            stop = min((c for c in cuts + run_ons if cut < c <= end), default=end)
            if len(text[cut:stop].split()) >= 2 and (cut, stop) not in spans:
                run_on_spans.append((cut, stop))
    # Within the cap, the sentences and their clauses come first.
    return (spans + run_on_spans)[:MAX_CHUNKS]


class RedFlagSemantics:
    """Nearest curated description for each piece of a message."""

    def __init__(self, path: Path | None = None, encoder: SentenceEncoder | None = None) -> None:
        raw: Any = yaml.safe_load((path or DEFAULT_PATH).read_text(encoding="utf-8"))
        self.threshold = float(raw["threshold"])
        self.margin = float(raw["margin"])
        self._encoder = encoder or shared_encoder()
        flags: list[str] = []
        descriptions: list[str] = []
        for flag, texts in raw["red_flags"].items():
            for text in texts:
                flags.append(flag)
                descriptions.append(str(text))
        self._flags = flags
        self._red = self._encoder.encode(descriptions)
        self._harmless = self._encoder.encode([str(t) for t in raw["not_red_flags"]])

    def closest(self, text: str) -> SemanticMatch | None:
        """The piece most like a red flag, if it passes the threshold and margin."""
        spans = _pieces(text or "")
        if not spans:
            return None
        vectors = self._encoder.encode([text[a:b] for a, b in spans])
        red = vectors @ self._red.T
        harmless = (vectors @ self._harmless.T).max(axis=1)
        best_red = red.argmax(axis=1)
        red_scores = red[np.arange(len(spans)), best_red]
        margins = red_scores - harmless
        passing = (red_scores >= self.threshold) & (margins >= self.margin)
        if not passing.any():
            return None
        i = int(np.argmax(np.where(passing, red_scores, -1.0)))
        start, end = spans[i]
        return SemanticMatch(
            self._flags[int(best_red[i])], float(red_scores[i]), float(margins[i]), start, end
        )


_lock = threading.Lock()
_loaded: list[RedFlagSemantics | None] = []  # empty until the first load was tried


def shared() -> RedFlagSemantics | None:
    """The process's semantic layer, or None when the model could not be loaded (logged once)."""
    with _lock:
        if not _loaded:
            try:
                _loaded.append(RedFlagSemantics())
            except Exception:  # noqa: BLE001 - the rules still screen every message
                log.exception("The semantic red-flag layer could not be loaded; rules only.")
                _loaded.append(None)
        return _loaded[0]
