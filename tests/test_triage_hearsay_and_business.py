"""Hearsay told as such, and everyday clinic business around a red flag (twentieth session).

"I've read stories about droopy lids" or "I heard it can make your brow
drop" passes on what others say: with a question it is a question about
Botox, not a droop reported. The same frame before a sign the patient then
says is theirs now still reports it. The harmless readings of the semantic
layer gained everyday clinic business (directions, prices, a top-up, a
wedding); a red flag told in the middle of that business must still be
screened or sent to emergency services.
"""

from __future__ import annotations

import pytest

from clinic_core import screening
from tests.triage_cases import cases, outcome

HEARSAY_QUESTIONS = [
    "ive read scary stories about droopy eyelids, how common is that?",
    "heard a few horror stories about dropped brows. is it likely?",
    "i read it can make your eyelid droop. true?",
    "seen videos of people with droopy brows after botox, does it happen often?",
    "heard things about eyebrows dropping, should i be worried before my first session?",
]

HEARSAY_THEN_OWN_EMERGENCY = [
    "i heard it can make it hard to swallow and i cant swallow now",
    "heard it can cause double vision, i have double vision since yesterday",
    "read stories about throats closing up and my throat feels tight right now",
    "was told it might affect breathing and now i cant breathe properly",
    "ive seen videos of people slurring after botox and my speech is slurred today",
]

HEARSAY_THEN_OWN_URGENT = [
    "i read it can make your eyelid droop, mine has been drooping for 3 weeks and getting worse",
    "heard stories about droopy brows and my left brow is drooping more each day",
]

# Red flags told in the middle of the business the new harmless readings describe.
BUSINESS_AROUND_A_RED_FLAG = [
    "im trying to find the clinic but everything looks blurry and doubled",
    "where is the clinic, i cant see the signs properly, everything is fuzzy",
    "how do i get to you, my legs are so weak i can barely walk",
    "is there parking near you, i feel like im going to pass out",
    "book me in asap my voice has gone weird and people cant understand me",
    "my wedding is tomorrow and my lips are puffing up fast",
    "how much does it cost to fix this, my words are coming out wrong",
    "can i pay by card, im struggling to get my breath",
    "i cant make out the road signs, everything is smeared",
    "im at the car park and my arms are too heavy to lift",
    "my top up was yesterday and now my head keeps flopping forward",
    "im getting my son to type because my arms feel like lead",
]


@pytest.mark.parametrize("text", cases(HEARSAY_QUESTIONS))
def test_hearsay_with_a_question_is_a_question(text: str) -> None:
    assert outcome(text) == "non_report"


@pytest.mark.parametrize("text", cases(HEARSAY_THEN_OWN_EMERGENCY))
def test_hearsay_then_the_patients_own_sign_now_is_an_emergency(text: str) -> None:
    assert outcome(text) == "emergency"


@pytest.mark.parametrize("text", cases(HEARSAY_THEN_OWN_URGENT))
def test_hearsay_then_the_patients_own_worsening_droop_is_urgent(text: str) -> None:
    assert outcome(text) == "urgent"


@pytest.mark.parametrize("text", cases(BUSINESS_AROUND_A_RED_FLAG))
def test_a_red_flag_among_clinic_business_is_screened_or_an_emergency(text: str) -> None:
    reading = screening.read(text, "clinic_info", classifier_confidence=0.95)
    assert reading.is_emergency or reading.screen
