"""Reading a patient's preferred appointment time (clinic_core/booking_time.py).

Every test fixes `now` at Thursday 2026-11-26 10:15 in New York unless it says
otherwise.  The clinic is open Mon-Thu 09:00-18:00, Fri 09:00-17:00,
Sat 10:00-14:00 and closed on Sunday.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from clinic_core.booking_time import (
    HORIZON_DAYS,
    REASONS,
    TimeProblem,
    TimeWindow,
    find_preferred_time,
    parse_preferred_time,
)
from clinic_core.clinic import Clinic, parse_clinic

NEW_YORK = ZoneInfo("America/New_York")
HOURS = {
    "monday": "09:00-18:00",
    "tuesday": "09:00-18:00",
    "wednesday": "09:00-18:00",
    "thursday": "09:00-18:00",
    "friday": "09:00-17:00",
    "saturday": "10:00-14:00",
    "sunday": "",
}


def make_clinic(**overrides: object) -> Clinic:
    raw = {
        "name": "Test Clinic",
        "phone": "+1 555-0100",
        "emergency_number": "911",
        "country": "US",
        "timezone": "America/New_York",
        "opening_hours": HOURS,
    }
    raw.update(overrides)
    return parse_clinic(raw)


CLINIC = make_clinic()
NOW = datetime(2026, 11, 26, 10, 15, tzinfo=NEW_YORK)  # a Thursday


def local(text: str, zone: ZoneInfo = NEW_YORK) -> datetime:
    """'2026-11-27 09:00' as an aware datetime in `zone`."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=zone)


def problem(text: str, clinic: Clinic = CLINIC, now: datetime = NOW, **kwargs: int) -> TimeProblem:
    with pytest.raises(TimeProblem) as caught:
        parse_preferred_time(text, clinic, now, **kwargs)
    return caught.value


def test_now_is_a_thursday() -> None:
    assert NOW.strftime("%A") == "Thursday"


# --------------------------------------------------------------------------
# The grammar: text -> exact window
# --------------------------------------------------------------------------

