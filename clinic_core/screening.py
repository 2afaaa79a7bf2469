"""The triage reading of one patient message: rules first, meaning second.

This is the single decision the dialogue acts on. The Rasa NLU pipeline
(components/red_flags.py) computes it for every message in every state and
stores it in the message's parse data under `triage`; the dialogue policy
(components/triage_policy.py) and the triage actions read it from there.

1. The deterministic rules (clinic_core/triage.py) read the message. An
   emergency they find is final. A question about what to take or use for
   an emergency sign ("can I take an antihistamine, lips swelling") is
   screened: the sign may be here now. So is a sign standing bare after
   what the patient read or heard ("heard about that, throat closing up"),
   or told with "I"/"my" after a comma that follows a supposition ("in case
   you need to know, im slurring my words").
2. The semantic layer (clinic_core/red_flag_semantic.py) looks for a sentence
   that means a red flag in words the rules do not know. If the patient
   describes it as their own current symptom, the screening question is
   asked at once, whatever the rules said.
3. A report the rules cannot place (rules "unclear", or the classifier reads
   a report the rules have no word for) is screened too: the screen is cheap
   for the patient and is never skipped for an unplaced report.
4. One case goes the other way, and only for a mild, expected effect: when
   the rules took a message for a report only because its sentence did not
   look like a question (no "I"/"my" in the message, no "now"/"still", no
   worsening, no red flag, and the message asks something) and the
   classifier is confident it is a question about side effects ("bruising
   after the jabs. does that happen to most people?"), it is answered as
   that question. The side-effects answer carries the same reassurance;
   anything urgent, any red flag and any semantic match is never overruled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clinic_core import red_flag_semantic, triage

REPORT_INTENT = "report_symptom"
# Severities of a reading: the rules' four levels; None = not a report.
SCREEN_FIRST = ("unclear",)
# How sure the classifier must be (intent x topic) that an unowned mild
# "report" is a question about side effects (step 4 above): clearly ahead of
# every other reading. Chosen on the dev sets: every real report in them has
# "I"/"my" or "now" in it, so step 4 never reaches one; 0.8 sent "redness after
# the needle, how much time it takes to disappear?" (0.68) to the triage.
MILD_QUESTION_CONFIDENCE = 0.6
# Only an answer about side effects carries the reassurance the triage would give.
SIDE_EFFECT_TOPICS = "faq/side_effects"
ASKED_SOURCE = "asked"  # Reading.source of step 4


@dataclass(frozen=True)
class Reading:
    """What the triage layers make of a message."""

    assessment: triage.Assessment  # the rules' reading (the first layer)
    severity: str | None  # emergency / urgent / expected / unclear; None: not a report
    screen: bool  # ask the emergency screening question before anything else
    source: str  # "rules", "semantic" or "classifier": what made it a report; "asked": step 4
    semantic_flag: str | None = None  # the red flag the meaning resembles
    semantic_score: float = 0.0
    semantic_phrase: str | None = None

    @property
    def is_report(self) -> bool:
        return self.severity is not None

    @property
    def is_emergency(self) -> bool:
        return self.severity == "emergency"

    @property
    def outcome(self) -> str:
        """One word for evaluation: emergency, screen, urgent, expected or non_report."""
        if self.is_emergency:
            return "emergency"
        if self.screen:
            return "screen"
        return self.severity or "non_report"

    def reason(self) -> str:
        """One line for the clinic (rule, words; semantic resemblance if any)."""
        base = triage.reason(self.assessment)
        if self.semantic_flag:
            base += f"; resembles red flag '{self.semantic_flag}' ('{self.semantic_phrase}')"
        elif self.source == "classifier":
            base = "unplaced report: the rules have no word for it"
        elif self.assessment.asks_remedy:
            base = f"asked what to take or use for a red flag, screened ({base})"
        elif self.assessment.maybe_told:
            base = f"a red flag after what was read, heard or supposed, screened ({base})"
        elif self.source == ASKED_SOURCE:
            base = f"asked as a question about Botox, not reported ({base})"
        return base

    def as_parse_data(self) -> dict[str, Any]:
        """The `triage` entry of the message's parse data (what Rasa stores)."""
        a = self.assessment
        return {
            "severity": self.severity,
            "screen": self.screen,
            "source": self.source,
            "rule": a.rule,
            "rules_severity": a.severity if a.is_report else None,
            "matched": list(a.matched),
            "mentions_red_flag": a.mentions_red_flag,
            "worsening": a.worsening,
            "language": a.language,
            "semantic_flag": self.semantic_flag,
            "semantic_score": round(self.semantic_score, 3),
            "reason": self.reason(),
        }


def read(
    text: str,
    classifier_intent: str | None = None,
    *,
    classifier_confidence: float = 0.0,
    semantic: bool = True,
    languages: tuple[str, ...] | None = None,
) -> Reading:
    """Decide a message. Never raises on any text (a rules file that never loaded excepted).

    `classifier_intent`: the label the classifier acts on (an intent, or
    `faq/<topic>` for an FAQ question), with `classifier_confidence`.
    `languages`: the other languages whose red flags are recognised (the
    clinic file's `emergency_languages`); None: every one the rules file has.
    """
    assessment = triage.assess(text, languages=languages)
    if assessment.is_report and assessment.severity == "emergency":
        return Reading(assessment, "emergency", False, "rules")
    if assessment.asks_remedy or assessment.maybe_told:
        return Reading(assessment, _severity_or_unclear(assessment), True, "rules")
    layer = red_flag_semantic.shared() if semantic else None
    match = layer.closest(text) if layer is not None and text else None
    if match is not None and triage.reads_as_own_current(text, match.start, match.end):
        return Reading(
            assessment,
            _severity_or_unclear(assessment),
            True,
            "rules" if assessment.is_report else "semantic",
            match.flag,
            match.score,
            match.phrase(text),
        )
    if _question_about_mild_effect(assessment, classifier_intent, classifier_confidence):
        return Reading(assessment, None, False, ASKED_SOURCE)
    if assessment.is_report:
        return Reading(
            assessment, assessment.severity, assessment.severity in SCREEN_FIRST, "rules"
        )
    if classifier_intent == REPORT_INTENT and triage.reads_as_own_current(text):
        return Reading(assessment, "unclear", True, "classifier")
    return Reading(assessment, None, False, "rules")


def _severity_or_unclear(assessment: triage.Assessment) -> str:
    """A screened message's severity: the rules' own, or "unclear" when they read no report."""
    return assessment.severity if assessment.is_report and assessment.severity else "unclear"


def _question_about_mild_effect(
    assessment: triage.Assessment, label: str | None, confidence: float
) -> bool:
    """Step 4: an unowned mild 'report' confidently read as a question about side effects."""
    return (
        assessment.is_report
        and assessment.severity == "expected"
        and assessment.only_asked
        and not assessment.worsening
        and not assessment.mentions_red_flag
        and bool(label)
        and str(label).startswith(SIDE_EFFECT_TOPICS)
        and confidence >= MILD_QUESTION_CONFIDENCE
    )


def from_parse_data(data: dict[str, Any] | None) -> dict[str, Any] | None:
    """The stored reading of a message, if the pipeline made one."""
    triage_data = (data or {}).get("triage")
    return triage_data if isinstance(triage_data, dict) else None
