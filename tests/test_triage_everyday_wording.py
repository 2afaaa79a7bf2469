"""Triage of wordings that earlier probes and reviews found misread (eleventh session).

A plea run straight into a bare inability, as voice-to-text writes it; one
side of the face falling, in non-native word order; a swelling that "is
down" (eased) against one going down the cheek (spreading); "dying to"
as an idiom; "hw long" for "how long" (spelled out before matching).  Many
of these failed on the rules before the change; the rest are the readings
beside them that must not move, and the probes a reviewer wrote against the
first version of the change (each of those failed on it).
"""

from __future__ import annotations

import pytest

from clinic_core import screening
from tests.triage_cases import cases, outcome

EMERGENCY = [
    "tell me what to do cant breathe",
    "tell me what to do cant breathe properly",
    "need help cant swallow",
    "can you help me cant breathe",
    "please advise barely breathing",
    "my one side face is fall down",
    "today my one side face is fall down",
    "half my face dropped this morning",
    "left side my face falling down and i cant talk right",
    "swelling around my eye going down my cheek",
    "lip swelling went down the side of my chin",
    "hw long will my lips be swollen",
    "hw long will i have double vision",
    "im dying",
    # from the review of this change
    "tell me what to do i cant breathe",
    "tell me what to do struggling to breathe",
    "please advise unable to swallow",
    "tell me what to do cant see properly double vision",
    "tell me what to do cant talk properly words come out wrong",
    "can you help my husband cant breathe",
    "tell me what to do my daughter cant breathe",
    "please advise my wife cant breathe properly",
    "my face one side is fall down",
    "my one side face is falling",
    "my throat feels tight came down with hives all over",
    "my tongue feels swollen coming down with hives",
    "woke up face swollen came down with a rash too",
    "my tongue is swollen came down stairs to message you",
    "my lips are swelling coming down now",
    "my lip swelling is down by my jaw",
    "lip swelling is coming down across my chin",
    "swelling around my eyes coming down through my cheeks",
    "i think im dying to be honest",
    "im dying for some air",
    "im dying for the love of god help",
]

NOT_A_REPORT = [
    "tell me what to do if i cant breathe",
    "will one side of my face fall down",
    "can botox make half my face droop?",
    "im dying to book",
    "im dying for a coffee lol",
    # from the review of this change
    "can you help me cant find the aftercare sheet is trouble swallowing normal after botox?",
    "can you help cant work out if swollen lips is a side effect?",
    "tell me what to do cant breathe through my nose when i have hay fever",
    "please advise cant swallow tablets is there liquid pain relief i can take after botox",
    "please advise cant talk at work call me after 5",
    "will half my face droop after botox?",
    "will the left side of my face drop",
    "my one side face is falling asleep",
    "im dying to know if i can have it while breastfeeding",
    "im dying of laughter",
    "lip swelling went down to nothing by the next morning",
    "my eye swelling is going down over time",
    "the swelling went down over the weekend",
]

NOT_AN_EMERGENCY = [
    "the swelling around my eye is down now",
    "swelling around my eye has come down a lot",
    "the swelling around my eyes went down the next day",
    "my lips were swollen but its gone down now",
    "the swelling around my eye went down on the third day",
    "swelling on my lip went down along with the bruising",
    "half my face fell asleep on my arm lol",
    "hw long does lip swelling last after botox",
]


# A clause run on without a comma after a question or a request: told, not asked.
RUN_ON_EMERGENCY = [
    "does botox make you dizzy i blacked out earlier",
    "could i book in asap im choking on my food since the injections",
    "can i come in today i cant swallow properly",
    "would i be able to come in today i cant breathe properly",
    # from the review of this change
    "could i come in i fainted this morning",
    "hi can i book im getting double vision",
    "do you know if i can book i fainted",
    "could i come in i feel like my throat is closing",
    # from the second review
    "could i come in i think im having a reaction",
    "could i come in today i honestly cant breathe",
    "could i come in i passed out twice",
]
# ... and what stays a question or a supposition.
RUN_ON_NOT_A_REPORT = [
    "what if i get botox tomorrow my throat closes",
    "if i get botox tomorrow my throat closes what do i do",
    "will i be ok if i get botox tomorrow my throat closes",
    "does botox cause trouble breathing i read it can",
    "can botox make you choke i heard it can",
    "can botox make half my face droop?",
    "does botox affect my breathing",
    # from the review of this change: suppositions worded as questions, past episodes
    "what happens if i get botox i cant swallow",
    "what would happen if i had botox i couldnt breathe",
    "what do i do if i get botox i cant breathe",
    "will i pass out i passed out last time",
    "does botox make you dizzy i blacked out once",
    "can botox make you faint i fainted at my last appointment",
    # from the second review: eligibility with a condition, fainting elsewhere
    "could i have botox i have double vision from a squint",
    "would i be able to have botox i have trouble swallowing since my stroke",
    "could botox make it worse im wheezy with my asthma",
    "does botox cause blurred vision i have blurred vision from my diabetes",
    "will i faint i fainted when i had my tattoo",
    "will i pass out i passed out getting my ears pierced",
    "does botox make you faint i fainted at the doctors",
]
# Words the rules do not know, run on after a booking request: the meaning
# layer reads the clause on its own and asks the screening question.
RUN_ON_SCREENED = [
    "can i book an appointment i went floppy this morning",
    "can i book an appointment i see two tellies now",
    "earliest appointment please i cant finish a sentence today",
    "could i come in today i can barely breathe",
]
RUN_ON_NOT_SCREENED = [
    "can i book an appointment i want my forehead done",
    "how long does botox last i want it for my wedding",
    # from the review of this change: the question before the clause is not a piece
    "can i swallow tablets i had botox yesterday",
    "can i drink through a straw i had botox today",
    "can i use my inhaler i have an appointment today",
]


@pytest.mark.parametrize("text", cases(RUN_ON_SCREENED))
def test_a_run_on_clause_in_words_the_rules_do_not_know_is_screened(text: str) -> None:
    reading = screening.read(text, "book_appointment", classifier_confidence=0.95)
    assert reading.screen or reading.is_emergency


@pytest.mark.parametrize("text", cases(RUN_ON_NOT_SCREENED))
def test_a_harmless_run_on_clause_is_not_screened(text: str) -> None:
    assert not screening.read(text, "book_appointment", classifier_confidence=0.95).is_report


@pytest.mark.parametrize("text", cases(EMERGENCY + RUN_ON_EMERGENCY))
def test_emergency(text: str) -> None:
    assert outcome(text) == "emergency"


@pytest.mark.parametrize("text", cases(NOT_A_REPORT + RUN_ON_NOT_A_REPORT))
def test_not_a_report(text: str) -> None:
    assert outcome(text) == "non_report"


@pytest.mark.parametrize("text", cases(NOT_AN_EMERGENCY))
def test_not_an_emergency(text: str) -> None:
    assert outcome(text) != "emergency"
