"""Probes a reviewer wrote against this session's triage changes, frozen as tests.

Each failed on the first or second version of the change (or on the code
before it) and is mended; they keep the mends from coming undone.
"""

from __future__ import annotations

import pytest

from clinic_core import screening


def _outcome(text: str) -> str:
    return screening.read(text, "faq/side_effects", semantic=False).outcome


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
]

# What to take for a red flag: the screening question first (or the emergency reply).
SCREENED = [
    "can i take something for swollen tongue, idk if its serious",
    "can i take antihistamine for swollen lips, not sure if its the botox",
    "can i take antihistamine for swollen lips, wondering if its an allergy",
    "what helps with swollen lips",
    "what is good for swollen lips",
    "can i have some medicine for swollen lips",
    "can I take an antihistamine, lips swelling",
]

# Escalated to the clinic at least.
ESCALATED = [
    "eyelid drooping, its down past my pupil",
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
    "i read online, throat closing up",
    "saw on tiktok, lips swelling up",
    "i was told, trouble swallowing",
    "i read about botox, throat closing up and trouble breathing",
    "what does it mean, double vision",
    "can i take a nap after botox, is blurry vision common",
    "can i put makeup on after botox and is double vision a risk",
    "can i use the sauna after, i heard heat causes blurry vision",
    "do they use a numbing cream, worried about swollen lips",
    "can i take painkillers after botox, what are the risks, like throat swelling?",
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
    "the swelling next to my eye is down now",
    "the bump beside my eye is down",
    "the bruising at my eye is down",
]


def _ids(texts: list[str]) -> list:
    return [pytest.param(t, id=f"{i:02d}") for i, t in enumerate(texts, 1)]


@pytest.mark.parametrize("text", _ids(EMERGENCY))
def test_emergency(text: str) -> None:
    assert _outcome(text) == "emergency"


@pytest.mark.parametrize("text", _ids(SCREENED))
def test_screened_first(text: str) -> None:
    assert _outcome(text) in ("screen", "emergency")


@pytest.mark.parametrize("text", _ids(ESCALATED))
def test_escalated(text: str) -> None:
    assert _outcome(text) in ("urgent", "screen", "emergency")


@pytest.mark.parametrize("text", _ids(NOT_A_REPORT))
def test_not_a_report(text: str) -> None:
    assert _outcome(text) == "non_report"


@pytest.mark.parametrize("text", _ids(NOT_AN_EMERGENCY))
def test_not_an_emergency(text: str) -> None:
    assert _outcome(text) != "emergency"
