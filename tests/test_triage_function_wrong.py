"""Signs told as a function gone wrong, and signs told after a request to staff.

A reviewer's probes found emergencies with no reply (twenty-second session):
"my breathing isnt right" and "my eyes are not lining up" read as negations,
half a face that no longer moves, bleeding "... and it wont stop", a windpipe
that feels pinched, a sign told after "could you ask the doctor," or "can
someone from the clinic call," taken for the doctor's or someone else's,
"my husband had botox, having trouble breathing" (his or the writer's: an
emergency either way), and "... and im on the floor" after a question. Every report below but
"my eyes wont focus" (kept beside its neighbours) failed on the code before
the change; the look-alikes must not move (the change's safety reviews
found most of them).
"""

from __future__ import annotations

import pytest

from clinic_core import screening
from tests.triage_cases import cases, outcome

EMERGENCY = [
    "my eyes wont focus",
    "my windpipe feels pinched",
    "feels like something is squeezing my windpipe",
    "could you ask the doctor, throat is closing up",
    "can you ask the nurse, tongue is swelling fast",
    "can someone from the clinic call, throat is closing up",
    "can i ask the doctor, throat is closing up",
    # a carer's or the writer's: an emergency either way
    "my husband had botox, having trouble breathing",
    "my husband had botox, having trouble breathing since he was injected",
    "my wife had botox this morning, can someone from the clinic call, having trouble swallowing",
    "my partner had botox this morning, got her tongue swelling up",
    "my dad had botox, having a croaky voice",
]

SCREENED = [
    "my breathing isnt right",
    "my breathing is not right since the jab this morning",
    "my breath doesnt feel normal",
    "my vision isnt right",
    "my eyesight isnt normal since the injections",
    "my eyes are not lining up",
    "my speech isnt normal",
    "my talking doesnt sound right since lunch",
    "my breathin is not rite after the jabs",
    "hola, my breathing no is right since yesterday",
    "i cant move one side of my face",
    "i cant move the left side of my mouth",
    "my face isnt right",
    "my face isnt moving on one side",
    "the lower half of my face isnt moving",
    "half my face wont move",
    "the left side of my face has stopped moving",
    "can you help, my face isnt moving on one side",
]

URGENT = [
    "theres blood coming from the injection site and it wont stop",
    "blood coming from the injection site and its not stopping",
    "my forehead wont stop bleeding",
    "the bleeding just keeps going and going",
    "my forehead is bleeding where you injected and it just wont stop",
]

# Only the semantic layer knows these signs: the screening question is asked.
SEMANTIC_SCREENED = [
    "is the nurse there, the world is spinning and im on the floor",
    "can someone from the clinic call, arms feel like lead",
    "could you ask the doctor, breathing is getting worse",
]

NOT_REPORTED = [
    "i asked the doctor, trouble breathing is not a side effect of forehead botox",
    "i asked the nurse, throat closing is rare",
    "can someone from the clinic call me back",
    "the top half of my face isnt moving at all, is that normal",
    "my face wont move half as much as before, love the botox",
    "will half my face stop moving after botox?",
    "there was a bit of blood but it didnt stop me going to the gym",
    "my blood pressure is high but it wont stop me having botox will it",
    "i gave blood last week and it didnt stop me booking",
    "the doctor said my airway is narrow, does that matter for botox",
    "is it true my vision might not be normal after botox?",
    "what if my breathing isnt right after the treatment",
    "my husband had botox, having a bit of bruising",
    "my dad had botox, having trouble breathing when he climbs stairs, always has",
    "my son has tonsils, having trouble swallowing since he was small",
    "my sister had botox, getting worried about trouble swallowing",
    "my wife had botox, got a leaflet about trouble breathing",
    "my wife had botox, got a leaflet on trouble breathing",
    "i have so much blood work to do before my appointment",
]

# Things, not the patient, and an easier day, not a sign (the first review).
NOT_SCREENED = [
    "the payment page isnt right, it charged me twice",
    "nothing wrong with my speech, the microphone isnt working",
    "my zoom isnt focusing",
    "sorry if my words arent right, english is not my first language",
    "can i book for friday, im free and its easier",
    "can you send the address, im lost and its dark",
]


@pytest.mark.parametrize("text", cases(EMERGENCY))
def test_a_sign_told_to_staff_or_by_a_carer_or_in_airway_words_is_an_emergency(text: str) -> None:
    assert outcome(text) == "emergency"


@pytest.mark.parametrize("text", cases(SCREENED))
def test_a_function_not_right_or_half_a_face_not_moving_gets_the_screening_question(
    text: str,
) -> None:
    assert outcome(text) == "screen"


@pytest.mark.parametrize("text", cases(URGENT))
def test_bleeding_that_will_not_stop_reaches_the_clinic(text: str) -> None:
    assert outcome(text) == "urgent"


@pytest.mark.parametrize("text", cases(SEMANTIC_SCREENED))
def test_a_sign_only_the_meaning_finds_is_screened_when_told_to_staff(text: str) -> None:
    assert screening.read(text).outcome == "screen"


@pytest.mark.parametrize("text", cases(NOT_REPORTED))
def test_questions_answers_and_other_things_stay_no_report(text: str) -> None:
    assert outcome(text) == "non_report"


@pytest.mark.parametrize("text", cases(NOT_SCREENED))
def test_things_and_easier_days_are_not_screened(text: str) -> None:
    assert screening.read(text).outcome == "non_report"
