"""Whether a sentence asks about a sign rather than reports it: the question judgements.

Why a module of its own: these are the finest calls the triage makes on one
hit ("how long will my double vision last?" is the patient's own sign;
"can botox cause trouble swallowing?" is a general question; "can I take an
antihistamine, lips swelling" asks what to take for a sign that may be
here; "my husband's lips are swelling, what do we do?" is an emergency
happening now), and each needs its own cue positions. Kept apart, the
reader in `clinic_core/triage.py` stays short enough to review, and these
judgements can be read together.

`QuestionReading` is the base of the reader's `_Message`: it holds no state
of its own beyond the cue positions it caches, and reads the message's
prepared text and cue positions. This module imports nothing of the reader
at run time (only for type hints).
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clinic_core.triage import _Hit
    from clinic_core.triage_text import Sentence

_WORD = re.compile(r"\w+")  # the same words as the reader's
# A carer's sign led by a participle, up to three words on, none of them a word
# that makes the sign a topic: "my husband had botox, got his throat closing up",
# not "got a leaflet about trouble breathing".
_PARTICIPLE_LEAD = re.compile(
    r"((now|suddenly|also|and) )?(having|getting|got|feeling)"
    r"( (?!(about|of|for|over|re|on|with|regarding|saying|that|like|in)\b)\w+){0,3}"
)
# A sign someone has had since long ago ("since he was small"), not since the
# treatment ("since he was injected").
_SINCE_LONG_AGO = re.compile(
    r"\bsince (he|she|they|i) (was|were) (small|little|young|born|a (baby|kid|child|boy|girl|"
    r"teen\w*)|\d+)\b|\ball (his|her|their|my) life\b"
)
# "im" / "i am" ending the words that open a clause ("and im"): searched with an end
# position
_OPENING_IM = re.compile(r"\b(im|i am)\W*$")

# What a sign told after a question (`_sign_told_after_question`) has, and what it has not.
_TOLD_STATE = re.compile(
    r"\b(is|are|am|im|its|isnt|arent|theres|there (is|are)|feels?|sounds?|keeps?|getting|"
    r"gone|went|cant|cannot|can not|can barely|can hardly|wont|struggling|"
    r"having (trouble|difficulty|problems))\b"
)
_EXAMPLE_LEAD = re.compile(
    r"\s*(like|such as|eg|e g|including|especially|for (example|instance)|or)\b"
)
_FEARED = re.compile(r"\b(worried|worry|scared|afraid|nervous|concerned|fear\w*|anxious)\b")
_NOT_NOW_IN_CLAUSE = re.compile(
    r"\b(will|would|gonna|going to|might|may|could|when|whenever|every time|if)\b"
)
# Things, not the patient: "the price is hard to swallow", "resend the photo, it is blurry".
# Named in the question, some of them are also what "it" after the comma stands for
# ("can you resend the pdf, it is blurry"); others are not ("how much does the treatment
# cost, it is hard to swallow" may be told).
_THING_ASKED_WORDS = (
    r"prices?|fees?|bill|quote|photos?|pics?|pictures?|images?|scans?|forms?|page|"
    r"website|video|link|sheet|leaflet|document|file|pdf|map|qr|label|tablets?|pills?|"
    r"capsules?|mask"
)
_THING_ASKED = re.compile(rf"\b({_THING_ASKED_WORDS})\b")
_THING = re.compile(
    rf"\b({_THING_ASKED_WORDS}|deposit|news|policy|print|site|server|email|queue|card|"
    r"cost|costs|total|amount|charge|money|number|code)\b"
)
_AMOUNT = re.compile(r"\b\d+\b")
_FILLER = r"\s*((honestly|tbh|really|just|well|so|but|and|ok|okay|yeah|lol|haha)\s+)*"
_BACK_REFERENCE = re.compile(_FILLER + r"(it|its|they|theyre)\b")
_DEMONSTRATIVE = re.compile(_FILLER + r"(that|thats|this)\b")  # "..., that is hard to swallow"
_INTERROGATIVE = re.compile(
    r"(?:how|what|why|when|which|does|do|is|are|can|could|will|would|lasts? how)\b"
)


def run_on_starts(
    norm: str, cues: Mapping[str, re.Pattern[str]], word_starts: list[int] | None = None
) -> list[int]:
    """Where `norm` starts a clause without a comma: "I" (`run_on_lead`) right
    after a word that cannot lead into it (not in `run_on_not_after`), or "my"
    (her, his, he, she...) and a verb that tells (`run_on_my_clause`: "could
    i come in asap my lips are swelling", "... he cant breathe") after a word
    that cannot lead into "my" either (nor in `run_on_my_not_after`: "for
    my", "leave my"), or after "and"/"so"/"then" (`run_on_my_after`).

    A clause without its subject after a request starts one too
    (`_bare_clause_starts`: "could i come in please having trouble breathing").

    A function of the text and the cues alone, so that the meaning layer can
    find the clauses without the whole reading of the message."""
    words = word_starts if word_starts is not None else [m.start() for m in _WORD.finditer(norm)]
    return sorted(
        _subject_clause_starts(norm, cues, words) | set(_bare_clause_starts(norm, cues, words))
    )


def _subject_clause_starts(
    norm: str, cues: Mapping[str, re.Pattern[str]], words: list[int]
) -> set[int]:
    """The run-on clauses that open with their subject: "I", or "my" + noun + verb."""
    starts = set()
    # (the clause's opening, the words it cannot follow, the words it may follow anyway)
    for cue, not_after, after_anyway in (
        ("run_on_lead", ("run_on_not_after",), None),
        ("run_on_my_clause", ("run_on_not_after", "run_on_my_not_after"), "run_on_my_after"),
    ):
        for lead in cues[cue].finditer(norm):
            start = lead.start()
            i = bisect.bisect_left(words, start)
            if i == 0 or i >= len(words) or words[i] != start:
                continue
            previous = _WORD.match(norm, words[i - 1])
            if previous is None or norm[previous.end() : start].strip(" "):
                continue  # a comma, a full stop or another mark between: not a run-on
            word = previous.group()
            if (after_anyway and cues[after_anyway].fullmatch(word)) or not any(
                cues[name].fullmatch(word) for name in not_after
            ):
                starts.add(start)
    return starts


# How far back the words closing a request are looked for ("squeeze me in").
_BARE_AFTER_REACH = 30


def _bare_clause_starts(
    norm: str, cues: Mapping[str, re.Pattern[str]], words: list[int]
) -> Iterator[int]:
    """Where a clause told without its subject starts (`run_on_bare_lead`: "could i
    come in please having trouble breathing"): only right after the words that
    close a request (`run_on_bare_after`), since after any other word a bare
    "having" or "getting" is that word's object ("the chances of having"), or
    inside such a clause, which then ends there ("could i come in asap having a
    panic attack | cant breathe"), unless the word before takes the verb as its
    object (`run_on_bare_chain_not_after`: "a fear of having"); a comma or a
    full stop ends the chain."""
    lead = cues["run_on_bare_lead"]
    opened: int | None = None  # the last bare clause found, while no mark has closed it
    # Tried at every word, not only where the last match ended: in "someone now
    # having", "now having" cannot open a clause but "having" after "now" can.
    for i in range(1, len(words)):
        start = words[i]
        previous = _WORD.match(norm, words[i - 1])
        if previous is None or norm[previous.end() : start].strip(" "):
            # A comma or another mark: any chain ends, and the comma's own reading applies.
            opened = None
            continue
        if lead.match(norm, start) is None:
            continue
        reach = max(0, previous.end() - _BARE_AFTER_REACH)
        # After the words closing a request, or inside a bare clause already opened
        # ("... asap having a panic attack | cant breathe"): a chain of bare clauses.
        if cues["run_on_bare_after"].search(norm, reach, previous.end()) or (
            opened is not None
            and not cues["run_on_bare_chain_not_after"].fullmatch(previous.group())
        ):
            opened = start
            yield start


class QuestionReading:
    """The question judgements on one hit of a message, and the cue positions they use.

    Reads these attributes of the message (set by `_Message.__init__` in
    `clinic_core/triage.py`): `norm` (the normalised text), `cues` (the
    section's compiled cues), `masked` (the text with "can I", "my sister"...
    blanked out), `sentences` and `_sentence_starts`, `clause_ends`,
    `hypothetical_starts`, `not_hypothetical`, and the empty caches
    `_questions` and `_someone_now_by_hit`; and calls its `sentence()`, `_spans()`, `_ends()`,
    `_last_before()`, `_any_between()` and `_inside()`.
    """

    norm: str
    cues: Mapping[str, re.Pattern[str]]
    masked: str
    sentences: list[Sentence]
    _sentence_starts: list[int]
    clause_ends: list[int]
    hypothetical_starts: list[int]
    not_hypothetical: list[tuple[int, int]]
    _questions: dict[int, tuple[bool, int | None, int | None]]
    _someone_now_by_hit: dict[_Hit, bool]
    _own_clause_start_by_hit: dict[_Hit, int | None]

    if TYPE_CHECKING:  # defined by the message (`_Message`)

        def sentence(self, pos: int) -> Sentence: ...
        def _spans(self, cue: str) -> list[tuple[int, int]]: ...
        def _ends(self, cue: str) -> list[int]: ...
        @staticmethod
        def _last_before(positions: list[int], floor: int, pos: int) -> int: ...
        @staticmethod
        def _any_between(positions: list[int], low: int, high: int) -> bool: ...
        @staticmethod
        def _inside(pos: int, spans: list[tuple[int, int]]) -> bool: ...

    # -- positions of the question cues, found once per message -------------
    # (each hit's checks are then bisections: a long message full of signs
    # stays linear in its length)

    @functools.cached_property
    def _norm_word_starts(self) -> list[int]:
        return [m.start() for m in _WORD.finditer(self.norm)]

    @functools.cached_property
    def _commas(self) -> list[int]:
        return [i for i, ch in enumerate(self.norm) if ch == ","]

    @functools.cached_property
    def _run_on_starts(self) -> list[int]:
        """`run_on_starts`, from the two kinds of start found once each."""
        subject = _subject_clause_starts(self.norm, self.cues, self._norm_word_starts)
        return sorted(subject | self._bare_run_on_starts)

    @functools.cached_property
    def _bare_run_on_starts(self) -> frozenset[int]:
        return frozenset(_bare_clause_starts(self.norm, self.cues, self._norm_word_starts))

    def _run_on_clause_before(self, hit: _Hit, sentence: Sentence) -> int | None:
        """The start of the run-on clause the sign is told in ("... i blacked out",
        "... my lips are swelling", "... having trouble breathing"), when only the
        clause's own opening words stand between that start and the sign (an "I"
        lead, "my" + noun + verb, or a verb without its subject) and the clause
        tells no past episode (`run_on_past`); without its subject, nothing after
        the sign may make it general or lasting either (`_told_now_after`)."""
        start = self._last_in(self._run_on_starts, sentence.start + 1, hit.start)
        if start is None:
            return None
        if start in self._bare_run_on_starts:
            # "... i now cant breathe": the verb goes on a clause that has its subject
            start = self._subject_clause_reaching(start, sentence) or start
        lead = self.norm[start : hit.start].strip()
        if start in self._bare_run_on_starts:
            if lead and not (
                self.cues["run_on_bare_lead"].fullmatch(lead)
                or self.cues["run_on_bare_adverbs"].fullmatch(lead)
            ):
                return None
            if not self._told_now_after(hit, sentence):
                return None
        elif lead and not self.cues["run_on_lead"].fullmatch(lead):
            told_in_my_words = self.cues["run_on_my_clause"].match(self.norm, start)
            if told_in_my_words is None or hit.start > told_in_my_words.end() + 1:
                return None  # more than the clause's own opening words before the sign
        # The clause goes on to the next clause with a subject ("... i fainted today
        # getting my bloods done" tells a past episode).
        i = bisect.bisect_right(self._run_on_starts, hit.start)
        later = (p for p in self._run_on_starts[i:] if p not in self._bare_run_on_starts)
        end = next(later, sentence.end)
        if self.cues["run_on_past"].search(self.norm, start, min(end, sentence.end)):
            return None  # a past episode told ("... i passed out last time")
        return start

    def _subject_clause_reaching(self, bare_start: int, sentence: Sentence) -> int | None:
        """The start of an "I" or "my" clause whose own opening words run up to
        `bare_start` ("i now | cant breathe", "my husband now cant | swallow"), if any."""
        earlier = self._last_in(self._run_on_starts, sentence.start + 1, bare_start - 1)
        if earlier is None or earlier in self._bare_run_on_starts:
            return None
        if self.cues["run_on_lead"].fullmatch(self.norm[earlier:bare_start].strip()):
            return earlier
        told_in_my_words = self.cues["run_on_my_clause"].match(self.norm, earlier)
        if told_in_my_words is not None and told_in_my_words.end() >= bare_start - 1:
            return earlier
        return None

    def _clause_end(self, hit: _Hit, sentence: Sentence) -> int:
        """Where the sign's clause ends, for what follows it: the next comma or the sentence end."""
        i = bisect.bisect_left(self._commas, hit.end)
        return min(self._commas[i], sentence.end) if i < len(self._commas) else sentence.end

    def _told_now_after(self, hit: _Hit, sentence: Sentence) -> bool:
        """Nothing after the sign in its clause makes it general, lasting, conditional
        or still to come (`told_not_now_after`: "... can happen", "... through my nose")."""
        end = self._clause_end(hit, sentence)
        return not self.cues["told_not_now_after"].search(self.norm, hit.end, end)

    @functools.cached_property
    def _end_openings(self) -> list[tuple[int, int]]:
        return sorted(self._spans("ends_opening"))

    @functools.cached_property
    def _duration_openings(self) -> list[tuple[int, int]]:
        return sorted(self._spans("duration_opening"))

    @functools.cached_property
    def _when_openings(self) -> list[tuple[int, int]]:
        return sorted(self._spans("when_opening"))

    @functools.cached_property
    def _duration_still_to_come(self) -> bool:
        """The message says the treatment is still to come, or asks generally
        ("worst case", "before i book", "vs filler"): "how long / when" asks no ending."""
        return bool(self.cues["duration_not_now"].search(self.norm))

    def _inside_when_opening(self, position: int) -> bool:
        return any(start <= position < end for start, end in self._when_openings)

    @functools.cached_property
    def _sign_still_to_come(self) -> bool:
        return bool(self.cues["sign_ends_not_now"].search(self.norm))

    @functools.cached_property
    def _remedy_ends(self) -> list[int]:
        return self._ends("asks_remedy")

    @functools.cached_property
    def _condition_starts(self) -> list[int]:
        """Starts of remedy conditions, "not sure if" and "if it gets worse" left out."""
        return [
            start
            for start, _ in self._spans("remedy_condition")
            if not self._inside(start, self.not_hypothetical)
        ]

    @functools.cached_property
    def _asked_about_ends(self) -> list[int]:
        return self._ends("sign_asked_about")

    @functools.cached_property
    def _passed_on_ends(self) -> list[int]:
        return self._ends("passed_on")

    @functools.cached_property
    def _said_generally_starts(self) -> list[int]:
        return sorted(start for start, _ in self._spans("sign_said_generally"))

    @staticmethod
    def _last_in(positions: list[int], low: int, high: int) -> int | None:
        """The last position p with low <= p <= high, if any."""
        i = bisect.bisect_right(positions, high) - 1
        return positions[i] if i >= 0 and positions[i] >= low else None

    # -- a carer's emergency, happening now --------------------------------

    def _someone_here_now(self, hit: _Hit, sentence: Sentence) -> bool:
        """`_someone_now` for the hit, judged once per message (whose sign it is,
        and whether it is told, both ask)."""
        known = self._someone_now_by_hit.get(hit)
        if known is None:
            known = self._someone_now_by_hit[hit] = self._someone_now(hit, sentence)
        return known

    def _bare_clause_after_request(self, other_end: int, hit: _Hit, sentence: Sentence) -> bool:
        """A clause without its subject, run on after the request that named someone,
        is told by the writer: of themselves when the request named "someone" or "you"
        ("can i talk to someone now having trouble breathing"), of the person they are
        with when it named them ("can i bring my son in asap struggling to swallow"),
        unless what is said of that person is past, a habit, a condition with its own
        cause or a question about treating them (the carers' cues). Never of people
        in general ("can clients book in today having ...")."""
        run_on = self._run_on_clause_before(hit, sentence)
        if run_on is None or run_on < other_end or run_on not in self._bare_run_on_starts:
            return False
        if self.cues["people_in_general"].search(self.norm, sentence.start, run_on):
            return False
        if not self._starts_in("named_other", sentence.start, run_on, sentence.end):
            return True
        end = self._clause_end(hit, sentence)
        return not (
            self.cues["other_past"].search(self.norm, run_on, end)
            or self.cues["other_habit"].search(self.norm, run_on, end)
            or self.cues["cause_of_its_own"].search(self.norm, run_on, end)
            or self.cues["other_eligibility"].search(self.norm, sentence.start, end)
        )

    def _someone_now(self, hit: _Hit, sentence: Sentence) -> bool:
        """A named person's emergency sign happening now: the writer is with them.

        Whoever writes, the advice is the same (call emergency services), so
        a carer's "my husband's lips are swelling, what do we do?" is read
        like the patient's own. Someone general ("people", "you"), a question,
        worry or future ("will she have trouble breathing now?"), the past
        ("... for a week last month, now she wants it again"), a habit or a
        lasting condition ("can't swallow pills") and a question whether
        they can be treated stay theirs. The cues are read in the sign's
        clause (between commas), so a "now" or a "last month" elsewhere in
        the sentence does not decide it; a clause that is the sign alone,
        after the person is named ("my wife had botox today, swollen lips"),
        describes it now.
        """
        cues, norm = self.cues, self.norm
        comma_before = self._last_in(self._commas, sentence.start, hit.start - 1)
        low = sentence.start if comma_before is None else comma_before + 1
        high = self._clause_end(hit, sentence)
        own_clause = max(low, self._last_before(self.clause_ends, sentence.start, hit.start))
        i = bisect.bisect_right(self._sentence_starts, hit.start) - 1
        before = self.sentences[max(i - 1, 0)].start  # "Help. My wife ..."
        after = self.sentences[min(i + 1, len(self.sentences) - 1)].end  # "... Help!"
        if not self._starts_in("named_other", sentence.start, hit.start, sentence.end):
            return False
        if (
            self._starts_in("other_not_now", low, hit.start, high)
            or self._starts_in("other_past", own_clause, high, high)
            or self._starts_in("other_habit", own_clause, high, high)
            or cues["cause_of_its_own"].search(norm, own_clause, high)  # "since his concussion"
            or cues["other_eligibility"].search(norm, sentence.start, after)
        ):
            return False
        if self._starts_in("other_now", low, high, high):
            return True
        if self._starts_in("other_state", low, high, high) and cues["other_treated"].search(
            norm, sentence.start, sentence.end
        ):
            return True  # "my wife had botox, she has trouble breathing"
        lead = norm[low : hit.start].strip()
        if (
            low > sentence.start
            and (
                not lead
                or (
                    _PARTICIPLE_LEAD.fullmatch(lead)
                    and self._nothing_after_makes_it_lasting(hit, sentence)
                )
            )
            and not cues["other_episode"].search(norm, sentence.start, sentence.end)
            and not cues["question_strong"].search(norm, hit.end, sentence.end)
            and not cues["question_weak"].search(norm, hit.end, sentence.end)
        ):
            # the clause is the sign alone: "had botox today, swollen lips", or
            # led by a participle: "my husband had botox, having trouble breathing"
            # (his or the writer's: an emergency either way)
            return True
        return bool(cues["other_needs_help"].search(norm, before, after))

    def _nothing_after_makes_it_lasting(self, hit: _Hit, sentence: Sentence) -> bool:
        """Nothing after the sign makes it a habit, a lasting condition or general
        ("..., having trouble breathing when he climbs stairs, always has"; a
        safety review found these read past the sign's own clause)."""
        norm, cues, end = self.norm, self.cues, sentence.end
        return not (
            cues["other_habit"].search(norm, hit.start, end)
            or cues["cause_of_its_own"].search(norm, hit.start, end)
            or cues["run_on_past"].search(norm, hit.start, end)
            or _SINCE_LONG_AGO.search(norm, hit.start, end)
            or self._said_generally_after(hit, sentence)
        )

    def _starts_in(self, cue: str, low: int, high: int, limit: int) -> bool:
        """Does a whole match of `cue` within [low, limit) start before `high`?

        Matching up to `limit` rather than `high` keeps words whole: a word
        cut at `high` ("now" in "nowadays") is not a match, and a pattern that
        looks ahead past `high` ("el" before "no puede") still sees it.
        """
        match = self.cues[cue].search(self.norm, low, limit)
        return match is not None and match.start() < high

    # -- asked, or told ----------------------------------------------------

    def _states_now(self, hit: _Hit) -> bool:
        """An emergency sign described as a present state: "swallowing is hard", "feels tight".

        A general question names the sign ("is trouble swallowing a side
        effect?", "can it make it hard to breathe?"); a present-tense state
        inside a question ("is it normal that swallowing is hard") is the
        patient's own, asked about.
        """
        if self.cues["hearsay"].search(self.norm, self.sentence(hit.start).start, hit.start):
            return False  # "I heard that swallowing is hard after...", "what does it mean when"
        return bool(self.cues["present_state"].search(self.norm, hit.start, hit.end))

    def _asks(self, sentence: Sentence) -> bool:
        """A question mark, or a spoken question tag ("... is that a thing")."""
        return sentence.question_mark or self._closes_with(
            "question_tag", sentence.start, sentence.end
        )

    def _closes_with(self, cue: str, start: int, end: int) -> bool:
        """Does norm[start:end] end on `cue` (trailing spaces, "!" and "." aside)?"""
        text = self.norm[start:end].rstrip(" \t!.")
        found = self.cues[cue].search(text)
        return found is not None and found.end() >= len(text) - 1

    def _question_frames(self, sentence: Sentence) -> tuple[bool, int | None, int | None]:
        """(starts like a question, first strong frame, first weak frame) - cached."""
        if sentence.start not in self._questions:
            norm, start, end = self.norm, sentence.start, sentence.end
            strong = self.cues["question_strong"].search(norm, start, end)
            weak = self.cues["question_weak"].search(norm, start, end)
            report = self.cues["report"].search(self.masked, start, end) or self.cues[
                "asks_what_to_do"
            ].search(norm, start, end)
            self._questions[start] = (
                bool(self.cues["question_start"].match(norm, start, end)) and not report,
                strong.start() if strong and not report else None,
                weak.start() if weak and self._asks(sentence) and not report else None,
            )
        return self._questions[sentence.start]

    def _general_question(self, hit: _Hit, sentence: Sentence) -> bool:
        """'can botox cause trouble swallowing?', 'is it normal to bruise?'.

        For an emergency sign a frame counts only before it: in "lips
        swelling, is it normal?" the patient reports first and asks after.
        Any other symptom named in a sentence with a question frame is asked
        about ("swelling after botox, how long does it stay"); "my" or "I"
        next to it still makes it the patient's own (checked by the caller).
        A present-tense cue ("since yesterday", "now") makes it a report.
        """
        starts, strong, weak = self._question_frames(sentence)
        if starts or (strong is not None and strong < hit.start):
            return not (hit.rule.level == "emergency" and self._sign_stands_apart(hit, sentence))
        if (
            strong is not None
            and hit.rule.level != "emergency"
            and _INTERROGATIVE.match(self.norm, strong)
        ):
            return True
        if weak is None:
            return False
        return weak < hit.start or hit.rule.level != "emergency"

    def _sign_stands_apart(self, hit: _Hit, sentence: Sentence) -> bool:
        """'tell me what to do, cant breathe properly': the sign is its own clause.

        A frame asks about what follows it in its clause ("want to know
        what to do"); a sign standing bare after a comma, with nothing
        general about it ("can happen", "a side effect", "normal") and no
        question mark, is told. "what are the risks, like throat swelling?"
        and "I read online, throat closing is a side effect" stay questions.
        Without the comma, a clause the patient starts with "I" after
        the question ("does botox make you dizzy i blacked out earlier")
        stands apart the same way. With a question mark only a clause
        without its subject run on after a request does: the mark closes
        the request ("can i book in asap having trouble breathing?").
        """
        boundary = self._own_clause_start(hit, sentence)
        return boundary is not None and not (
            self._any_between(self._asked_about_ends, sentence.start + 1, boundary)
            or self._said_generally_after(hit, sentence)
        )

    def _sign_apart_after_passed_on(self, hit: _Hit, sentence: Sentence) -> bool:
        """'heard about that, throat closing up': told, or what was heard? Screen it.

        The sign stands bare in its own clause, as in `_sign_stands_apart`,
        nothing after it says it generally, but before it the patient passes
        on what they read or heard ("read about this on tiktok, tongue
        swelling"). Either may be meant, and only one of them is an
        emergency: the screening question asks (clinic_core/screening.py).
        """
        boundary = self._own_clause_start(hit, sentence)
        return (
            boundary is not None
            and self._any_between(self._passed_on_ends, sentence.start + 1, boundary)
            and not self._said_generally_after(hit, sentence)
        )

    def _sign_told_after_question(self, hit: _Hit, sentence: Sentence) -> bool:
        """'how much does it cost, it is hard to swallow': told after the question? Screen it.

        The sentence asks something and has no question mark; after a comma
        the sign's own clause says how it is with a verb of state or
        inability ("it is hard to swallow", "throat closing and can barely
        swallow"). The patient may be telling what is happening while asking
        something else, or may still be asking: the screening question
        decides (clinic_core/screening.py). Stays a question: a sign named
        bare ("what does it mean, double vision"), given as an example
        ("..., like trouble swallowing"), heard, feared, past, to come or
        habitual ("..., having double vision last time", "it will be hard
        to swallow", "when my jaw locks"), asked about in its own clause,
        said of people generally, a sentence asking its chances, and a thing
        rather than the patient ("the price is hard to swallow", "can you
        resend the photo, it is blurry"; a safety review found these).
        """
        if sentence.question_mark:
            return False
        comma = self._last_in(self._commas, sentence.start, hit.start - 1)
        if comma is None:
            return False
        norm, cues = self.norm, self.cues
        lead = norm[comma + 1 : hit.start]
        lead_start = comma + 1 + len(lead) - len(lead.lstrip())
        # The sign's own clause; a clause start that only takes the comma's first
        # word ("..., its hard to swallow") leaves the verb in it.
        first_word = _WORD.match(norm, lead_start)
        clause_start = self._last_before(self.clause_ends, sentence.start, hit.start)
        if first_word is not None and clause_start <= first_word.end():
            clause_start = comma + 1
        own = max(comma + 1, clause_start)
        clause_end = max(self._clause_end(hit, sentence), hit.end)
        about_a_thing = (
            _THING.search(norm, comma + 1, clause_end)
            or _AMOUNT.search(lead)  # "350 is hard to swallow" (not "hard 2 breath")
            or _DEMONSTRATIVE.match(lead)
            or (_BACK_REFERENCE.match(lead) and _THING_ASKED.search(norm, sentence.start, comma))
        )
        # A clause opened by "and im" keeps that verb: "..., the world is
        # spinning and im on the floor" ("and its" does not: "..., im free
        # and its easier"; a safety review found these).
        opener = _OPENING_IM.search(norm, comma + 1, own) if own > comma + 1 else None
        told_from = opener.start() if opener else own
        return bool(
            _TOLD_STATE.search(norm, told_from, hit.end)
            and not (
                about_a_thing
                or _EXAMPLE_LEAD.match(lead)
                or _FEARED.search(lead)
                or _NOT_NOW_IN_CLAUSE.search(norm, own, clause_end)
                or cues["passed_on"].search(norm, comma + 1, hit.start)
                or cues["chance_asked"].search(norm, sentence.start, comma)
                or cues["question_start"].match(norm, lead_start, hit.end)
                or cues["question_strong"].search(norm, comma + 1, hit.start)
                or cues["run_on_past"].search(norm, sentence.start, clause_end)
                or self._said_generally_after(hit, sentence)
            )
        )

    def _said_generally_after(self, hit: _Hit, sentence: Sentence) -> bool:
        return self._any_between(self._said_generally_starts, hit.end, sentence.end)

    def _own_clause_start(self, hit: _Hit, sentence: Sentence) -> int | None:
        """Where the sign's own clause starts, if it stands apart from the question
        (asked for twice of an unreported red flag: kept per hit)."""
        if hit not in self._own_clause_start_by_hit:
            self._own_clause_start_by_hit[hit] = self._find_own_clause_start(hit, sentence)
        return self._own_clause_start_by_hit[hit]

    def _find_own_clause_start(self, hit: _Hit, sentence: Sentence) -> int | None:
        boundary = None
        if sentence.question_mark:
            boundary = self._run_on_clause_before(hit, sentence)
            if boundary is None or boundary not in self._bare_run_on_starts:
                return None
        comma = self._last_in(self._commas, sentence.start, hit.start - 1)
        if boundary is None and comma is not None:
            lead = self.norm[comma + 1 : hit.start].strip()
            if (
                not lead
                or self.cues["sign_lead"].fullmatch(lead)
                or self._verb_leads_told_sign(lead, comma, hit, sentence)
            ):
                boundary = comma + 1
        if boundary is None:
            boundary = self._run_on_clause_before(hit, sentence)
        return boundary

    def _verb_leads_told_sign(self, lead: str, comma: int, hit: _Hit, sentence: Sentence) -> bool:
        """'can i pop in, got double vision': a subjectless verb (`sign_lead_verb`) leads
        the sign, no question about its chances comes before the comma, and nothing in
        its clause makes it general, lasting or past."""
        return (
            bool(self.cues["sign_lead_verb"].fullmatch(lead))
            and not self.cues["chance_asked"].search(self.norm, sentence.start, comma)
            and self._told_now_after(hit, sentence)
            and not self.cues["run_on_past"].search(
                self.norm, comma, self._clause_end(hit, sentence)
            )
        )

    def _asks_remedy_for(self, hit: _Hit, sentence: Sentence) -> bool:
        """'can I take an antihistamine, lips swelling': what to take for a sign that may be here.

        Nobody asks what to take for swelling lips nobody has; asked before
        a treatment the sign comes with a condition ("if my lips swell", "to
        prevent swelling", "... in case I react next week"), which keeps it
        a question. The last remedy named before the sign is the one asked.
        """
        remedy_end = self._last_in(self._remedy_ends, sentence.start + 1, hit.start)
        if remedy_end is None:
            return False
        return not self._any_between(self._condition_starts, remedy_end, sentence.end)

    def _asks_when_own_sign_ends(self, hit: _Hit, sentence: Sentence) -> tuple[int, int] | None:
        """'how long will my double vision last?': only a sign one has can end (any level).

        At most three words before the sign, either "how long (how much
        longer) will my / will I / do I have" asks for the ending itself ("how
        long will my lips be swollen", "how long will i have double vision"),
        or "will my" ("can/could/should my"), "when / how soon will my", "when
        will I stop" opens the question and an ending ("last", "go down",
        "stop") comes between its start and the sign ("will my lips stop
        swelling") or follows the sign within three words (not after "and
        then", "that"...). Watching for, worrying about, getting or the risk
        of the sign between the opening and the sign ("how long should i
        watch for double vision") is no ending asked; nor is a treatment or the
        sign still to come anywhere in the message ("... after a lip flip",
        "if I react"); the "how long / when" openings also give way to a
        message that asks generally or plans ("worst case", "before I book",
        "vs filler": `duration_not_now`). Returns the opening's span, or None.
        """
        if self._sign_still_to_come:
            return None
        words = self._norm_word_starts
        sign_word = bisect.bisect_left(words, hit.start)

        def opening_before_sign(openings: list[tuple[int, int]]) -> tuple[int, int] | None:
            """The last opening that ends before the sign, in its sentence, at most
            three words from it, with nothing between saying the sign is only watched for."""
            i = bisect.bisect_right(openings, (hit.start, hit.start)) - 1
            while i >= 0 and openings[i][1] > hit.start:
                i -= 1
            if i < 0 or openings[i][0] < sentence.start:
                return None
            start, end = openings[i]
            if sign_word - bisect.bisect_left(words, end) > 3:
                return None
            if self.cues["duration_not_sign"].search(self.norm, end, hit.start):
                return None
            return start, end

        later = self._duration_still_to_come
        duration = None if later else opening_before_sign(self._duration_openings)
        if duration is not None:
            return duration
        ending_follows = self.cues["sign_ends"].match(self.norm, hit.end, sentence.end) is not None
        for openings in ((() if later else self._when_openings), self._end_openings):
            opening = opening_before_sign(openings)
            if opening is None or (later and self._inside_when_opening(opening[0])):
                continue
            # From the opening's start: "when will i stop" holds its own ending.
            ending = self.cues["ending_before_sign"].search(self.norm, opening[0], hit.end)
            if ending_follows or ending is not None:
                return opening
        return None

    def _hypothetical_outside(
        self, opening: tuple[int, int], hit: _Hit, sentence: Sentence
    ) -> bool:
        """A hypothetical frame opens in the sentence before the sign, other than the
        question's own "will I / will my" inside the opening."""
        low = bisect.bisect_left(self.hypothetical_starts, sentence.start)
        high = bisect.bisect_left(self.hypothetical_starts, hit.start)
        return any(
            not opening[0] <= start < opening[1] for start in self.hypothetical_starts[low:high]
        )
