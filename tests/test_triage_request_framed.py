"""Emergencies told after a request or a question (nineteenth session).

A fresh dev set written blind from the label definitions
(tests/eval/triage_dev_request.jsonl: every message opens with a request or
a question, then says what is happening) missed five emergencies of 95. Each
miss was a mechanism, mended in clinic/triage-rules.yml and tested here in
our own words:

- asking the assistant itself to call an ambulance was read as a question
  ("can you call an ambulance for me please");
- a carer's speech trouble: "can't get her words out" knew only "my words";
- double vision as "seeing two of" a person or a thing;
- whole-body weakness as "floppy all over", "like a rag doll", "no strength in
  any muscle", legs or knees that buckle;
- a named person who "keeps nearly fainting" was not happening now;
- "the doctor" or "the nurse" named only as whom the patient asks to call them
  made the sign after it the doctor's ("can the nurse ring me, seeing double").

And an urgent sign: a droop that drops "a bit more each day" is worsening.

A second dev set of the same shape written blind in texting, voice-to-text
and non-native voices (tests/eval/triage_dev_request_2.jsonl) missed ten of
98 emergencies:

- a sign asked about, then confirmed after it ("can botox make u short of
  breath, bc i am rn"): a supposition the patient answers themselves is
  their own (clinic_core/triage.py, `_confirmed_after`);
- "gone white / pale / limp" read as "gone" (resolved);
- drink out of the nose asked about ("is it normal that tea came out my
  nose"): the phrase now takes in "my nose";
- coughing on drinks; "talkin funny"; "see two image"; a carer's "cant hold
  his head up";
- a carer asking for help in other words ("call 999", "send someone", "pls
  call asap", "can you help me please").

Beside them, the readings that must not move, and the probes of two
reviewers: the first version of the idioms ("nearly fainting at the bill")
vetoed real emergencies told in the same clause, so idioms are now left out
where the sign itself is read, never by a veto on the clause.
"""

from __future__ import annotations

import pytest

from tests.triage_cases import cases, outcome

EMERGENCY = [
    "could you call an ambulance for me please",
    "can someone get an ambulance, i had botox and something is really wrong",
    "please call an ambulance i cant cope",
    "call me an ambulance now",
    "my dad cant get his words out since his botox this morning",
    "my mum can't get her words out, can someone help",
    "she cant form her words properly",
    "im seeing two of my kids right now",
    "can i come in asap, seeing two of everyone",
    "i feel floppy all over since the injections",
    "feel like a rag doll today, no strength in any of my muscles",
    "my legs keep buckling under me since this morning",
    "my husband keeps nearly fainting after his treatment today",
    "my wife is almost passing out, what do we do",
    "can the nurse ring me, having trouble swallowing",
    "need the doctor to phone me pls, seeing double since lunch",
    "can the doctor call me back asap, throat feels tight",
    # from the review of this change
    "can you phone an ambulance for me",
    "can you call for an ambulance please",
    "can you ring for an ambulance",
    "my dad keeps nearly blacking out",
    "my dad is nearly keeling over",
    "can the nurse please call me, seeing double",
    "my husband keeps seeing two of me",
    # the second dev set's mechanisms, in our own words
    "does botox give you breathing problems? cause i have it now",
    "can it make your throat tight bc i am rn",
    "is it normal that water comes out my nose when i drink",
    "i keep coughing on my tea since the injections",
    "my wife keeps coughing on her drinks, had botox today",
    "im talkin funny and my lip feels heavy",
    "my eyes see two image since this morning",
    "my son cant hold his head up properly since the treatment",
    "my mum is gone pale and keeps nearly passing out",
    "pls call asap my husband says his throat is closing",
    "can u send someone, my friend collapsed in the waiting room",
    "call 999 my wife collapsed after her botox",
    # from the second review: a mood, a place or an idiom beside a real sign
    "my husband collapsed while looking at the bill and hes not breathing properly",
    "my son is choking from laughing and his lips are swelling up",
    "my wife is slurring her words like when shes drunk but she hasnt had a drink",
    "excuse my bad in english my wife cant breathe her throat is closing",
    "my girlfriend is crying with excitement her throat is closing up she can barely breathe",
    "help its as if my knees buckle and everything is blurry",
    "if my legs buckle i cant get up and my throat is closing up",
    "im floppy all over after my botox this morning",
    "seeing two of my husband after the jabs this morning",
    "can you get me an ambulance asap",
    "my husband fainted at the sight of his face and hasnt woken up",
    # from the third review: a new stammer, "every X" with a time after it, a
    # confirmation with an adverb, drink "gone everywhere", bare pleas
    "my dad suddenly has a stammer and his speech is slurred",
    "my husband suddenly has a stutter and slurred speech",
    "i keep seeing two of every car tonight",
    "i keep seeing two of him had to sit down",
    "is trouble swallowing a known side effect? i have that worry, i actually have it now",
    "is difficulty swallowing a side effect? i literally have it",
    "does botox cause trouble swallowing? i have it right now.",
    "water came out of my nose and its gone everywhere",
    "pls ring 999",
    "ambulance please",
    # missed before and after the third review's fixes
    "my daughter is out cold after her botox",
    "my son has gone blue around the lips",
]

