"""Texting shorthand is spelled out for the meaning classifier; the message itself is kept."""

from __future__ import annotations

import pytest

from clinic_core.shorthand import spelled_out


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("need appt asap pls", "need appointment asap please"),
        ("Thx!", "thanks!"),
        ("can u call me tmrw", "can you call me tomorrow"),
        ("ty", "thank you"),
        ("hw long bcoz my wedding", "how long because my wedding"),
        ("idk wat time", "i don't know what time"),
    ],
)
def test_shorthand_is_spelled_out(typed: str, read: str) -> None:
    assert spelled_out(typed) == read


@pytest.mark.parametrize(
    "text",
    [
        "my right eye (r eye) feels heavy",  # "r" can be "right": not listed
        "it's a cosmetic thing cos i want to look fresh",  # "cos": because or cosmetic
        "you're not a bot are you",
        "thursday at 2pm",
        "umm what",  # a listed word inside another word is left alone
        "Dr's note",  # an apostrophe joins it to the next letters
        "Dr\u2019s note",  # a curly one too
        "u\u2019ll see",
        "20 u of botox",  # units, not "you"
        "50u in the forehead",
        "is the injector an RN",  # registered nurse
        "im on the bc pill",  # birth control
        "my cuz wants to come too",  # cousin
        "allergic to msg",
        "\u0130dk",  # lower-cases to no listed word: left as typed, never an error
        "pl\u017f",
    ],
)
def test_other_words_are_left_alone(text: str) -> None:
    assert spelled_out(text) == text


def test_the_trained_model_reads_a_texted_booking_as_a_booking(parse) -> None:
    """Without the spelling out, this message went to the fallback (dev set, 2026-12-06)."""
    parsed = parse("need appt asap pls")
    assert parsed["intent"]["name"] == "book_appointment"
    assert parsed["text"] == "need appt asap pls"  # what is stored and shown is the patient's
