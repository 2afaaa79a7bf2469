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
    # from the review: wordings of the same emergencies
    "i'm thinking of killing myself",
    "i wanna die",
    "i want to end it",
    "i cut my wrist",
    "ive taken too many pills",
    "i took 30 paracetamol",
    "i drank bleach",
    "i had a fit earlier",
    "i can feel a seizure coming on",
    "not breathing",
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
    # from the review: contractions, carers' past and perfect forms
    "she's not breathing",
    "the baby's not breathing",
    "my grandpa isn't breathing",
    "he's turning blue",
    "he's in cardiac arrest",
    "my daughter has been fitting for 5 minutes",
    "my son's fitting",
    "my husband is havin a seizure",
    "my wife fainted and wont respond",
    "my son took an overdose",
    "she overdosed",
    "my friend took too many pills",
    "he took all my sleeping pills",
    "my daughter swallowed bleach",
    "he is suicidal",
    "my son is self harming",
    "my husband is having a stroke",
    "i think my mum is having a stroke",
]
IN_SPANISH = [
    "mi esposo no responde",
    "mi hijo esta teniendo una convulsion",
    "mi madre esta inconsciente",
    "dejo de respirar",
    "creo que es un infarto",
    "me tome todas las pastillas",
    "tengo ganas de matarme",
    "me quiero matar",
    "ya no quiero vivir",
    "mi hija tiene una convulsion",
    "mi papa esta teniendo un infarto",
    "mi hijo se tomo todas las pastillas",
    "mi hija tomo lejia",
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
    # from the review: staff or messages not responding, everyday fits and
    # colours, history, figures of speech, food poisoning, "die" for "dye"
    "i emailed the clinic and they are not responding",
    "i messaged the receptionist but she wont respond",
    "my injector isnt responding, should i go elsewhere",
    "he is not responding well to botox",
    "he wont wake up before 10 so book me afternoon",
    "i cant wake my husband up at 6 to drive me",
    "stopped breathing through my nose",
    "my skin is not breathing under all this makeup",
    "she isnt breathing a word",
    "my top lip went purple from the bruising",
    "my face mask is blue",
    "nearly had a heart attack lol",
    "im on blood thinners after my heart attack",
    "my mask was fitting weird",
    "my wedding ring is fitting tighter, is that swelling from botox",
    "he was having a fit about the parking",
    "ive had seizures before",
    "i have had a seizure before, is botox ok",
    "i started having seizures as a teen",
    "i took all my medication this morning as normal",
    "i swallowed a whole bottle of water",
    "overdosed on caffeine today haha",
    "i poisoned myself with bad sushi lol",
    "i want to die my hair after botox",
    "i have some old self harm scars on my arm",
    "he is unconscious of his bias",
    "i was unconscious during the surgery",
    "took all the painkillers they gave me like instructed",
    "la clinica no responde a mis correos",
    "no responde nadie al telefono",
    "no respira por la nariz",
    "tengo los labios morados por el relleno",
    "me envenene con comida",
    "me quiero morir de la verguenza jaja",
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
