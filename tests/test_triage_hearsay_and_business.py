"""Hearsay told as such, and everyday clinic business around a red flag (twentieth session).

A question frame for hearsay ("heard horror stories about droopy brows,
does that happen?", "i read it can make your brow drop, true?") was tried
and withdrawn: a safety review found 57 of its probes, real emergencies and
urgent reports told after such a frame ("heard it can spread n throat feels
tight n cant swallow proprly"), read lower with it, most of them as no
report at all. Those probes are kept here: each must keep the reading it had
before (emergency, or the screening question first). The harmless readings
of the semantic layer gained everyday clinic business (directions, prices, a
wedding); a red flag told in the middle of that business must still be
screened or sent to emergency services. Two more lines (parking, a top-up)
were withdrawn after the same review: each hid a probe.
"""

from __future__ import annotations

import pytest

from clinic_core import screening
from tests.triage_cases import outcome, readings

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

# From the review: an emergency after hearsay, read as an emergency before the frame was tried.
REVIEWED_HEARSAY_EMERGENCIES = [
    "heard horror stories about botox and yeah throat feels tight and hard to swallow",
    "read it can affect breathing and breathing is really wheezy and tight",
    "heard it can make you weak, cant hold head up properly and arms feel like jelly",
    "seen posts about this on facebook, double vision and cant focus",
    "heard stories about botox going wrong and honestly drinks "
    "are coming out the nose when trying to drink",
    "heard things about botox spreading, speech all slurred and voice gone hoarse",
    "read reviews about this clinic and people said it was fine but throat is closing up help",
    "read it can go to the throat, feels like throat is closing",
    "Read it may cause problems breathing and there is wheezing and tightness in the chest",
    "seen videos of this on tiktok tongue swelling lips swelling",
    "heard some scary stories about botox, nearly fainted in the kitchen",
    "ive read reviews on here about reactions, hives all over and struggling to breathe",
    "heard the injections can spread, blurred vision and can't focus eyes",
    "sorry if this is silly, heard it might be an allergy, face swelling fast and lips huge",
    "i read it can happen rarely but its hard to breathe and chest is tight",
    "heard it might wear off but speech is garbled and words wont come out",
    "heard it can make ur eyebrow drop but its the whole face drooping one side and arm weak",
    "i was read it can give allergy, the lips and face becoming big very fast",
    "friend told it could be allergic, lips swelling fast and throat tight",
    "read it can happen, need an ambulance, cant breathe",
    "heard it could spread, legs gave way on the stairs and wont hold me up",
    "heard it could happen, talking has become hard work for the mouth",
    "hiya, heard it can make you a bit droopy so i wasnt worried at "
    "first but the speech is slurred and garbled and the left arm feels weak",
    "heard it can travel, throat close, no can swallow",
    "read it might affect neck, head falling forward cannot hold up",
    "heard it can spread n throat feels tight n cant swallow proprly",
    "seen vids of this, seen videos of ppl reacting, face swelling up fast",
    "heard stories about bad reactions, hard to breathe, wheezy",
    "heard it may cause a reaction but hives everywhere and breathing tight",
    "read it can happen, nearly passed out twice",
    "heard stories about botox and fainted at work",
    "heard it can affect the eyes, blurred vision and double vision",
    "read it might cause headaches but this is the worst headache ever, sudden",
    "read posts on here about botox gone wrong, face drooping on one side and speech slurred",
    "heard stories about botox, wife is struggling to breathe",
    "cant read it could be the botox, letters are doubled and blurry",
    "heard it can bruise but bruising is spreading down the face and growing",
]

# From the review: screened first before the frame was tried.
REVIEWED_HEARSAY_SCREENED = [
    "Heard stories about botox, worst headache of life out of nowhere, sick and dizzy",
    "read it can get infected and yeah, injection site is hot, red, swollen and oozing pus",
    "heard stories about droopy eyelids, left lid has dropped and is getting worse every day",
    "read it can cause a rash, rash spreading across the face and neck",
    "heard it can cause a lump, lump is red hot and painful and growing",
    "heard it can cause a rash, rash is spreading fast and itchy all over",
    "seen videos of this, mouth won't form the words properly",
    "heard it might affect muscles, climbing the stairs is suddenly too hard for the legs",
    "read it can spread, the tv looks smeared and foggy whatever i do",
    "book me in for a top up, also the bruise is getting bigger and bigger and very painful",
    "heard it can cause a rash, rash spreading all over and feverish",
    "my legs wouldnt carry me from the car park to your door",
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
    "im getting my son to type because my arms feel like lead",
]


@pytest.mark.parametrize(
    ("text", "allowed"),
    readings(
        [(HEARSAY_THEN_OWN_EMERGENCY, ("emergency",)), (HEARSAY_THEN_OWN_URGENT, ("urgent",))]
    ),
)
def test_hearsay_then_the_patients_own_sign_reads_as(text: str, allowed: tuple[str, ...]) -> None:
    assert outcome(text) in allowed


@pytest.mark.parametrize(
    ("text", "allowed"),
    readings(
        [
            (REVIEWED_HEARSAY_EMERGENCIES, ("emergency",)),
            (REVIEWED_HEARSAY_SCREENED, ("screen", "emergency")),
            (BUSINESS_AROUND_A_RED_FLAG, ("screen", "emergency")),
        ]
    ),
)
def test_a_red_flag_after_hearsay_or_clinic_business_reads_as(
    text: str, allowed: tuple[str, ...]
) -> None:
    assert screening.read(text, "clinic_info", classifier_confidence=0.95).outcome in allowed
