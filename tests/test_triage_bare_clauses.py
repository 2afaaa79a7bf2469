"""Triage of a sign told without its subject after a request (fourteenth session).

Hurried typing drops the "I": "could i come in please having trouble
breathing", "can i pop in, got double vision". Such a clause opens with a
verb that tells (`run_on_bare_lead`: having, getting, got, struggling...) and
stands apart from the request only right after the words that close one
(`run_on_bare_after`: please, asap, today, "come in", "fit me in"...), or
after a comma (`sign_lead`). After any other word the same verb is that
word's object: "the chances of having trouble breathing", "how to avoid
getting double vision" stay questions.

Two more frames end where the patient tells: a feeling told in the present
("could i come in today, i feel like my throat could close": `felt_as_if`
before the supposing word), and an eligibility question followed by a
clause that says when the sign began ("could i get botox, my face is
drooping since this morning": `eligibility_frame`, `told_since`). Told
without a time, a sign after an eligibility question stays the patient's
history. A bare clause may follow another without a comma ("could i come
in asap having a panic attack cant breathe": fifteenth session). Eight of the
cases below failed before the fourteenth session's change (no emergency
reply, no screening question); the others pin neighbouring wordings that
already worked.
"""

from __future__ import annotations

import pytest

from tests.triage_cases import cases, outcome