DAYS = [
    # relative days
    ("today", "2026-11-26 10:15", "2026-11-26 18:00"),  # already open: starts now
    ("tomorrow", "2026-11-27 09:00", "2026-11-27 17:00"),
    ("Tomorrow", "2026-11-27 09:00", "2026-11-27 17:00"),
    ("tmrw", "2026-11-27 09:00", "2026-11-27 17:00"),
    ("tomorow", "2026-11-27 09:00", "2026-11-27 17:00"),
    ("tommorow please", "2026-11-27 09:00", "2026-11-27 17:00"),
    ("day after tomorrow", "2026-11-28 10:00", "2026-11-28 14:00"),
    ("the day after tomorrow", "2026-11-28 10:00", "2026-11-28 14:00"),
    # weekday names
    ("friday", "2026-11-27 09:00", "2026-11-27 17:00"),
    ("on friday", "2026-11-27 09:00", "2026-11-27 17:00"),
    ("this friday", "2026-11-27 09:00", "2026-11-27 17:00"),
    ("next friday", "2026-11-27 09:00", "2026-11-27 17:00"),  # first Friday after today
    ("fri", "2026-11-27 09:00", "2026-11-27 17:00"),
    ("monday", "2026-11-30 09:00", "2026-11-30 18:00"),
    ("mon", "2026-11-30 09:00", "2026-11-30 18:00"),
    ("tuesday", "2026-12-01 09:00", "2026-12-01 18:00"),
    ("tues", "2026-12-01 09:00", "2026-12-01 18:00"),
    ("tue", "2026-12-01 09:00", "2026-12-01 18:00"),
    ("wed", "2026-12-02 09:00", "2026-12-02 18:00"),
    ("wensday", "2026-12-02 09:00", "2026-12-02 18:00"),
    ("thursday", "2026-11-26 10:15", "2026-11-26 18:00"),  # today, still open
    ("this thursday", "2026-11-26 10:15", "2026-11-26 18:00"),
    ("thurs", "2026-11-26 10:15", "2026-11-26 18:00"),
    ("next thursday", "2026-12-03 09:00", "2026-12-03 18:00"),  # strictly after today
    ("saturday", "2026-11-28 10:00", "2026-11-28 14:00"),
    ("sat", "2026-11-28 10:00", "2026-11-28 14:00"),
    ("friday next week", "2026-12-04 09:00", "2026-12-04 17:00"),
    # weekends, weekdays, next week
    ("this weekend", "2026-11-28 10:00", "2026-11-28 14:00"),
    ("weekend", "2026-11-28 10:00", "2026-11-28 14:00"),
    ("next weekend", "2026-12-05 10:00", "2026-12-05 14:00"),
    ("any weekday", "2026-11-26 10:15", "2026-11-26 18:00"),  # enough of today remains
    ("a weekday", "2026-11-26 10:15", "2026-11-26 18:00"),
    ("weekday", "2026-11-26 10:15", "2026-11-26 18:00"),
    ("next week", "2026-11-30 09:00", "2026-12-05 14:00"),  # Monday opening to Saturday closing
    ("sometime next week", "2026-11-30 09:00", "2026-12-05 14:00"),
    # explicit dates (US clinic: month first)
    ("3/12", "2027-03-12 09:00", "2027-03-12 17:00"),
    ("3/12/2027", "2027-03-12 09:00", "2027-03-12 17:00"),
    ("3/12/27", "2027-03-12 09:00", "2027-03-12 17:00"),
    ("12/3", "2026-12-03 09:00", "2026-12-03 18:00"),
    ("12th december", "2026-12-12 10:00", "2026-12-12 14:00"),
    ("december 12", "2026-12-12 10:00", "2026-12-12 14:00"),
    ("December 12th, 2026", "2026-12-12 10:00", "2026-12-12 14:00"),
    ("dec 3rd", "2026-12-03 09:00", "2026-12-03 18:00"),
    ("3rd of december", "2026-12-03 09:00", "2026-12-03 18:00"),
    ("jan 4", "2027-01-04 09:00", "2027-01-04 18:00"),
    ("the 12th", "2026-12-12 10:00", "2026-12-12 14:00"),  # the 12th of November has passed
    ("12th", "2026-12-12 10:00", "2026-12-12 14:00"),
    ("the 30th", "2026-11-30 09:00", "2026-11-30 18:00"),  # still this month
    ("the 26th", "2026-11-26 10:15", "2026-11-26 18:00"),  # today
    ("the 1st", "2026-12-01 09:00", "2026-12-01 18:00"),
    ("the 31st", "2026-12-31 09:00", "2026-12-31 18:00"),  # November has no 31st
    ("2026-12-03", "2026-12-03 09:00", "2026-12-03 18:00"),
    ("nov 26", "2026-11-26 10:15", "2026-11-26 18:00"),  # today, not next year
    # relative phrases
    ("in 4 days", "2026-11-30 09:00", "2026-11-30 18:00"),
    ("in 2 weeks", "2026-12-10 09:00", "2026-12-10 18:00"),
    ("in a week", "2026-12-03 09:00", "2026-12-03 18:00"),
    ("in two weeks", "2026-12-10 09:00", "2026-12-10 18:00"),
    ("in a couple of weeks", "2026-12-10 09:00", "2026-12-10 18:00"),
    ("in 3 months", "2027-02-26 09:00", "2027-02-26 17:00"),
]


@pytest.mark.parametrize(("text", "start", "end"), DAYS)
def test_a_day_alone_gives_its_opening_hours(text: str, start: str, end: str) -> None:
    window = parse_preferred_time(text, CLINIC, NOW)
    assert (window.start, window.end) == (local(start), local(end))


