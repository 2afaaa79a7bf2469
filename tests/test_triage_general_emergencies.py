"""Emergencies of any cause get the emergency reply, not only Botox's red flags (fifteenth session).

The triage rules were written from the article's warning signs (breathing,
swallowing, speech, sight, swelling, weakness...). A patient, or someone
writing for the person they are with, may tell an emergency the article
never names: a seizure, someone unconscious or not breathing, a heart
attack, lips turning blue, an overdose, thoughts of suicide. Whatever the
cause, the advice is the same (call emergency services first), so these are
emergency rules too (`seizure`, `overdose_or_poisoning`, `self_harm`, and new
patterns in `breathing`, `chest_tightness` and `fainting`), with the Spanish
section's own. Every message in the first lists got no emergency reply
before: most were read as no report at all.

The look-alikes pin what must stay a question or history: a condition asked
about for suitability ("my seizures are well controlled, can I get botox"),
a worry, a figure of speech, and everyday uses of the same words ("thanks for
fitting me in", "the clinic is not responding to my emails").
"""

from __future__ import annotations

import pytest

from tests.triage_cases import cases, outcome

TOLD_BY_THE_PATIENT = [
    "im having a seizure",
    "i think im having a seizure",
    "i just had a seizure",
    "im convulsing",
    "i cant stop shaking and jerking",
    "i think im having a heart attack",
    "my lips are turning blue",
    "i took too many pills",
    "i think i took an overdose of my painkillers",
    "i want to kill myself",
    "i keep thinking about ending my life",
    "im going to harm myself",
]
TOLD_BY_SOMEONE_WITH_THEM = [
    "my wife is having a seizure",
    "she is having a fit",
    "he is fitting",
    "my son is fitting",
    "my mum is having a seizure what do i do",
    "my husband collapsed and isnt responding",
    "she is unconscious",
    "shes unresponsive",
    "my wife is unconscious after her botox",
    "he stopped breathing",
    "my husband is not breathing",
]
IN_SPANISH = [
    "mi esposo no responde",
    "mi hijo esta teniendo una convulsion",
    "mi madre esta inconsciente",
    "dejo de respirar",
    "creo que es un infarto",
    "me tome todas las pastillas",
    "tengo ganas de matarme",
]
NOT_AN_EMERGENCY_NOW = [
    "can i have botox if i have epilepsy",
    "can botox cause seizures?",
    "is botox safe for someone who has seizures",
    "i have epilepsy but my seizures are well controlled, can i get botox",
    "i take medication for seizures, is that a problem",
    "i have seizures, can i get botox",
    "i used to have seizures as a kid, is botox ok",
    "my mum had a seizure years ago",
    "i had a seizure last year is botox safe",
    "is it an issue if i had a fit as a child",
    "thanks for fitting me in",
    "is the appointment a good fit for me",
    "my dress is fitting better",
    "hes fitting the new blinds at the clinic",
    "my husband will have a fit when he sees the price",
    "the clinic is not responding to my emails",
    "my injector isnt responding to my messages",
    "can botox give you a heart attack",
    "i had a heart attack 5 years ago can i have botox",
    "my dad died of a heart attack",
    "does botox make you suicidal",
    "im dying to try botox",
    "i thought i was going to die haha the needle",
    "i have a history of self harm, can i have botox",
    "i tried to kill myself years ago, is botox safe with my antidepressants",
    "can you overdose on botox",
    "whats the max dose before its an overdose",
    "my skin turned purple where injected",
    "my baby is not sleeping",
    "she isnt breathing through her nose properly since the cold",
]


@pytest.mark.parametrize(
    "text", cases(TOLD_BY_THE_PATIENT + TOLD_BY_SOMEONE_WITH_THEM + IN_SPANISH)
)
def test_an_emergency_of_any_cause_gets_the_emergency_reply(text: str) -> None:
    assert outcome(text) == "emergency"


@pytest.mark.parametrize("text", cases(NOT_AN_EMERGENCY_NOW))
def test_the_same_words_as_a_condition_a_question_or_everyday_speech_are_not_one(
    text: str,
) -> None:
    assert outcome(text) != "emergency"