TOLD_WITHOUT_SUBJECT = [
    "could i come in please having trouble breathing",
    "can i book in having trouble swallowing",
    "could you squeeze me in today struggling to swallow",
    "could i come in asap getting double vision",
    "could you see me feeling like my throat is closing",
    "could someone call me back please got double vision since this morning",
    "could i be seen today cant breathe properly",
    # from the review of this change: an adverb before a sign that starts with its
    # verb, more words before the sign, more request endings, someone named
    "can i pop in suddenly seeing double",
    "could i come in now struggling to swallow",
    "could i come in please woke up with my throat closing",
    "can i book in please got really bad double vision",
    "could i come in tomorrow having trouble breathing",
    "can i book an urgent slot having trouble breathing",
    "could i come in as soon as possible struggling to swallow",
    "can i bring my daughter in asap struggling to swallow",
    "can you fit my wife in please cant breathe",
    "can i talk to someone now having trouble breathing",
    "can you call me back as soon as you can having trouble breathing",
    # from the second review: "now" inside the patient's own clause (a first
    # version lost these), what goes on after the sign, more leads and requests
    "could i come in asap i now cant breathe when i lie down",
    "could i come in asap my husband now cant swallow and idk if its the botox",
    "hi there. could i come in please struggling to swallow after my first botox. thanks",
    "could i come in please struggling to breathe since last week",
    "could i come in please having a bit of trouble breathing",
    "could i come in today feeling like my throat is closing",
    "could i come in please passed out earlier",
    "could i come in please woke up unable to swallow",
    "could i be seen this week having trouble swallowing",
    "can i come in please having trouble breathing not getting better now",
    # a question mark closes the request, not the sign's clause
    "can i book in asap having trouble breathing?",
    "can i pop in tomorrow having trouble breathing?",
    # "possible" in a request worded as a possibility is no risk asked about
    "would it be possible to come in please struggling to swallow",
]
# (fifteenth session) A second clause without its subject, run on after a first
# one: the chain goes on until a comma or a full stop. Four of these six got no
# emergency reply before (no report, or urgent).
TOLD_IN_A_CHAIN_OF_BARE_CLAUSES = [
    "could i come in asap having a panic attack cant breathe",
    "could i come in today having a panic attack and struggling to breathe",
    "could i come in asap having a rash cant breathe",
    "can i come in asap got a rash now cant swallow",
    "could you squeeze me in please having a reaction getting hives and cant breathe",
    "could i come in asap having a bad reaction cant see properly since this morning",
]
TOLD_AFTER_A_COMMA_WITHOUT_SUBJECT = [
    "can i pop in, got double vision",
    "could i get an appointment, started seeing double",
    "can i come in, woke up with my throat closing",
]
FELT_NOW = [
    "could i come in today, i feel like my throat could close any minute",
    "does botox do this, it feels like my throat might close up",
]
ELIGIBILITY_TOLD_SINCE = [
    "could i get botox, ive had double vision since yesterday",
    "could i still have my top up, my throat has been tight since this morning",
    # from the review
    "could i get botox, i currently have double vision",
    "could i get botox, ive had double vision for an hour",
    "could i get botox, i cant swallow properly since i woke up",
    "could i get botox, my throat is closing up now",
]
ELIGIBILITY_TOLD_SINCE_URGENT = [
    "could i get botox, my face is drooping on one side since this morning",
]
STILL_NOT_TOLD = [
    "what are the chances of having trouble breathing",
    "could botox result in having trouble breathing",
    "is there any way to avoid getting double vision",
    "could i book in please feeling nervous about trouble swallowing",
    "could i come in please having read that double vision can happen",
    "can i pop in, got a question about double vision",
    "does botox cause ptosis, got a friend who had it",
    "is double vision a side effect, got worried",
    "will it make me dizzy, i feel like i would faint if i stood up",
    "could i die, my throat might close up",
    "could i have botox i have double vision from a squint",
    "could i get botox, i have had double vision since my car accident",
    # from the review: an opinion or fear with "i feel like", history or another
    # clause's time after an eligibility question, a question with "here" or
    # "soon", a lasting or general sign, a risk asked about before a comma
    "could i book in, i feel like botox might give me double vision",
    "could i book in, i feel like my throat would close up if i got neck botox",
    "could i see the doctor, i feel like my speech might slur after the lip flip tomorrow",
    "could i come in, i felt like i could pass out last week",
    "could i get botox, ive had double vision for 10 years now",
    "would i be suitable, ive been fainting a lot since last summer",
    "could i get botox, my double vision started in 2019",
    "could i get botox, i had trouble swallowing this morning but fine now",
    "could i get botox, i saw the optician today about my double vision",
    "could i have botox, i have trouble swallowing, can i book for today",
    "anyone here having trouble swallowing after neck botox",
    "how soon struggling to swallow starts after neck botox",
    "could i come in getting double vision can happen",
    "can i book in cant swallow tablets",
    "can i book in please cant breathe through my nose",
    "can i book in asap been having trouble breathing on and off for years with asthma",
    "what are the chances, having trouble breathing",
    "how likely is it, experiencing trouble breathing after botox",
    "can i book in, having double vision last time",
    "can i book in, got double vision after my last botox in 2021",
    "can my mum come in tomorrow having trouble breathing since her stroke",
    # from the second review: a carer's habit or cause, people in general, a
    # future or a fear with "i feel like", a fear, an everyday cause, a past
    # episode after a clause with its subject
    "could i book my mum in please having trouble swallowing after her stroke",
    "can clients book in today having trouble swallowing after botox elsewhere",
    "could i book in for next week, i feel like my lips might swell after filler",
    "could i book in, i feel like i might faint lol im scared of needles",
    "could i book in please getting double vision is my biggest fear",
    "could i book in please cant see properly without my contacts",
    "could i book in please lost my voice at a concert",
    "can i send a photo please got a blurry pic of my forehead",
    "could i come in asap i fainted today getting my bloods done",
    "how soon having trouble swallowing shows up after botox?",
    "can i book in please, is having trouble breathing normal?",
    "would it be possible to get trouble breathing from botox",
    "would it be possible to come in today, is trouble swallowing possible after botox",
    # a chain of bare clauses keeps each clause's own reading: a fear, an
    # everyday cause, a lasting or general sign, a carer's other cause, a past episode
    "could i book in please having my lips done getting double vision is my biggest fear",
    "could i come in today having botox cant swallow tablets",
    "can i book in asap having a consultation cant breathe through my nose",
    "could i come in please having a facial getting hives can happen",
    "could i book my mum in please having physio cant swallow after her stroke",
    "can i come in tomorrow having a filler top up struggling to decide",
    "could i come in asap having had trouble breathing last week",
    "could i come in asap having botox cant wait",
    # from the review: a bare verb after a word that takes it as its object
    # opens no clause in a chain either
    "could i come in asap got a fear of having an allergic reaction",
    "can i get seen today got a friend who keeps having seizures",
    "could i come in asap cant stop thinking about having a seizure",
    "can i book an appointment please having flashbacks of struggling to breathe",
]


@pytest.mark.parametrize(
    "text",
    cases(
        TOLD_WITHOUT_SUBJECT
        + TOLD_IN_A_CHAIN_OF_BARE_CLAUSES
        + TOLD_AFTER_A_COMMA_WITHOUT_SUBJECT
        + FELT_NOW
        + ELIGIBILITY_TOLD_SINCE
    ),
)
def test_a_sign_told_without_its_subject_or_felt_now_is_an_emergency(text: str) -> None:
    assert outcome(text) == "emergency"


@pytest.mark.parametrize("text", cases(ELIGIBILITY_TOLD_SINCE_URGENT))
def test_an_urgent_sign_told_since_after_an_eligibility_question_is_escalated(text: str) -> None:
    assert outcome(text) == "urgent"


@pytest.mark.parametrize("text", cases(STILL_NOT_TOLD))
def test_a_sign_asked_about_supposed_or_from_another_cause_is_not_a_report(text: str) -> None:
    assert outcome(text) == "non_report"