TIMES = [
    # a specific time is a one-hour window; today if still ahead, else the next open day
    ("at 10", "2026-11-27 10:00", "2026-11-27 11:00"),  # 10:00 today has gone
    ("10am", "2026-11-27 10:00", "2026-11-27 11:00"),
    ("10 am", "2026-11-27 10:00", "2026-11-27 11:00"),
    ("10 a.m.", "2026-11-27 10:00", "2026-11-27 11:00"),
    ("2pm", "2026-11-26 14:00", "2026-11-26 15:00"),
    ("2 PM", "2026-11-26 14:00", "2026-11-26 15:00"),
    ("2:30pm", "2026-11-26 14:30", "2026-11-26 15:30"),
    ("14:30", "2026-11-26 14:30", "2026-11-26 15:30"),
    ("noon", "2026-11-26 12:00", "2026-11-26 13:00"),
    ("midday", "2026-11-26 12:00", "2026-11-26 13:00"),
    ("at 10 o'clock", "2026-11-27 10:00", "2026-11-27 11:00"),
    ("around 11", "2026-11-26 11:00", "2026-11-26 12:00"),
    ("at ten", "2026-11-27 10:00", "2026-11-27 11:00"),
    # an hour without am/pm: 1-7 pm, 8-11 am, 12 noon
    ("monday at 1", "2026-11-30 13:00", "2026-11-30 14:00"),
    ("monday at 5", "2026-11-30 17:00", "2026-11-30 18:00"),
    ("monday at 9:30", "2026-11-30 09:30", "2026-11-30 10:30"),
    ("monday at 11", "2026-11-30 11:00", "2026-11-30 12:00"),
    ("monday at 12", "2026-11-30 12:00", "2026-11-30 13:00"),
    ("monday 2:30", "2026-11-30 14:30", "2026-11-30 15:30"),
    # day + time
    ("tomorrow at 3pm", "2026-11-27 15:00", "2026-11-27 16:00"),
    ("tuesday 10am", "2026-12-01 10:00", "2026-12-01 11:00"),
    ("tues 2:30pm", "2026-12-01 14:30", "2026-12-01 15:30"),
    ("next tuesday at 2:30", "2026-12-01 14:30", "2026-12-01 15:30"),
    ("December 3 at 10am", "2026-12-03 10:00", "2026-12-03 11:00"),
    ("12/3 at 14:30", "2026-12-03 14:30", "2026-12-03 15:30"),
    ("14:30 on the 3rd", "2026-12-03 14:30", "2026-12-03 15:30"),
    ("today at 4pm", "2026-11-26 16:00", "2026-11-26 17:00"),
    ("thursday at 9am", "2026-12-03 09:00", "2026-12-03 10:00"),  # 9am today has gone
    ("friday at 4:30pm", "2026-11-27 16:30", "2026-11-27 17:00"),  # cut at closing time
    ("next week at 10am", "2026-11-30 10:00", "2026-11-30 11:00"),
    ("saturday at noon", "2026-11-28 12:00", "2026-11-28 13:00"),
]


@pytest.mark.parametrize(("text", "start", "end"), TIMES)
def test_a_specific_time_gives_an_hour(text: str, start: str, end: str) -> None:
    window = parse_preferred_time(text, CLINIC, NOW)
    assert (window.start, window.end) == (local(start), local(end))


DAY_PARTS = [
    # no day: today if the part is wholly ahead, else the next open day
    ("morning", "2026-11-27 09:00", "2026-11-27 12:00"),  # this morning has begun
    ("in the morning", "2026-11-27 09:00", "2026-11-27 12:00"),
    ("afternoon", "2026-11-26 12:00", "2026-11-26 17:00"),
    ("evening", "2026-11-26 17:00", "2026-11-26 18:00"),
    ("lunchtime", "2026-11-26 12:00", "2026-11-26 14:00"),
    ("lunch", "2026-11-26 12:00", "2026-11-26 14:00"),
    ("first thing", "2026-11-27 09:00", "2026-11-27 10:00"),
    ("first thing in the morning", "2026-11-27 09:00", "2026-11-27 10:00"),
    ("end of the day", "2026-11-26 16:00", "2026-11-26 18:00"),
    ("end of day", "2026-11-26 16:00", "2026-11-26 18:00"),
    ("after work", "2026-11-26 16:00", "2026-11-26 18:00"),
    # a named day
    ("this morning", "2026-11-26 10:15", "2026-11-26 12:00"),  # begun: starts now
    ("this afternoon", "2026-11-26 12:00", "2026-11-26 17:00"),
    ("tonight", "2026-11-26 17:00", "2026-11-26 18:00"),
    ("tomorrow morning", "2026-11-27 09:00", "2026-11-27 12:00"),
    ("tomorrow afternoon", "2026-11-27 12:00", "2026-11-27 17:00"),
    ("tomorrow end of the day", "2026-11-27 15:00", "2026-11-27 17:00"),
    ("tomorrow after work", "2026-11-27 15:00", "2026-11-27 17:00"),
    ("next friday morning", "2026-11-27 09:00", "2026-11-27 12:00"),
    ("next tuesday afternoon", "2026-12-01 12:00", "2026-12-01 17:00"),
    ("monday evening", "2026-11-30 17:00", "2026-11-30 18:00"),
    ("monday first thing", "2026-11-30 09:00", "2026-11-30 10:00"),
    # cut to the day's opening hours (Saturday 10:00-14:00)
    ("saturday morning", "2026-11-28 10:00", "2026-11-28 12:00"),
    ("saturday afternoon", "2026-11-28 12:00", "2026-11-28 14:00"),
    ("saturday lunchtime", "2026-11-28 12:00", "2026-11-28 14:00"),
    ("saturday first thing", "2026-11-28 10:00", "2026-11-28 11:00"),
    ("saturday end of the day", "2026-11-28 12:00", "2026-11-28 14:00"),
    # a day-part settles am/pm
    ("tomorrow morning at 10", "2026-11-27 10:00", "2026-11-27 11:00"),
    ("tomorrow afternoon at 3", "2026-11-27 15:00", "2026-11-27 16:00"),
    ("monday evening at 5", "2026-11-30 17:00", "2026-11-30 18:00"),
    # any weekday, weekend and next week with a day-part
    ("any weekday morning", "2026-11-27 09:00", "2026-11-27 12:00"),
    ("weekday afternoon", "2026-11-26 12:00", "2026-11-26 17:00"),
    ("weekend morning", "2026-11-28 10:00", "2026-11-28 12:00"),
    ("next week in the afternoon", "2026-11-30 12:00", "2026-11-30 17:00"),
]


