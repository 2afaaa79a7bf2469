"""Deterministic symptom triage for patient messages after a Botox treatment.

Why this exists: a patient who writes "my throat is closing up" must be told to
call the emergency number immediately, every time, whatever the NLU model
thinks of the message. So the decision is made here with plain regular
expressions over a vocabulary the clinic can read and review
(`clinic/triage-rules.yml`), never by a classifier. The Rasa code calls
`assess()` on every patient message.

How a message is decided:

1. The text is normalised (lower case, apostrophes removed, hyphens to
   spaces, "sooo" -> "so") keeping a map back to the original characters, so
   `Assessment.matched` quotes the patient's own words
   (clinic_core/triage_text.py).
2. Every rule pattern is matched. Each hit is then checked in its sentence:
   negated ("no trouble breathing")? resolved ("the swelling has gone down")?
   someone else's ("my sister's eyelid")? hypothetical ("what if I can't
   breathe")? past history ("a rash years ago")? a general question ("can
   botox cause trouble swallowing?")?
3. Any emergency hit that is not negated counts as a *mentioned* red flag,
   report or not, so the caller can add its emergency safety line.
4. Among the hits that are the patient's own current symptoms, the most
   serious level wins (emergency > urgent > unclear > expected); an expected
   or unclear symptom that is worsening or lasting becomes urgent.

When in doubt on a first-person report the rules lean to emergency: a false
alarm costs a phone call, a missed emergency can cost a life.

The clinic's file is loaded and checked by `clinic_core/triage_rules.py`
(every cue this reader uses is listed there in `CUE_NAMES`); this module
reads messages with it.
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import functools
import logging
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clinic_core.triage_questions import QuestionReading, run_on_starts
from clinic_core.triage_rules import (
    DEFAULT_RULES_PATH,
    LANGUAGE_REPLIES,
    SEVERITIES,
    Rule,
    RulesError,
    TriageRules,
    load_rules,
    parse_rules,
)
from clinic_core.triage_text import Sentence, Text, as_text, normalise, sentences

# The rules' names stay importable from here: callers read one module.
__all__ = [
    "DEFAULT_RULES_PATH",
    "INTERNAL_ERROR",
    "LANGUAGE_REPLIES",
    "SEVERITIES",
    "Assessment",
    "Rule",
    "RulesError",
    "TriageRules",
    "assess",
    "forget_recent",
    "load_rules",
    "normalise",
    "parse_rules",
    "reads_as_own_current",
    "reason",
    "replies",
]

log = logging.getLogger(__name__)


# Severity decision order: anything we cannot place outranks "expected", so a
# message is never reassured while part of it is unexplained.
DECISION_ORDER = ("emergency", "urgent", "unclear", "expected")


# A "not" inside these negates an ability, not the symptom: "I can't breathe".
_ABILITY_NEGATION = re.compile(
    r"\b(?:cant|cannot|can not|couldnt|unable|not able|been able|no longer able|barely|hardly)\b"
)
_WORD = re.compile(r"\w+")
_COMMA_NEXT = re.compile(r" *,")  # a comma right after a phrase
_TEMPORAL_OPENING = re.compile(
    r"(?:when|whenever|every time|each time|as soon as|if) (?:i|im|my)\b"
)
# "won't make the words", "can't see": in a description without a symptom
# word the inability IS the symptom. "don't have", "doesn't feel" still negate.
_INABILITY = re.compile(
    r"\b(?:wont|wouldnt|cant|cannot|couldnt|doesnt|didnt|dont|isnt|arent)\s+"
    r"(?!(?:have|has|had|get|got|feel|felt|notice|noticed|think|know|seem|seems)\b)\w+"
)
_OR = re.compile(r"\b(?:or|nor)\b")
# After a confirmation, what makes it a habit, a cause or a thing rather than the
# sign now ("i get it with migraines", "i have it written down", "is my worst nightmare").
_CONFIRMATION_NOT_NOW = re.compile(
    r"[^\w.!?;\n]*(?:\w+ ){0,2}?(?:with|when|whenever|from|sometimes|often|every|each|always|"
    r"anyway|written|booked|in my|on my|i worry|is my|a lot|before|in the past|"
    r"since (?:i was|birth|childhood))\b"
)


# ---------------------------------------------------------------------------
# Public result
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Assessment:
    is_report: bool  # the patient reports their own current symptom
    severity: str | None  # one of SEVERITIES when is_report, else None
    rule: str | None  # id of the rule that decided, None if none
    matched: tuple[str, ...]  # the exact words/phrases from the message that matched
    mentions_red_flag: bool  # an emergency sign is mentioned (not negated), report or not
    worsening: bool  # worsening / spreading / lasting-weeks cue present
    language: str = "en"  # the language whose rules read the message
    # The message asks something, and nothing ties the reported symptom to
    # the patient: no "I"/"my" anywhere (beyond "can I", "I was wondering"...),
    # no confirmation, no "now", "still", "since yesterday". The report then
    # rests on grammar alone ("bruising after the jabs. normal for most
    # people?"), and the classifier may read it as a question about side
    # effects (clinic_core/screening.py, step 4).
    only_asked: bool = False
    # An emergency sign named in a question about what to take or use for
    # it ("can I take an antihistamine, lips swelling"): it may be here now,
    # so the screening question is asked first (clinic_core/screening.py).
    asks_remedy: bool = False
    # An emergency sign standing bare after what the patient read or heard
    # ("heard about that, throat closing up"), or told in a clause of its own
    # after a supposition ("in case you need to know, im slurring my words"):
    # told, or passed on or supposed? The screening question asks
    # (clinic_core/screening.py).
    maybe_told: bool = False


# ---------------------------------------------------------------------------
# Hits and their context
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Hit:
    rule: Rule
    start: int
    end: int
    alone: bool = False  # a worsening cue that is a report by itself


@dataclass(frozen=True)
class _Verdict:
    """What the sentence around a hit says about it."""

    negated: bool
    current: bool  # not hypothetical, third-party or past history
    reported: bool  # current, and the patient's own report (not a general question)
    owned: bool = False  # "I"/"my" next to it, or the message confirms it is the patient's
    asks_remedy: bool = False  # not reported, but what to take for it is asked
    # not reported, but maybe told: a bare sign after what was read or heard ("heard
    # about that, throat closing up"), or told with "I"/"my" after a supposition
    maybe_told: bool = False


# Who a question before a comma is put to, not whose sign follows it ("do you have a
# number, breathing is getting harder"; "is the doctor there, the arm is going weak").
_ADDRESSEE = re.compile(r"\b(you|u|the (doctor|nurse|injector|dermatologist))$")
_STAFF_OWN_WORDS_OR_HEALTH = re.compile(
    r"\b(said|says|told|tells|mentioned|explained|thinks|reckons|ill|sick|unwell|poorly|off)\b"
)
# Asked before, not being asked now: "i asked the doctor, ..." tells what they answered;
# "could you ask the doctor, ..." asks them (a safety review found the second taken for theirs).
_ASKED_BEFORE = re.compile(r"\basked\s*$")
_SAID_IN_CLAUSE = re.compile(r"\b(says?|said|told|leaflet|website|article|according)\b")


class _Message(QuestionReading):
    """A normalised message with every cue located once, to judge each hit.

    All cue positions are computed up front so that judging a hit costs a
    few bisections, even for a 10,000-character message full of symptoms.
    Whether a sentence asks about a hit rather than reports it (and a
    carer's emergency happening now) is judged by `QuestionReading`
    (`clinic_core/triage_questions.py`); this class reads the sentences,
    negation, history and whose sign it is, and gives the verdict.
    """

    NEGATION_REACH = 150  # characters before a hit searched for its negation

    def __init__(self, text: Text, rules: TriageRules) -> None:
        self.norm = text.norm
        self.cues = rules.cues
        self.sentences = sentences(self.norm)
        self._sentence_starts = [s.start for s in self.sentences]
        self.scope_ends = self._ends("scope_end")
        self.clause_ends = sorted(self.scope_ends + self._ends("clause_start"))
        self.masked = self._mask_not_first_person()
        self.confirmations = list(self._finditer("confirms_own", self.masked))
        self.confirms_own = bool(self.confirmations)
        self.third_party_ends = self._ends("third_party")
        self.first_person = sorted(m.start() for m in self._finditer("first_person", self.masked))
        self.history = self._spans("history")
        self.not_hypothetical = self._spans("not_hypothetical")  # "not sure if", "wondering if"
        self.hypothetical_starts = sorted(
            start
            for start, _ in self._spans("hypothetical")
            if not self._inside(start, self.not_hypothetical)
        )
        self.word_starts = [m.start() for m in _WORD.finditer(self.masked)]
        # QuestionReading's cache of each sentence's question frames:
        self._questions: dict[int, tuple[bool, int | None, int | None]] = {}
        self._now_by_sentence: dict[int, bool] = {}
        self._someone_now_by_hit: dict[_Hit, bool] = {}
        self._own_clause_start_by_hit: dict[_Hit, int | None] = {}

    @functools.cached_property
    def _history_starts(self) -> list[int]:
        return [start for start, _ in self.history]

    def _sentence_says_now(self, sentence: Sentence) -> bool:
        if sentence.start not in self._now_by_sentence:
            found = self.cues["report"].search(self.masked, sentence.start, sentence.end)
            self._now_by_sentence[sentence.start] = found is not None
        return self._now_by_sentence[sentence.start]

    @functools.cached_property
    def says_now(self) -> bool:
        """Happening now: "now", "still", "since yesterday", "should I be worried"."""
        return bool(self.cues["report"].search(self.masked))

    @property
    def asks(self) -> bool:
        """Does any sentence ask something (mark, tag, question opening or frame),
        or does the message end on its interrogative ("... go away how fast")?"""
        return any(_asks_about(self, sentence) for sentence in self.sentences) or self._closes_with(
            "closing_interrogative", 0, len(self.norm)
        )

    # -- locating cues ------------------------------------------------------

    def _finditer(self, cue: str, text: str | None = None) -> Iterator[re.Match[str]]:
        return self.cues[cue].finditer(self.norm if text is None else text)

    def _spans(self, cue: str) -> list[tuple[int, int]]:
        return sorted(m.span() for m in self._finditer(cue))

    def _ends(self, cue: str) -> list[int]:
        return sorted(end for _, end in self._spans(cue))

    def _mask_not_first_person(self) -> str:
        """The text with "can I", "I was wondering", "my sister"... blanked out."""
        chars = list(self.norm)
        for cue in ("not_first_person", "third_party"):
            for start, end in self._spans(cue):
                chars[start:end] = " " * (end - start)
        return "".join(chars)

    def sentence(self, pos: int) -> Sentence:
        return self.sentences[bisect.bisect_right(self._sentence_starts, pos) - 1]

    @staticmethod
    def _last_before(positions: list[int], floor: int, pos: int) -> int:
        """The last position in [floor, pos], else floor."""
        i = bisect.bisect_right(positions, pos) - 1
        return max(floor, positions[i]) if i >= 0 else floor

    @staticmethod
    def _inside(pos: int, spans: list[tuple[int, int]]) -> bool:
        return any(start <= pos < end for start, end in spans)

    @staticmethod
    def _any_between(positions: list[int], low: int, high: int) -> bool:
        """Is there a position p with low <= p < high?"""
        i = bisect.bisect_left(positions, low)
        return i < len(positions) and positions[i] < high

    # -- negation ---------------------------------------------------------

    def negated(self, hit: _Hit, sentence: Sentence, inability_is_symptom: bool = False) -> bool:
        """'no trouble breathing', 'without any rash', 'the swelling has gone down'."""
        resolved = self.cues["negation_after"].match(self.norm, hit.end, sentence.end)
        if resolved and not self._asks_if_fine(resolved, sentence):
            return True
        own = self.norm[hit.start : hit.end]
        if self.cues["negation"].search(own) or _ABILITY_NEGATION.search(own):
            return False  # "can't breathe", "not getting better": the hit carries its own "not"
        floor = self._last_before(self.clause_ends, sentence.start, hit.start)
        floor = max(floor, hit.start - self.NEGATION_REACH)
        window = self.cues["pseudo_negation"].sub(" ", self._without_function_wrong(floor, hit))
        if inability_is_symptom:
            window = _INABILITY.sub(" ", window)
        if "," in window:  # "no fever, throat closing": the comma ends the negation...
            tail = window[window.rfind(",") + 1 :]
            if not _OR.search(tail):  # ...unless it is a list: "no rash, swelling or ..."
                window = tail
        last_words = " ".join(_WORD.findall(window)[-5:])
        negations = list(self.cues["negation"].finditer(last_words))
        if not negations:
            return False
        return not self.cues["negates_something_else"].search(last_words, negations[-1].end())

    def _without_function_wrong(self, floor: int, hit: _Hit) -> str:
        """The words before the hit, a body's function said to be wrong blanked out.

        "my breathing isnt right" is no negation of a sign, also where the
        phrase ends inside the hit (the semantic layer's probe sits on
        "right"): each such phrase that starts before the hit is blanked up
        to the hit, so its "isnt" is not read as negating it.
        """
        window = list(self.norm[floor : hit.start])
        for found in self.cues["function_wrong"].finditer(self.norm, floor, hit.end):
            if found.start() < hit.start:
                end = min(found.end(), hit.start)
                window[found.start() - floor : end - floor] = " " * (end - found.start())
        return "".join(window)

    def _asks_if_fine(self, resolved: re.Match[str], sentence: Sentence) -> bool:
        """'my throat is tight, is normal?' asks whether it is fine: it does not resolve it."""
        return (
            sentence.question_mark
            and not self.norm[resolved.end() : sentence.end].strip(" ,")
            and bool(self.cues["fine"].search(resolved.group()))
        )

    # -- whose symptom, and is it real ------------------------------------

    def _hypothetical_frame(self, hit: _Hit, sentence: Sentence) -> int | None:
        """Where the hypothetical frame over the symptom starts, if one does in its
        sentence with no "but ..." (`scope_end`) between it and the symptom."""
        i = bisect.bisect_left(self.hypothetical_starts, hit.start) - 1
        if i < 0 or self.hypothetical_starts[i] < sentence.start:
            return None
        cue_start = self.hypothetical_starts[i]
        if self._last_before(self.scope_ends, sentence.start, hit.start) > cue_start:
            return None
        return cue_start

    def _hypothetical(self, hit: _Hit, sentence: Sentence) -> bool:
        """A hypothetical frame starts before the symptom: "what if I can't breathe"."""
        cue_start = self._hypothetical_frame(hit, sentence)
        if cue_start is None:
            return False
        # A request or a question ("could i come in asap", "does botox make you
        # dizzy") is over where the patient starts telling without a comma
        # ("... asap im choking on my food", "... i blacked out earlier"); a
        # supposition ("what if", "in case") is not (`run_on_ends_frame`).
        if self.cues["run_on_ends_frame"].match(self.norm, cue_start):
            # ... and where a clause after a comma tells ("could i come in today,
            # my throat feels tight"), as it already did after "can i".
            if self._told_after_comma(cue_start, hit, sentence):
                return False
            run_on = self._run_on_clause_before(hit, sentence)
            return run_on is None or run_on <= cue_start
        # An eligibility question ("could i get botox") is over where a clause after
        # a comma tells when the sign began ("..., my face is drooping since this
        # morning"); told without a time, the sign is the patient's history.
        if self.cues["eligibility_frame"].match(self.norm, cue_start):
            return not (
                self._told_after_comma(cue_start, hit, sentence)
                and self._comma_clause_tells_since(cue_start, hit, sentence)
                and self._told_now_after(hit, sentence)
            )
        return True

    def _supposed_then_told(self, hit: _Hit, sentence: Sentence) -> bool:
        """'in case you need to know, im slurring my words': supposed, or told?

        After a supposition ("what if", "in case"), a clause after a comma
        tells the sign with "I"/"my" in it, as `_told_after_comma` reads a
        told clause ("you said to message in case of problems, i cant
        breathe properly"). It may still be supposed ("what if i get botox,
        my throat feels tight"), so it is not a report: the screening
        question asks (clinic_core/screening.py).
        """
        cue_start = self._hypothetical_frame(hit, sentence)
        if cue_start is None:
            return False
        if self.cues["run_on_ends_frame"].match(self.norm, cue_start) or self.cues[
            "eligibility_frame"
        ].match(self.norm, cue_start):
            return False  # requests and eligibility questions end where a clause tells
        comma = self._last_in(self._commas, cue_start + 1, hit.start - 1)
        return (
            comma is not None
            and self._any_between(self.first_person, comma, hit.end)
            and self._told_after_comma(cue_start, hit, sentence)
        )

    def _comma_clause_tells_since(self, frame_start: int, hit: _Hit, sentence: Sentence) -> bool:
        """The clause after the frame's last comma says when the sign began or that it is
        now (read up to the next comma: "..., can i book for today" is another clause)."""
        comma = self._last_in(self._commas, frame_start + 1, hit.start - 1)
        end = self._clause_end(hit, sentence)
        return comma is not None and bool(self.cues["told_since"].search(self.norm, comma, end))

    def _felt_now(self, comma: int, supposes: re.Match[str], hit: _Hit, sentence: Sentence) -> bool:
        """'..., i feel like my throat could close': the supposing word belongs to a
        feeling told now (`felt_as_if`) that runs straight into the sign (at most one
        word between), and nothing in the sentence makes it conditional, still to come
        or a fear (`told_not_now_after`, read from the sentence's start)."""
        for felt in self.cues["felt_as_if"].finditer(self.norm, comma, hit.end):
            if not felt.start() < supposes.start() < felt.end():
                continue
            runs_into_sign = len(self.norm[felt.end() : hit.start].split()) <= 1
            # anywhere in the sentence: "could i book in for next week, i feel like ..."
            to_come = self.cues["told_not_now_after"].search(
                self.norm, sentence.start, sentence.end
            )
            return runs_into_sign and to_come is None
        return False

    def _told_after_comma(self, frame_start: int, hit: _Hit, sentence: Sentence) -> bool:
        """The sign is told in a clause of its own after a comma that follows the frame:
        nothing in it up to the sign supposes or passes on hearsay (`comma_clause_not_told`:
        "could i die, my throat might close up"; "..., i heard my throat could swell"),
        and the sign's clause tells no past episode or condition with its own cause
        (`run_on_past`: "..., i have blurred vision from my diabetes")."""
        comma = self._last_in(self._commas, frame_start + 1, hit.start - 1)
        if comma is None:
            return False
        if self.cues["comma_clause_not_told"].search(self.norm, comma, hit.end):
            return False
        supposes = self.cues["comma_clause_supposes"].search(self.norm, comma, hit.end)
        if supposes and not self._felt_now(comma, supposes, hit, sentence):
            return False  # "could i die, my throat might close up"
        # The past is looked for up to where the sign's own clause ends ("my lips are
        # swelling like they did last time" is told now).
        _, clause_end = self._clause(hit, sentence)
        following = self.cues["clause_ends_before_past"].search(self.norm, hit.end, clause_end)
        if following is not None:
            clause_end = following.start()
        return not self.cues["run_on_past"].search(self.norm, comma, clause_end)

    def _third_party(self, hit: _Hit, sentence: Sentence) -> bool:
        """'my sister's eyelid is drooping' - unless "I"/"my" comes after the other person."""
        i = bisect.bisect_right(self.third_party_ends, hit.start) - 1
        if i < 0 or self.third_party_ends[i] <= sentence.start:
            return False
        other_end = self.third_party_ends[i]
        if self.cues["contrast"].search(self.norm, other_end, hit.start):
            return False  # "the nurse said it's normal but the lips are huge now"
        if hit.rule.level == "emergency" and self._someone_here_now(hit, sentence):
            return False  # "my daughter had botox and now she can't swallow"
        if self._bare_clause_after_request(other_end, hit, sentence):
            return False
        if self._asked_of_them(other_end, hit, sentence):
            return False  # "is the doctor there, the arm is going weak": asked of them, not theirs
        return not self._any_between(self.first_person, other_end, hit.start)

    def _asked_of_them(self, other_end: int, hit: _Hit, sentence: Sentence) -> bool:
        """'do you have a number, breathing is getting harder': "you" or the doctor is asked.

        The other person ends a request or question before a comma and the
        sign comes after it. Not when "you" is general ("do you get, like,
        double vision": only its verb before the comma), not the doctor's
        words or own health ("the doctor said, ...", "is the nurse ill,
        voice sounded hoarse"), and not what a leaflet or someone says
        after the comma (a safety review found these).
        """
        norm = self.norm
        named = _ADDRESSEE.search(norm, max(sentence.start, other_end - 24), other_end)
        if named is None:
            return False
        i = bisect.bisect_left(self._commas, other_end)
        if i == len(self._commas) or self._commas[i] >= hit.start:
            return False
        comma = self._commas[i]
        between = norm[other_end:comma]
        if named.group(1) in ("you", "u"):
            return len(between.split()) >= 2
        return not (
            _STAFF_OWN_WORDS_OR_HEALTH.search(between)
            or _ASKED_BEFORE.search(norm, max(sentence.start, named.start() - 8), named.start())
            or _SAID_IN_CLAUSE.search(norm, comma, hit.start)
        )

    def _clause(self, hit: _Hit, sentence: Sentence) -> tuple[int, int]:
        """The clause around a hit: from the last clause end before it to the next after it."""
        floor = self._last_before(self.clause_ends, sentence.start, hit.start)
        i = bisect.bisect_right(self.clause_ends, hit.end)
        ceiling = sentence.end
        if i < len(self.clause_ends):
            ceiling = min(self.clause_ends[i], ceiling)
        return floor, ceiling

    def _history(self, hit: _Hit, sentence: Sentence) -> bool:
        """'I had a rash years ago': past history in the same clause.

        A history phrase opening the sentence before a comma ("Years ago,
        my throat closed up") covers the clause after the comma too, unless
        the sentence says now or that clause is told in the present
        ("years ago, my throat feels tight"); `present_state` also holds
        "went" and "gone", so "years ago, my throat went tight" errs
        towards a report.
        """
        floor, ceiling = self._clause(hit, sentence)
        if any(start < ceiling and end > floor for start, end in self.history):
            return True
        norm = self.norm
        i = bisect.bisect_left(self._history_starts, sentence.start)
        if i == len(self.history) or self.history[i][0] >= min(floor, sentence.end):
            return False  # no history phrase before the sign's clause in this sentence
        start, end = self.history[i]
        if norm[sentence.start : start].strip(" ,"):
            return False  # ... none opens the sentence
        comma = _COMMA_NEXT.match(norm, end, sentence.end)
        if comma is None or self._any_between(self.clause_ends, comma.end(), floor):
            return False  # no comma after it, or the sign is not in the clause right after it
        return not (
            self._sentence_says_now(sentence)
            or self.cues["present_state"].search(norm, floor, ceiling)
        )

    def _owned(self, hit: _Hit, sentence: Sentence) -> bool:
        """'I' or 'my' right before or inside the symptom: "my lips are swelling"."""
        i = bisect.bisect_left(self.word_starts, hit.start)
        window_start = max(sentence.start, self.word_starts[max(0, i - 6)] if i else 0)
        if self._any_between(self.first_person, window_start, hit.end):
            return True
        last_two = self.word_starts[max(0, i - 2)] if i else hit.start
        before = self.norm[max(sentence.start, last_two) : hit.start]
        return bool(self.cues["this_symptom"].search(before))

    def _confirmed_after(self, hit: _Hit, sentence: Sentence) -> bool:
        """An emergency sign asked about, then confirmed as the patient's own after it:
        "can botox make u short of breath, bc i am rn", "does botox cause trouble
        swallowing? i have it right now". Only a question about what the treatment
        does (never a supposition: "what if", "in case"), confirmed in the same
        sentence or the next, and not as a habit or a cause ("i get it with migraines")."""
        if hit.rule.level != "emergency":
            return False
        frame = self._hypothetical_frame(hit, sentence)
        if frame is None or not self.cues["run_on_ends_frame"].match(self.norm, frame):
            return False
        i = bisect.bisect_right(self._sentence_starts, hit.start)
        limit = self.sentences[min(i, len(self.sentences) - 1)].end
        return any(
            hit.end <= m.start() < limit and not _CONFIRMATION_NOT_NOW.match(self.norm, m.end())
            for m in self.confirmations
        )

    def verdict(self, hit: _Hit) -> _Verdict:
        sentence = self.sentence(hit.start)
        hypothetical = self._hypothetical(hit, sentence) and not self._confirmed_after(
            hit, sentence
        )
        history = self._history(hit, sentence)
        third_party = self._third_party(hit, sentence)
        # The question's own future ("how long will I have...", "will my lips...")
        # is no hypothetical; any other frame before the sign still is, and a
        # past episode stays past.
        opening = None if third_party else self._asks_when_own_sign_ends(hit, sentence)
        ends = opening is not None and not self._hypothetical_outside(opening, hit, sentence)
        current = (ends and not history) or not (hypothetical or third_party or history)
        owned = current and (ends or self._owned(hit, sentence) or self.confirms_own)
        # A named person's emergency happening now is told, even in a sentence that
        # opened with a request ("can i have a call back, my mum just collapsed").
        someone_now = (
            current
            and not owned
            and hit.rule.level == "emergency"
            and self._someone_here_now(hit, sentence)
        )
        reported = (
            owned
            or someone_now
            or (
                current
                and (
                    not self._general_question(hit, sentence)
                    or (hit.rule.level == "emergency" and self._states_now(hit))
                )
            )
        )
        # A carer asking what to give is screened too ("can she take benadryl for swollen lips").
        asks_remedy = (
            not (reported or hypothetical or history)
            and hit.rule.level == "emergency"
            and self._asks_remedy_for(hit, sentence)
        )
        maybe_told = (
            not (reported or asks_remedy or history or third_party)
            and hit.rule.level == "emergency"
            and (
                (
                    current
                    and (
                        self._sign_apart_after_passed_on(hit, sentence)
                        or self._sign_told_after_question(hit, sentence)
                    )
                )
                or (hypothetical and self._supposed_then_told(hit, sentence))
            )
        )
        negated = self.negated(hit, sentence)
        return _Verdict(negated, current, reported, owned, asks_remedy, maybe_told)


def _find_hits(norm: str, rules: Iterable[Rule]) -> Iterator[_Hit]:
    for rule in rules:
        for pattern in rule.patterns:
            for match in pattern.finditer(norm):
                yield _Hit(rule, match.start(), match.end())
        for pattern in rule.alone:
            for match in pattern.finditer(norm):
                yield _Hit(rule, match.start(), match.end(), alone=True)


def _apply_overrides(hits: list[_Hit]) -> list[_Hit]:
    """A specific reading replaces a broad one where they overlap ('slight droop')."""
    specific = [h for h in hits if h.rule.overrides]
    return [
        hit
        for hit in hits
        if not any(
            hit.rule.id in other.rule.overrides and other.start < hit.end and hit.start < other.end
            for other in specific
        )
    ]


def _phrases(text: Text, hits: Iterable[_Hit]) -> tuple[str, ...]:
    """The patient's words for the hits, overlapping hits merged, in message order."""
    spans = sorted((h.start, h.end) for h in hits)
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    phrases = (text.phrase(start, end) for start, end in merged)
    return tuple(dict.fromkeys(p for p in phrases if p))


# ---------------------------------------------------------------------------
# The decision
# ---------------------------------------------------------------------------


def _decide(text: Text, rules: TriageRules) -> Assessment:
    message = _Message(text, rules)
    symptom_hits = list(_find_hits(text.norm, rules.symptoms))
    cue_hits = list(_find_hits(text.norm, rules.cue_rules))
    verdicts = {hit: message.verdict(hit) for hit in symptom_hits + cue_hits}

    red_flags = [h for h in symptom_hits if h.rule.level == "emergency" and not verdicts[h].negated]
    own = _apply_overrides([h for h in symptom_hits if _counts(verdicts[h])])
    escalating = [h for h in cue_hits if not verdicts[h].negated and verdicts[h].current]
    if not own:  # a lasting cue needs a symptom; "it's getting worse" does not
        escalating = [h for h in escalating if h.alone]
    worsening = bool(escalating)
    alone = [h for h in escalating if h.alone and verdicts[h].reported]
    asks_remedy = any(verdicts[h].asks_remedy for h in red_flags)
    maybe_told = any(verdicts[h].maybe_told for h in red_flags)
    if not own and not alone:
        if not red_flags:
            return Assessment(False, None, None, (), False, worsening)
        first = _first_rule(red_flags, rules)
        hits = [h for h in red_flags if h.rule.id == first]
        phrases = _phrases(text, hits)
        return Assessment(
            False,
            None,
            first,
            phrases,
            True,
            worsening,
            asks_remedy=asks_remedy,
            maybe_told=maybe_told,
        )

    only_asked = (  # cheapest checks first: `asks` reads every sentence
        not message.first_person
        and not any(verdicts[h].owned for h in own + alone)
        and not message.says_now
        and message.asks
    )
    for level in DECISION_ORDER:
        level_hits = [h for h in own if h.rule.level == level]
        if not level_hits:
            continue
        if worsening and level in ("expected", "unclear"):
            hits = level_hits + escalating
            return _report(
                text,
                "urgent",
                "worsening",
                hits,
                red_flags,
                worsening,
                only_asked,
                asks_remedy,
                maybe_told,
            )
        first = _first_rule(level_hits, rules)
        hits = [h for h in level_hits if h.rule.id == first]
        return _report(
            text, level, first, hits, red_flags, worsening, only_asked, asks_remedy, maybe_told
        )
    return _report(
        text,
        "urgent",
        "worsening",
        escalating,
        red_flags,
        worsening,
        only_asked,
        asks_remedy,
        maybe_told,
    )


def _counts(verdict: _Verdict) -> bool:
    return verdict.reported and not verdict.negated


def _first_rule(hits: list[_Hit], rules: TriageRules) -> str:
    """The deciding rule: the first in file order (the file order is the priority)."""
    present = {h.rule.id for h in hits}
    return next(rule_id for rule_id in rules.ids if rule_id in present)


def _report(
    text: Text,
    severity: str,
    rule: str,
    hits: list[_Hit],
    red_flags: list[_Hit],
    worsening: bool,
    only_asked: bool,
    asks_remedy: bool,
    maybe_told: bool = False,
) -> Assessment:
    phrases = _phrases(text, hits)
    return Assessment(
        True,
        severity,
        rule,
        phrases,
        bool(red_flags),
        worsening,
        only_asked=only_asked,
        asks_remedy=asks_remedy,
        maybe_told=maybe_told,
    )


def assess(
    text: str, rules_path: Path | None = None, languages: Iterable[str] | None = None
) -> Assessment:
    """Triage one patient message. Deterministic; never raises on any text.

    The main (English) rules read it first; when they find no report, the red
    flags of each other language in the file (all of them, or `languages`)
    are tried, and the first report found is returned with its language.

    Only a rules file that has never loaded raises (RulesError): that is a
    deployment error and must not silently switch triage off. Call
    `load_rules()` at startup to fail early.
    """
    rules = load_rules(rules_path)
    # The language sections actually read: the red-flag screen names the clinic's
    # emergency languages, the answer names none (all); the same sections, the same key.
    wanted = tuple(code for code in rules.languages if languages is None or code in languages)
    if not isinstance(text, str):
        return _assess_with(rules, text, wanted)
    key = (id(rules), text, wanted)
    with _recent_lock:
        known = _recent.get(key)
        if known is not None and known[0] is rules:
            return known[1]
    assessment = _assess_with(rules, text, wanted)
    if assessment.rule != INTERNAL_ERROR:  # a failure is never remembered
        with _recent_lock:
            _recent[key] = (rules, assessment)
            while len(_recent) > _RECENT_SIZE:
                _recent.popitem(last=False)
    return assessment


# One message is read by the NLU's red-flag screen and again by the answer (and a
# form's validation): the last few verdicts are kept.  An Assessment is immutable,
# and a changed rules file is a new `rules` object, so a kept verdict is never stale.
_RECENT_SIZE = 256
INTERNAL_ERROR = "internal_error"
_recent: collections.OrderedDict[tuple[Any, ...], tuple[TriageRules, Assessment]] = (
    collections.OrderedDict()
)
_recent_lock = threading.Lock()


def forget_recent() -> None:
    """Drop the kept verdicts (for tests that replace the triage's own functions)."""
    with _recent_lock:
        _recent.clear()


def _assess_with(rules: TriageRules, text: str, languages: Iterable[str] | None) -> Assessment:
    try:
        prepared = normalise(as_text(text))
        best = _decide(prepared, rules)
        for code, (language_rules, _replies) in rules.languages.items():
            if languages is not None and code not in languages:
                continue
            other = dataclasses.replace(_decide(prepared, language_rules), language=code)
            if _more_serious(other, best):  # "headache y no puedo respirar": the emergency
                best = other
        return best
    except Exception:  # pragma: no cover - a bug must not crash the conversation
        log.exception("triage failed; treating the message as an unclear report")
        return Assessment(True, "unclear", INTERNAL_ERROR, (), False, False)


def _more_serious(candidate: Assessment, current: Assessment) -> bool:
    def rank(a: Assessment) -> tuple[int, int]:
        level = len(DECISION_ORDER) - DECISION_ORDER.index(a.severity) if a.is_report else 0
        return (level, int(a.mentions_red_flag))

    return rank(candidate) > rank(current)


def replies(language: str, rules_path: Path | None = None) -> Mapping[str, str] | None:
    """The emergency replies of a language section (None for English: the domain's)."""
    section = load_rules(rules_path).languages.get(language)
    return section[1] if section else None


def reason(assessment: Assessment) -> str:
    """One line for the clinic: e.g. "emergency: breathing (matched: 'can't breathe')"."""
    matched = ", ".join(f"'{m}'" for m in assessment.matched)
    detail = f" (matched: {matched})" if matched else ""
    worse = " [worsening]" if assessment.worsening else ""
    if assessment.is_report:
        return f"{assessment.severity}: {assessment.rule or 'no rule'}{detail}{worse}"
    if assessment.mentions_red_flag:
        return f"not a report; red flag mentioned: {assessment.rule}{detail}"
    return "not a report"


def _asks_about(message: _Message, sentence: Sentence) -> bool:
    """Is the whole sentence a question (mark or tag, question opening or frame)?"""
    starts, strong, weak = message._question_frames(sentence)
    opening = message.norm[sentence.start : sentence.end].lstrip(" ,")
    starts = starts and not _TEMPORAL_OPENING.match(opening)  # "when I read, ..." tells
    return starts or strong is not None or (weak is not None) or message._asks(sentence)


def run_on_clause_starts(text: str) -> list[int]:
    """Where `text` starts a clause without a comma (`run_on_starts`: "can i book
    an appointment i went floppy", "... my lips are swelling"), as positions in
    `text` (the meaning layer cuts its pieces there too)."""
    prepared = normalise(as_text(text))
    if not prepared.norm.strip():
        return []
    starts = run_on_starts(prepared.norm, load_rules().cues)
    return [prepared.index[position] for position in starts]


def reads_as_own_current(text: str, start: int = 0, end: int | None = None) -> bool:
    """Would a symptom described in text[start:end] be the patient's own, current one?

    For a symptom the rules have no word for (the semantic layer found it, or
    the classifier read a report): the same negation, question, hypothetical,
    third-party and history cues are applied as to a rule's hit, placed on the
    last word of the span so every frame before it in the sentence is seen.
    """
    prepared = normalise(as_text(text))
    if not prepared.norm.strip():
        return False
    end = len(text) if end is None else end
    norm_end = bisect.bisect_left(prepared.index, end)
    words = [m for m in _WORD.finditer(prepared.norm, 0, max(norm_end, 1))]
    if not words:
        return False
    last = words[-1]
    probe = Rule("unplaced", "unclear", "a symptom the rules have no word for", ())
    message = _Message(prepared, load_rules())
    hit = _Hit(probe, last.start(), last.end())
    verdict = message.verdict(hit)
    if not verdict.current or message.negated(hit, message.sentence(hit.start), True):
        return False
    sentence = message.sentence(hit.start)
    opening = prepared.norm[sentence.start : sentence.end].lstrip(" ,")
    if _asks_about(message, sentence) and not _TEMPORAL_OPENING.match(opening):
        # A question ("do you get bumps where the needle goes in?") is asked,
        # not reported, unless the message says it is happening now ("...
        # started today") or tells it after the question and a comma ("is the
        # dermatologist there, the swelling is spreading to the throat"), as
        # a rule's red flag is (`_sign_told_after_question`).
        return message.says_now or message._sign_told_after_question(hit, sentence)
    if verdict.reported:
        return True
    # A description has no symptom word to anchor "I"/"my" to. A sentence that
    # opens with "when I ..." / "every time I ..." describes what happens to
    # the patient, not a question: "I" anywhere in it makes it theirs ("when
    # I read, the letters split in two").
    if not _TEMPORAL_OPENING.match(opening):
        return False
    norm_start = bisect.bisect_left(prepared.index, start)
    return message._any_between(message.first_person, norm_start, norm_end)
