"""Probes three reviewers wrote against this session's triage changes, frozen as tests.

Each failed on the first or second version of the change (or on the code
before it) and is mended; they keep the mends from coming undone.
"""

from __future__ import annotations

import pytest

from tests.triage_cases import cases, outcome

# The patient's own red flag, now: the emergency reply first.
EMERGENCY = [
    "my lip swelling is down towards my chin",
    "face swelling is down past my jaw now",
    "my face is swollen its down around my neck",
    "swollen lips, its down towards my chin now",
    "can you help, throat closing up",
    "can u help, cant breathe",
    "can anyone help, lips swelling",
    "could u help pls, struggling to breathe",
    "what do you suggest, throat closing up",
    "how can i get help, throat closing",
    "tell me what to do, really struggling to breathe",
    "tell me what to do, suddenly cant breathe",
    "will my swollen lips go down if i take an antihistamine",
    "will my swollen tongue go down if i wait",
    "will my double vision go away if i rest",
    "will my swollen lips go down by next week",
    "will my blurry vision clear up by next monday",
    "will my double vision go away, would an eye patch help",
    "how long will my double vision last, im planning to drive home",
    "my muscle is weak",
    "muscle are weak since yesterday",
    "i feel my muscle are weak",
    "my muscle become weak since botox",
    "i see things funny",
    "i see things weird since botox",
    "one side of my mouth is down",
    "how long will my double vision last?",
    "hi its ms smith my throat is closing up can i get an appointment",
    "having an allergy attack my throat is closing can i get seen",
    "i have allergies my lips are swelling can i come in",
    "i have asthma my chest is tight i cant breathe can i get seen",
    "i dont think its a cold my throat is swelling shut can i get seen",
    "bad allergies, lips and throat swelling up, can i get an antihistamine",
    "tongue swelling, allergy i think, can i do anything",
    "allergies i think, throat closing, can i come in",
    "one side of my face is drooping, its down a bit",
    "left side of my face drooped, its down.",
    "can you help, throat closing up?",
    "tell me what to do, omg throat closing",
    "tell me what to do, throat closing, will it get worse",
    "please advise, throat closing, would an antihistamine help",
    "will my swollen lips ever go down, they swelled again",
    "im getting really scared, how long will my swollen tongue last",
    "will my double vision go away or would i need to see a doctor",
    "will my swollen throat go down, asking in case i need to go to a&e",
    "can my swollen lips go down on their own",
    "could my blurry vision clear up by itself",
    "i think im having a stroke",
    "am i having a stroke",
    "everythings double since the botox",
    "years ago, i had a reaction, my throat closes up",
]

# What to take for a red flag, or a bare sign after hearsay: the screening question
# first (or the emergency reply).
SCREENED = [
    "can i take something for swollen tongue, idk if its serious",
    "can i take antihistamine for swollen lips, not sure if its the botox",
    "can i take antihistamine for swollen lips, wondering if its an allergy",
    "what helps with swollen lips",
    "what is good for swollen lips",
    "can i have some medicine for swollen lips",
    "can I take an antihistamine, lips swelling",
    "can i take benadryl for swollen lips, im scared",
    "what can i take for swollen lips im really scared",
    "what should i take for trouble breathing, im nervous",
    "what can i take for swollen lips, worried its getting worse",
    "what can i take for a swollen tongue as soon as possible",
    "can i take antihistamine for swollen lips or do i need to go to hospital if it gets worse",
    "whats good for a swollen tongue",
    "does ice help swollen lips",
    "will ice help with swollen lips",
    # A sign standing bare after what was read or heard: passed on, or told?
    # No report before the sixteenth session (the answer carried the safety
    # line); its review found the same words with the patient's own sign
    # ("heard about that, throat closing up"), so the question asks first.
    "i read online, throat closing up",
    "saw on tiktok, lips swelling up",
    "i was told, trouble swallowing",
    "i read about botox, throat closing up and trouble breathing",
]

# Escalated to the clinic at least.
ESCALATED = [
    "eyelid drooping, its down past my pupil",
    "my eyelid is drooping, its down a bit",
]

# Asked about, to come, or hearsay: no report (the answer carries the safety line).
NOT_A_REPORT = [
    "how it make the face smooth? the muscle become weak?",
    "will my lips swell like last time?",
    "will my eyes go blurry again like last time",
    "will my lips swell, last time they did",
    "will my eyes go blurry and then clear up?",
    "will my eyelids swell and then settle?",
    "will my lips swell and go down within a day?",
    "will my botox cause swollen lips that go down quickly?",
    "im getting botox next week. how long will my double vision last",
    "what does it mean, double vision",
    "can i take a nap after botox, is blurry vision common",
    "can i put makeup on after botox and is double vision a risk",
    "can i use the sauna after, i heard heat causes blurry vision",
    "do they use a numbing cream, worried about swollen lips",
    "can i take painkillers after botox, what are the risks, like throat swelling?",
    "what if my lips swell, how long will my swollen lips last",
    "hypothetically, how long will my double vision last",
    "suppose i get double vision, how long will my double vision last",
    "if my throat swells will my swollen throat go down on its own",
    "before i book: will my double vision go away if it happens",
    "what to expect after a lip flip, lips swelling",
    "tell me about the lip flip, swollen lips after",
    "i want to know about aftercare, lips swelling",
    "how long will my lip swelling last after my lip flip next week",
    "Years ago, my throat closed up after eating nuts. Is botox safe for me?",
    "years ago, i couldnt breathe after penicillin, can i still have botox",
]

# Resolved, habitual, or not the sign: never the emergency reply.
NOT_AN_EMERGENCY = [
    "the swelling on one side of my face has gone down",
    "right side of my face calmed down",
    "one side of my face swelling went down, other side still a bit puffy",
    "the bruise on the left side of my face has gone down",
    "the puffiness on one side of my mouth is going down",
    "one side of my mouth turns down when i smile",
    "i have naturally puffy lips, can a lip flip help?",
    "i get a puffy mouth when i eat shellfish, can i have botox?",
    "my lips are down now thank god",
    "my lip is down, the swelling i mean",
    "the bump beside my eye is down",
    "the bruising at my eye is down",
    "the swelling on one side of my face is down",
]


@pytest.mark.parametrize("text", cases(EMERGENCY))
def test_emergency(text: str) -> None:
    assert outcome(text) == "emergency"


@pytest.mark.parametrize("text", cases(SCREENED))
def test_screened_first(text: str) -> None:
    assert outcome(text) in ("screen", "emergency")


@pytest.mark.parametrize("text", cases(ESCALATED))
def test_escalated(text: str) -> None:
    assert outcome(text) in ("urgent", "screen", "emergency")


@pytest.mark.parametrize("text", cases(NOT_A_REPORT))
def test_not_a_report(text: str) -> None:
    assert outcome(text) == "non_report"


@pytest.mark.parametrize("text", cases(NOT_AN_EMERGENCY))
def test_not_an_emergency(text: str) -> None:
    assert outcome(text) != "emergency"