@pytest.mark.parametrize(("text", "start", "end"), DAY_PARTS)
def test_a_day_part_gives_its_part_of_the_opening_hours(text: str, start: str, end: str) -> None:
    window = parse_preferred_time(text, CLINIC, NOW)
    assert (window.start, window.end) == (local(start), local(end))


FLEXIBLE = [
    "asap",
    "ASAP",
    "as soon as possible",
    "earliest",
    "the earliest you have",
    "soonest",
    "whenever",
    "any time",
    "anytime",
    "flexible",
    "I'm flexible",
    "no preference",
]


@pytest.mark.parametrize("text", FLEXIBLE)
def test_flexible_answers_give_the_rest_of_today(text: str) -> None:
    window = parse_preferred_time(text, CLINIC, NOW)
    assert (window.start, window.end) == (local("2026-11-26 10:15"), local("2026-11-26 18:00"))


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        ("2026-11-26 07:00", "2026-11-26 09:00", "2026-11-26 18:00"),  # before opening
        ("2026-11-26 16:59", "2026-11-26 16:59", "2026-11-26 18:00"),  # just over an hour left
        ("2026-11-26 17:15", "2026-11-27 09:00", "2026-11-27 17:00"),  # too little left
        ("2026-11-26 19:00", "2026-11-27 09:00", "2026-11-27 17:00"),  # closed for today
        ("2026-11-28 13:30", "2026-11-30 09:00", "2026-11-30 18:00"),  # Saturday, then Sunday
    ],
)
def test_asap_needs_an_hour_of_today_left(now: str, start: str, end: str) -> None:
    window = parse_preferred_time("asap", CLINIC, local(now))
    assert (window.start, window.end) == (local(start), local(end))


def test_any_weekday_late_in_the_day_is_the_next_weekday() -> None:
    window = parse_preferred_time("any weekday", CLINIC, local("2026-11-27 16:30"))  # Friday
    assert (window.start, window.end) == (local("2026-11-30 09:00"), local("2026-11-30 18:00"))


def test_this_weekend_said_on_saturday_is_today() -> None:
    window = parse_preferred_time("this weekend", CLINIC, local("2026-11-28 10:30"))
    assert (window.start, window.end) == (local("2026-11-28 10:30"), local("2026-11-28 14:00"))


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("friday", "2026-11-27 09:30", "2026-11-27 17:00"),  # today, still open
        ("this friday", "2026-11-27 09:30", "2026-11-27 17:00"),
        ("next friday", "2026-12-04 09:00", "2026-12-04 17:00"),
        ("friday at 3pm", "2026-11-27 15:00", "2026-11-27 16:00"),
        ("friday at 9am", "2026-12-04 09:00", "2026-12-04 10:00"),  # 9am today has gone
    ],
)
def test_a_weekday_named_on_that_day(text: str, start: str, end: str) -> None:
    now = local("2026-11-27 09:30")  # a Friday
    window = parse_preferred_time(text, CLINIC, now)
    assert (window.start, window.end) == (local(start), local(end))


def test_friday_said_on_friday_after_closing_is_next_friday() -> None:
    window = parse_preferred_time("friday", CLINIC, local("2026-11-27 17:30"))
    assert (window.start, window.end) == (local("2026-12-04 09:00"), local("2026-12-04 17:00"))


