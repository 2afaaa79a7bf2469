"""Validators for the booking form's answers (the time has its own tests)."""

from __future__ import annotations

import pytest

from clinic_core import booking_fields as fields


@pytest.mark.parametrize(
    "text, region, expected",
    [
        ("(201) 555-0123", "US", "+12015550123"),
        ("201-555-0123", "US", "+12015550123"),
        ("2015550123", "US", "+12015550123"),
        ("+1 201 555 0123", "US", "+12015550123"),
        ("my number is 201.555.0123 thanks", "US", "+12015550123"),
        ("07700 900123", "GB", "+447700900123"),
        ("07911 123456", "GB", "+447911123456"),
        ("+44 7911 123456", "US", "+447911123456"),
        ("0044 7911 123456", "GB", "+447911123456"),
        ("+34 612 345 678", "US", "+34612345678"),
    ],
)
def test_valid_phone_numbers_are_normalised_to_e164(text: str, region: str, expected: str) -> None:
    assert fields.parse_phone(text, region) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "12",
        "555-0100",
        "abc",
        "call me",
        "😀",
        "1234567890123456789",
        "<script>alert(1)</script>",
        "'; DROP TABLE bookings; --",
        "0" * 5000,
    ],
)
def test_invalid_phone_numbers_get_a_specific_reprompt(text: str) -> None:
    with pytest.raises(fields.FieldProblem) as problem:
        fields.parse_phone(text, "US")
    assert "phone number" in str(problem.value) and "for example" in str(problem.value)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I'm Ana Diaz, can I book next Friday morning? 07700 900123", "+447700900123"),
        ("call me on 07911 123456 after 5", "+447911123456"),
    ],
)
def test_phone_found_inside_a_sentence(text: str, expected: str) -> None:
    assert fields.find_phone(text, "GB") == expected


@pytest.mark.parametrize("text", ["can i come on 3/12 at 10", "the 2026-12-03 please", "hi", ""])
def test_dates_and_small_numbers_are_not_phones(text: str) -> None:
    assert fields.find_phone(text, "GB") is None


@pytest.mark.parametrize(
    "text, expected",
    [
        ("ana.diaz@example.com", "ana.diaz@example.com"),
        ("Ana.Diaz@Example.COM", "Ana.Diaz@example.com"),
        ("sure it's ana+botox@example.co.uk", "ana+botox@example.co.uk"),
        ("skip", None),
        ("no thanks", None),
        ("I don't have one", None),
        ("none", None),
    ],
)
def test_emails(text: str, expected: str | None) -> None:
    assert fields.parse_email(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "ana@",
        "ana.example.com",
        "@example.com",
        "ana@example",
        "😀",
        "a" * 5000,
        "<img src=x onerror=alert(1)>@example.com",
        "yes",
    ],
)
def test_invalid_emails_get_a_reprompt_that_mentions_skipping(text: str) -> None:
    with pytest.raises(fields.FieldProblem, match="skip"):
        fields.parse_email(text)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Ana Diaz", "Ana Diaz"),
        ("ana diaz", "Ana Diaz"),
        ("I'm Ana Diaz", "Ana Diaz"),
        ("my name is Zoë O'Neil-Smith", "Zoë O'Neil-Smith"),
        ("  jean   paul  sartre ", "Jean Paul Sartre"),
    ],
)
def test_names(text: str, expected: str) -> None:
    assert fields.parse_name(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("Ana", "first and last name"),
        ("", "full name"),
        ("😀😀", "full name"),
        ("<script>alert(1)</script>", "letters only"),
        ("R2D2 Smith", "letters only"),
        ("x" * 5000, "letters only"),
        ("'; DROP TABLE bookings; --", "letters only"),
    ],
)
def test_invalid_names(text: str, message: str) -> None:
    with pytest.raises(fields.FieldProblem, match=message):
        fields.parse_name(text)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I'm Ana Diaz, can I book next Friday morning? 07700 900123", "Ana Diaz"),
        ("hi my name is ana diaz and i want to book", "Ana Diaz"),
        ("im looking to book botox", None),
        ("I'm new here", None),
        ("hello", None),
    ],
)
def test_names_found_inside_a_sentence(text: str, expected: str | None) -> None:
    assert fields.find_name(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("forehead", "forehead lines"),
        ("my 11s", "frown lines"),
        ("crows feet and forehead", "forehead lines, crow's feet"),
        ("between my eyebrows", "frown lines"),
        ("other", "other: not sure yet"),
        ("jawline", "other: jawline"),
    ],
)
def test_treatment_areas(text: str, expected: str) -> None:
    assert fields.parse_area(text) == expected


@pytest.mark.parametrize("text", ["", "😀", "a" * 300])
def test_invalid_treatment_area(text: str) -> None:
    with pytest.raises(fields.FieldProblem):
        fields.parse_area(text)


@pytest.mark.parametrize(
    "text, intent, expected",
    [
        ("yes", None, True),
        ("it's my first time", None, True),
        ("no", None, False),
        ("I've been before", None, False),
        ("hmm", "affirm", True),
        ("hmm", "deny", False),
    ],
)
def test_first_visit(text: str, intent: str | None, expected: bool) -> None:
    assert fields.parse_new_patient(text, intent) is expected


def test_first_visit_unclear() -> None:
    with pytest.raises(fields.FieldProblem, match="first visit"):
        fields.parse_new_patient("banana", None)