URGENT = [
    "my eyelid has dropped a bit more each day since monday",
    "the swelling spreads a little more every day",
    "is there a slot today? my brow droops more every day",
]

NOT_A_REPORT = [
    # general questions and suppositions in the same words
    "when would someone need to call an ambulance after botox",
    "can the doctor call me about whether double vision is a risk",
    "the doctor said to call me if my throat feels tight",
    "can the nurse call me? my friend had double vision after her botox",
    "can the nurse call me, i wanted to ask if trouble swallowing is common",
    "im seeing two of the nurses next week for a consult",
    # from the review of this change: jokes, idioms, other things seen, suppositions
    "seeing two of my friends for lunch tomorrow, can i have botox the day before",
    "I'm seeing two of your nurses next week",
    "i see two of my appointments were cancelled",
    "my dog goes floppy all over when you rub his belly",
    "my colleague keeps almost passing out from boredom in meetings lol",
    "my mum keeps nearly fainting at the prices lol",
    "my husband cant get his words out when hes angry lol",
    "my mum cant get her words out in English, can you reply in Polish",
    "will you call an ambulance if I faint during the appointment",
    "when would you call an ambulance for a patient",
    "should I worry if my legs buckle after botox?",
    "i feel like a rag doll after the gym",
    "what if my throat closes up? i have that fear",
    "what if i get double vision, i get it with migraines anyway",
    "in case i choke on water, i get it sometimes",
    "quick q is double vision a side effect of botox, thinking of getting it done",
    "she is not responding to my emails",
]

NOT_AN_EMERGENCY = [
    "can the doctor call me about my appointment",
    "can the nurse ring me to rebook",
    "my knees buckled when I saw the bill",
    "I was thrown around like a rag doll on the rollercoaster on holiday",
    "I stretched my legs and buckled my seatbelt before driving home from the clinic",
]

# Easing a bit more each day is no worsening.
NOT_URGENT = [
    "the bruise fades a bit more each day",
    "my headache eases a bit more each day",
    "i like it more than before, just a small bruise",
    "the bruise is getting lighter a bit more each day",
    "my headache gets better a bit more each day",
]


# Each list with the outcome its messages must get.
EXPECTED_OUTCOMES = {
    "emergency": EMERGENCY,
    "urgent": URGENT,
    "expected": NOT_URGENT,
    "non_report": NOT_A_REPORT,
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(case.values[0], expected, id=f"{expected}-{case.id}")
        for expected, texts in EXPECTED_OUTCOMES.items()
        for case in cases(texts)
    ],
)
def test_each_message_gets_its_outcome(text: str, expected: str) -> None:
    assert outcome(text) == expected


@pytest.mark.parametrize("text", cases(NOT_AN_EMERGENCY))
def test_asking_the_doctor_to_call_or_an_idiom_is_not_an_emergency(text: str) -> None:
    assert outcome(text) != "emergency"