def test_next_week_said_on_sunday_is_the_following_week() -> None:
    window = parse_preferred_time("next week", CLINIC, local("2026-11-29 12:00"))
    assert (window.start, window.end) == (local("2026-11-30 09:00"), local("2026-12-05 14:00"))


# --------------------------------------------------------------------------
# Day-first countries
# --------------------------------------------------------------------------

GB_CLINIC = make_clinic(country="GB")


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("3/12", "2026-12-03 09:00", "2026-12-03 18:00"),  # 3 December
        ("12/3", "2027-03-12 09:00", "2027-03-12 17:00"),  # 12 March
        ("3/12/2026", "2026-12-03 09:00", "2026-12-03 18:00"),
        ("3.12.2026", "2026-12-03 09:00", "2026-12-03 18:00"),
        ("28/11 at 11", "2026-11-28 11:00", "2026-11-28 12:00"),
        ("3 december", "2026-12-03 09:00", "2026-12-03 18:00"),
    ],
)
def test_day_first_dates_outside_the_us(text: str, start: str, end: str) -> None:
    window = parse_preferred_time(text, GB_CLINIC, NOW)
    assert (window.start, window.end) == (local(start), local(end))


def test_month_first_reading_of_a_day_first_date_is_invalid_in_the_us() -> None:
    assert problem("28/11").reason == "invalid_date"


def test_day_first_reading_of_a_month_first_date_is_invalid_in_gb() -> None:
    assert problem("11/28", GB_CLINIC).reason == "invalid_date"


# --------------------------------------------------------------------------
# Problems: every reason, with a friendly message
# --------------------------------------------------------------------------

PROBLEMS = [
    # empty
    ("", "empty"),
    ("   ", "empty"),
    ("\n\t", "empty"),
    ("🙂🙂", "empty"),
    ("?!...", "empty"),
    # not understood
    ("hello", "not_understood"),
    ("I'd like botox", "not_understood"),
    ("<script>alert(1)</script>", "not_understood"),
    ("a" * 5000, "not_understood"),
    ("tomorrow " * 600, "not_understood"),  # far too long to be an answer
    ("07700 900123", "not_understood"),  # a phone number is not a date
    ("12/03/20261234", "not_understood"),  # nor is a date-like long digit run
    ("25:00", "not_understood"),
    ("13pm", "not_understood"),
    ("this week", "not_understood"),
    ("good morning", "not_understood"),  # a greeting, not a day-part
    # invalid dates
    ("31 feb", "invalid_date"),
    ("feb 30", "invalid_date"),
    ("13/45", "invalid_date"),
    ("2/30/2027", "invalid_date"),
    ("2027-02-29", "invalid_date"),
    ("april 31st", "invalid_date"),
    ("the 32nd", "invalid_date"),
    # past
    ("yesterday", "past"),
    ("day before yesterday", "past"),
    ("last monday", "past"),
    ("last thursday", "past"),
    ("last week", "past"),
    ("3 days ago", "past"),
    ("11/20/2026", "past"),
    ("nov 20", "past"),  # the nearest November 20 is last week's
    ("2025-12-03", "past"),
    ("today at 9am", "past"),
    ("today at 10am", "past"),  # already begun
    # too far
    ("in 2 years", "too_far"),
    ("in 1 year", "too_far"),
    ("3/12/2028", "too_far"),
    ("dec 3 2027", "too_far"),
    ("feb 29", "too_far"),  # next one is in 2028
    # closed day
    ("sunday", "closed_day"),
    ("sunday 10am", "closed_day"),
    ("sun morning", "closed_day"),
    ("next sunday", "closed_day"),
    ("in 3 days", "closed_day"),  # a Sunday
    ("11/29", "closed_day"),
    # outside hours
    ("saturday at 6pm", "outside_hours"),
    ("saturday evening", "outside_hours"),
    ("friday evening", "outside_hours"),
    ("friday at 5pm", "outside_hours"),  # Friday closes at 17:00
    ("tomorrow at 7", "outside_hours"),  # 7pm
    ("7am", "outside_hours"),
    ("at 8", "outside_hours"),  # 8am
    ("monday at 8:30", "outside_hours"),  # 8:30am, before opening
    ("midnight", "outside_hours"),
    ("tomorrow morning at 7", "outside_hours"),  # 7am
    ("weekend at 6pm", "outside_hours"),
]


