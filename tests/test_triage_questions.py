"""An emergency sign inside the patient's own question (clinic_core/triage.py).

A question frame ("how long", "can I", "will my") usually makes a sign
something asked about. Two questions say the sign is already here: when it
will end ("how long will my double vision last?") and what to take for it
("can I take an antihistamine, lips swelling"). The first is the patient's
own emergency; the second may be, so the screening question comes first.
"""

from __future__ import annotations

import pytest

from clinic_core import screening
from clinic_core.triage import assess

# Asking when one's own sign will end: it is here now.
WHEN_IT_ENDS = [
    "how long will my double vision last?",
    "when will my swollen lips go down? they keep getting bigger",
    "will my throat tightness go away by itself",
    "how long till my slurred speech wears off, will my slurred speech get better",
    "will my puffy tongue settle down soon?",
    "should my blurry vision clear up on its own??",
]

# The same words about a sign that may come later stay questions.
WILL_IT_HAPPEN = [
    "will my lips swell after botox?",
    "how long will my lips be swollen after the treatment, if they swell",
    "will my face droop?",
    "will my eyes look different afterwards and how long will it last",
    "how long will my results last",
]

# Asking what to take or use for a sign named after the question.
REMEDY_ASKED = [
    "can I take an antihistamine, lips swelling",
    "what should i take for swollen lips after botox",
    "is it ok to use an inhaler for trouble breathing after the jabs?",
    "Can I take antihistamines for swollen lips after botox?",
]

# With a condition, or about the treatment itself, it stays a question.
REMEDY_IF = [
    "can i take antihistamines if my lips swell after botox?",
    "can i take antihistamines to prevent swelling of the lips",
    "is it safe to take antihistamines before botox in case my throat swells",
    "can i get botox with double vision",
    "can i take botox if i have trouble breathing sometimes",
    "¿puedo tomar antihistamínicos si se me hinchan los labios?",
]

# "everything"/"things" with a word that is not about the eyes is not vision.
NOT_VISION = [
    "I'm nervous about things going wrong, what are the risks?",
    "everything went wrong with my booking, can someone call",
    "things went wrong with my card payment",
]
VISION = ["everything is blurry since the botox", "things look fuzzy and doubled today"]


def _ids(texts: list[str]) -> list:
    return [pytest.param(t, id=f"{i:02d}") for i, t in enumerate(texts, 1)]


@pytest.mark.parametrize("text", _ids(WHEN_IT_ENDS + VISION))
def test_asking_when_ones_own_sign_ends_is_an_emergency(text: str) -> None:
    result = assess(text)
    assert result.is_report and result.severity == "emergency", result


@pytest.mark.parametrize("text", _ids(WILL_IT_HAPPEN + NOT_VISION))
def test_a_sign_that_may_come_later_is_not_a_report(text: str) -> None:
    assert not assess(text).is_report


@pytest.mark.parametrize("text", _ids(REMEDY_ASKED))
def test_asking_what_to_take_for_a_sign_gets_the_screening_question_first(text: str) -> None:
    reading = screening.read(text, "faq/side_effects", semantic=False)
    assert reading.outcome == "screen", reading
    assert reading.is_report  # the dialogue acts on it as a report: screened before any answer


@pytest.mark.parametrize("text", _ids(REMEDY_IF))
def test_what_to_take_if_it_ever_happens_is_a_question(text: str) -> None:
    reading = screening.read(text, "faq/side_effects", semantic=False)
    assert reading.outcome == "non_report", reading
    assert not assess(text).asks_remedy


@pytest.mark.parametrize(
    "text",
    [
        "can i take ibuprofen? my lips are swelling up",
        "is it ok to use my inhaler for trouble breathing after the jabs?",
        "¿puedo tomar un antihistamínico para los labios hinchados?",
    ],
)
def test_a_remedy_question_with_the_patients_own_sign_is_an_emergency(text: str) -> None:
    result = assess(text)
    assert result.is_report and result.severity == "emergency", result
