"""A sign told, without its owner, after a question in the same sentence (twentieth session).

"how much does the treatment cost, it is hard to swallow" asks one thing and
may tell another: before, the question frame made the whole sentence a
question and the patient got an answer about prices. Now the screening
question comes first (clinic_core/triage_questions.py,
`_sign_told_after_question`). Five of the first six cases failed on the rules
before the change; the questions below them must stay questions. A
question put to the doctor or to "you" before the comma ("is the doctor
there, the arm is going weak") no longer makes the sign after it theirs
(clinic_core/triage.py, `_asked_of_them`); all four of those cases failed
before. The look-alikes from two safety reviews of first versions (each a
false alarm there) stay as they were.

A sign only the semantic layer finds, told the same way ("is the
dermatologist there, the swelling is spreading to the throat"), was
answered as the question until the twenty-first session: the same reading
now screens it (clinic_core/triage.py, `reads_as_own_current`). All four of
those cases, and the reviewer's eleven below them, failed before.
"""

from __future__ import annotations

import pytest

from clinic_core import screening
from tests.triage_cases import cases, outcome, readings

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
    "what do you charge for lips, 350 is hard to swallow",
    "how much is a top up, the total is hard to swallow",
    "whats the price for 3 areas, honestly its hard to swallow",
    "can you resend the consent form, the pdf is blurry",
    "could you send the map again, its blurry on my phone",
    "how do i pay, the qr code is blurry",
]


# Asked of the doctor or of "you" before the comma; the sign after it is not theirs.
ADDRESSEE_THEN_SIGN = [
    "is the doctor there, the arm is going weak",
    "do you have a number, breathing is getting harder",
    "can you tell the doctor, it feels like the throat is closing",
    "can i speak to the nurse, vision keeps going double",
]

GENERAL_YOU = [
    "do you get double vision, some people do",
    "do you get, like, double vision from it",
    "can you have, um, trouble swallowing after botox",
    "would you feel, say, weak arms if too much was used",
    "the doctor said, it can be hard to swallow for a week or so",
    "the nurse told me, blurry vision can happen but is rare",
    "i asked the doctor, trouble breathing is not a side effect of forehead botox",
    "is the nurse ill, voice sounded hoarse on the phone yesterday",
    "is the doctor there, the leaflet says breathing getting harder is a warning sign",
    "can you get swollen lips, a friend did",
    "will you have trouble swallowing, how long does it last",
    "the doctor said some people get double vision, is that true",
]


EMERGENCY_OR_SCREEN = ("screen", "emergency")


@pytest.mark.parametrize(
    ("text", "allowed"),
    readings(
        [
            (SCREENED, EMERGENCY_OR_SCREEN),
            (STILL_QUESTIONS, ("non_report",)),
            (ADDRESSEE_THEN_SIGN, ("emergency",)),
            (GENERAL_YOU, ("non_report",)),
        ]
    ),
)
def test_a_sign_after_a_question_reads_as(text: str, allowed: tuple[str, ...]) -> None:
    assert outcome(text) in allowed


# Signs the word rules have no words for, told after a question and a comma.
SEMANTIC_SIGN_AFTER_A_QUESTION = [
    "hello is the dermatologist there, the swelling is spreading to the throat",
    "do you take walk ins, the puffiness is moving into the throat",
    "what number do i ring, the puffiness is creeping towards the throat",
    "when do you open, the tightness is moving up into the throat",
    # from the review of the change (26 of its 72 emergencies the word rules miss
    # were newly screened; 7 of its 151 look-alikes were too, the safe side)
    "is the doctor in, my words are coming out all jumbled",
    "is the dr in, my breath is whistling",
    "whats the emergency number, i can hardly get air",
    "hey is the doc in, my arms are like noodles",
    "is the doctor free, my spit is pooling because it wont go down",
    "hi is the clinic open, my feet wont carry me",
    "could you answer, its like someone is sitting on my chest",
    "is anyone in the clinic, im hungry for air",
    # the same review: told with "isnt", "theres" or "sound", not in the verbs of state before
    "can i talk to someone, theres a shadow over half of what i see",
    "can i talk to the doc, i sound like a robot",
    "hi can i talk to someone, my mouth isnt making the right shapes for words",
]


@pytest.mark.parametrize("text", cases(SEMANTIC_SIGN_AFTER_A_QUESTION))
def test_a_sign_only_the_semantic_layer_finds_is_screened_after_a_question(text: str) -> None:
    reading = screening.read(text, "faq/side_effects")
    assert reading.outcome in EMERGENCY_OR_SCREEN
    assert reading.semantic_flag is not None