@pytest.mark.parametrize(("text", "reason"), PROBLEMS)
def test_problems_have_a_reason(text: str, reason: str) -> None:
    assert problem(text).reason == reason


def test_every_reason_is_covered() -> None:
    assert {reason for _, reason in PROBLEMS} == set(REASONS)


@pytest.mark.parametrize(("text", "reason"), PROBLEMS)
def test_problem_messages_are_short_polite_plain_text(text: str, reason: str) -> None:
    message = str(problem(text))
    assert message.startswith(("Sorry", "It looks like"))
    assert message.endswith("?")  # ends by asking again
    assert "for example '" in message
    sentences = re.findall(r"[.?!](?:\s|$)", message)
    assert 1 <= len(sentences) <= 2, message
    assert not re.search(r"[<>*_`#\[\]{}]", message), message
    assert "\n" not in message


def test_not_understood_message_suggests_what_to_write() -> None:
    assert str(problem("hello")) == (
        "Sorry, I couldn't work out a date from that. Could you tell me a day and time, "
        "for example 'next Tuesday afternoon' or 'December 3 at 10am'?"
    )


def test_invalid_date_message_names_the_date() -> None:
    assert "'31 feb' isn't a date that exists" in str(problem("31 feb"))


def test_past_message_names_the_day() -> None:
    assert "Wednesday, November 25, 2026 has already passed" in str(problem("yesterday"))


def test_past_message_for_a_time_earlier_today() -> None:
    assert "9am today has already passed" in str(problem("today at 9am"))


def test_past_message_after_closing_time() -> None:
    message = str(problem("today", now=local("2026-11-26 18:30")))
    assert "already closed for today" in message


def test_this_morning_said_in_the_afternoon_is_past() -> None:
    assert problem("this morning", now=local("2026-11-26 13:00")).reason == "past"


def test_too_far_message_says_how_far_ahead() -> None:
    message = str(problem("in 2 years"))
    assert "up to 180 days ahead" in message
    assert "May 25, 2027" in message


def test_closed_day_message_lists_the_open_days() -> None:
    message = str(problem("sunday 10am"))
    assert "closed on Sundays" in message
    assert "Monday, Tuesday, Wednesday, Thursday, Friday and Saturday" in message
    assert "for example 'Friday at 9am'" in message  # tomorrow, at opening time


def test_outside_hours_message_gives_that_days_hours() -> None:
    message = str(problem("saturday at 6pm"))
    assert "6pm" in message
    assert "on Saturdays, when we're open 10:00 to 14:00" in message
    assert "for example 'Saturday at 10am'" in message


def test_outside_hours_without_a_day_gives_all_hours() -> None:
    message = str(problem("7am"))
    assert "7am" in message
    assert "Monday 09:00-18:00" in message and "Sunday closed" in message


def test_a_clinic_without_opening_hours_cannot_take_a_day() -> None:
    clinic = make_clinic(opening_hours={})
    caught = problem("tomorrow", clinic)
    assert caught.reason == "closed_day"
    assert "call" in str(caught)


def test_an_unreadable_opening_hours_entry_counts_as_closed() -> None:
    clinic = make_clinic(opening_hours={**HOURS, "monday": "nine to five"})
    assert problem("monday", clinic).reason == "closed_day"


def test_time_problem_is_a_value_error_with_a_known_reason() -> None:
    caught = TimeProblem("past", "Sorry, that has passed.")
    assert isinstance(caught, ValueError)
    assert caught.reason == "past" and str(caught) == "Sorry, that has passed."
    with pytest.raises(ValueError):
        TimeProblem("nonsense", "x")


# --------------------------------------------------------------------------
# Horizon
# --------------------------------------------------------------------------


def test_default_horizon_is_180_days() -> None:
    assert HORIZON_DAYS == 180
    assert parse_preferred_time("in 179 days", CLINIC, NOW).start.date().isoformat() == (
        "2027-05-24"
    )
    assert problem("in 181 days").reason == "too_far"


def test_horizon_can_be_shortened() -> None:
    assert problem("in 2 weeks", horizon_days=7).reason == "too_far"
    assert "up to 7 days ahead" in str(problem("in 2 weeks", horizon_days=7))
    window = parse_preferred_time("in 2 weeks", CLINIC, NOW, horizon_days=30)
    assert window.start == local("2026-12-10 09:00")


