"""Emergencies in the words of a tester who wrote from the label definitions only.

A helper wrote 220 emergencies blind to the rules (twenty-second session);
210 were caught. Two mechanisms behind the misses are mended here, each
with words of our own: a question followed by "ive had it since
yesterday" or "because i cant since this morning" makes the sign asked
about the patient's (not "since birth" or "since my stroke"), and
"my vision's been double". Metaphors ("someone sitting on my chest", "a
hand around my neck", "the words wont come") and "my legs wont work" were
tried and dropped: a look-alike review found them in jokes, idioms,
exercise and lasting conditions far more often (29 look-alikes newly
made emergencies), and the semantic layer already screens many of them.
"""

from __future__ import annotations

import pytest

from tests.triage_cases import cases, outcome

EMERGENCY = [
    "does botox cause blurred vision? ive had it since last night",
    "can the jabs make breathing hard? ive had it all morning",
    "can botox make swallowing hard? because i cant since lunch",
    "my vision's been double since the appointment",
    "my sight's gone double",
]

NOT_REPORTED = [
    "does botox cause double vision? ive had it since my accident",
    "can botox cause slurred speech? ive had it since birth",
    "does botox make it hard to swallow? ive had it since my stroke",
    "went sightseeing on a double decker bus after my botox",
    "does botox make your vision go double?",
]


@pytest.mark.parametrize("text", cases(EMERGENCY))
def test_a_sign_in_a_testers_words_is_an_emergency(text: str) -> None:
    assert outcome(text) == "emergency"


@pytest.mark.parametrize("text", cases(NOT_REPORTED))
def test_questions_and_other_things_stay_no_report(text: str) -> None:
    assert outcome(text) == "non_report"
