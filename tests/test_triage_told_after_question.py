"""A sign told, without its owner, after a question in the same sentence (twentieth session).

"how much does the treatment cost, it is hard to swallow" asks one thing and
may tell another: before, the question frame made the whole sentence a
question and the patient got an answer about prices. Now the screening
question comes first (clinic_core/triage_questions.py,
`_sign_told_after_question`). Five of the first six cases failed on the rules
before the change; the questions below them must stay questions. A named
person treated today who "has slurred speech" or "has double vision" has the
sign now (clinic/triage-rules.yml, `other_state`), unless it has its own
cause or lasts. A question put to the doctor or to "you" before the comma
("is the doctor there, the arm is going weak") no longer makes the sign
after it theirs (clinic_core/triage.py, `_ADDRESSEE`); all four of those
cases failed before.
"""

from __future__ import annotations

import pytest

from tests.triage_cases import cases, outcome

SCREENED = [
    "how much does the treatment cost, it is hard to swallow",
    "where is the clinic, need to come in, throat closing and can barely swallow",
    "can you check my booking time, it is so hard to breathe",
    "whats the parking like, it feels hard to swallow",
    "how much does it cost, its hard to swallow",
    "hw do i get help, its hard 2 breath",
    # told with "my"/"I" it was already an emergency
    "what time do you open tomorrow, my throat is closing up",
    "how much is a top up, i cant swallow properly since this morning",
]

STILL_QUESTIONS = [
    "what are the side effects, is it hard to swallow after",
    "what are the risks, like trouble swallowing",
    "what does it mean, double vision",
    "can i book in, having double vision last time",
    "what to expect after a lip flip, lips swelling",
    "how long does it last, i heard it can make swallowing hard",
    "what are the chances, having trouble breathing",
    "how long does it last, people say swallowing is hard after",
    "how much is it, my friend said her throat was tight",
    "can it cause problems, like it is hard to swallow?",
    # false alarms a safety review found in a first version: things, idioms, to come, past
    "how much is it, honestly the price is a bit hard to swallow",
    "how much for 3 areas, that is hard to swallow tbh",
    "can i crush the tablets, they are hard to swallow",
    "can you resend the before and after pics, they are blurry",
    "how do i read the aftercare sheet, the print is blurry",
    "why is the page not loading, the server is choking",
    "how do i prepare, i am having a tooth out next week and it will be hard to swallow",
    "what went wrong last time, it went blurry for a week",
    "does it help with tmj, it is hard to swallow when my jaw locks",
]

NAMED_PERSON_HAS_THE_SIGN_NOW = [
    "my mum had botox, heard it can spread, she has slurred speech and weak arms",
    "my wife had botox today and she has double vision",
]

NAMED_PERSON_HAS_IT_FOR_ANOTHER_REASON = [
    "my mum has slurred speech since her stroke, can she have botox",
    "my dad has blurred vision from his diabetes, is botox ok for him",
]


@pytest.mark.parametrize("text", cases(NAMED_PERSON_HAS_THE_SIGN_NOW))
def test_a_treated_person_who_has_the_sign_is_an_emergency(text: str) -> None:
    assert outcome(text) == "emergency"


@pytest.mark.parametrize("text", cases(NAMED_PERSON_HAS_IT_FOR_ANOTHER_REASON))
def test_a_person_with_the_sign_from_another_cause_is_not_a_report(text: str) -> None:
    assert outcome(text) == "non_report"


@pytest.mark.parametrize("text", cases(SCREENED))
def test_a_sign_told_after_a_question_is_screened_first(text: str) -> None:
    assert outcome(text) in ("screen", "emergency")


@pytest.mark.parametrize("text", cases(STILL_QUESTIONS))
def test_a_sign_asked_about_after_a_question_stays_a_question(text: str) -> None:
    assert outcome(text) == "non_report"


# Asked of the doctor or of "you" before the comma; the sign after it is not theirs.
ADDRESSEE_THEN_SIGN = [
    "is the doctor there, the arm is going weak",
    "do you have a number, breathing is getting harder",
    "can you tell the doctor, it feels like the throat is closing",
    "can i speak to the nurse, vision keeps going double",
]

GENERAL_YOU = [
    "do you get double vision, some people do",
    "can you get swollen lips, a friend did",
    "will you have trouble swallowing, how long does it last",
    "the doctor said some people get double vision, is that true",
]


@pytest.mark.parametrize("text", cases(ADDRESSEE_THEN_SIGN))
def test_a_sign_after_a_question_put_to_the_doctor_or_you_is_the_patients(text: str) -> None:
    assert outcome(text) == "emergency"


@pytest.mark.parametrize("text", cases(GENERAL_YOU))
def test_you_in_general_or_the_doctors_words_stay_questions(text: str) -> None:
    assert outcome(text) == "non_report"