# --------------------------------------------------------------------------
# Timezones and the TimeWindow itself
# --------------------------------------------------------------------------


def test_windows_are_in_the_clinic_timezone() -> None:
    window = parse_preferred_time("tomorrow at 3pm", CLINIC, NOW)
    assert window.start.tzinfo.key == "America/New_York"
    assert window.end.tzinfo.key == "America/New_York"


def test_now_in_another_timezone_is_read_in_the_clinics() -> None:
    # 02:30 UTC on the 27th is still the evening of the 26th in New York.
    now = datetime(2026, 11, 27, 2, 30, tzinfo=ZoneInfo("UTC"))
    window = parse_preferred_time("tomorrow", CLINIC, now)
    assert (window.start, window.end) == (local("2026-11-27 09:00"), local("2026-11-27 17:00"))
    assert window.start.tzinfo.key == "America/New_York"


def test_a_london_clinic_reads_today_in_london() -> None:
    london = ZoneInfo("Europe/London")
    clinic = make_clinic(country="GB", timezone="Europe/London")
    now = datetime(2026, 11, 26, 15, 15, tzinfo=NEW_YORK)  # 20:15 in London: closed
    window = parse_preferred_time("asap", clinic, now)
    assert window.start == local("2026-11-27 09:00", london)
    assert window.start.tzinfo.key == "Europe/London"


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_preferred_time("tomorrow", CLINIC, datetime(2026, 11, 26, 10, 15))


@pytest.mark.parametrize(
    "text", ["  Next Friday morning please  ", "tmrw @ 3", "Sat 11am", "asap!!\n"]
)
def test_window_keeps_the_patients_own_words(text: str) -> None:
    window = parse_preferred_time(text, CLINIC, NOW)
    assert window.text == text.strip()


@pytest.mark.parametrize("text", ["tomorrow", "next week", "asap", "saturday morning", "2pm"])
def test_windows_end_after_they_start(text: str) -> None:
    window = parse_preferred_time(text, CLINIC, NOW)
    assert isinstance(window, TimeWindow)
    assert window.end > window.start >= NOW.replace(second=0)


# --------------------------------------------------------------------------
# find_preferred_time: a time mentioned in passing
# --------------------------------------------------------------------------

FOUND = [
    ("I'm Ana Diaz, can I book next Friday morning? 07700 900123", "2026-11-27 09:00", "12:00"),
    ("can i come in tomorrow at 3pm", "2026-11-27 15:00", "16:00"),
    ("Hi, is Tuesday at 2:30pm free? My number is +1 555-0100", "2026-12-01 14:30", "15:30"),
    ("I'd like a consultation on December 3 at 10am please", "2026-12-03 10:00", "11:00"),
    ("could I come in on the 3rd?", "2026-12-03 09:00", "18:00"),
    ("maybe wednesday afternoon", "2026-12-02 12:00", "17:00"),
    ("sometime next week would be great", "2026-11-30 09:00", "14:00"),
]


@pytest.mark.parametrize(("text", "start", "end_time"), FOUND)
def test_find_a_time_in_a_sentence(text: str, start: str, end_time: str) -> None:
    window = find_preferred_time(text, CLINIC, NOW)
    assert window is not None
    assert window.start == local(start)
    assert window.end.strftime("%H:%M") == end_time
    assert window.text == text.strip()


NOT_FOUND = [
    "my number is 07700 900123",
    "hi i'd like to book",
    "good morning, I'd like to book botox",  # a greeting, not a day-part
    "I prefer mornings",  # a day-part alone is not a clear day or time
    "I'm flexible, book me in",
    "I'm 35, may I book a consultation",
    "call me on (555) 010-0100",
    "my number is +1 555-0100",
    "how much is botox for 3 areas?",
    "I sat in your waiting room for an hour",  # "sat" is not Saturday here
    "born 03/04/1990",  # a past date, not a preference
    "is 12/03/20261234 ok",
    "Could I come on Sunday?",  # closed: no usable window
    "can I come yesterday",
    "book me for 31 feb",
    "<script>alert(1)</script>",
    "🙂🙂",
    "",
    "   ",
    "tomorrow " * 600,
]


@pytest.mark.parametrize("text", NOT_FOUND)
def test_find_nothing_without_a_clear_usable_time(text: str) -> None:
    assert find_preferred_time(text, CLINIC, NOW) is None
