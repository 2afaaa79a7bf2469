"""Read a patient's preferred appointment time from their own words.

A booking request needs a concrete window ("Friday 27 November, 09:00-12:00")
that the clinic can act on, but patients write "next Friday morning", "tmrw at
3" or "the 12th".  This module turns such text into a `TimeWindow` in the
clinic's timezone, or explains in one friendly sentence why it can't
(`TimeProblem`), so the assistant can ask again with a useful hint.

Everything is deterministic: the current time is always passed in as `now`.

dateparser is used only for "in 3 days" / "2 weeks ago" phrases.  It misreads
weekday names and day-parts, and also numeric dates ("13/45" becomes 13
November 2045, "3/12/26" becomes the year 2126), so calendar dates are read
here with small regular expressions whose parts can be checked one by one.

Why one module of this size (about 900 lines): it is one grammar, the
words patients use for a time, and its parts (calendar dates, weekdays,
day-parts, clock times, ranges, relative phrases, the opening-hours check)
share the same vocabulary and `now`; split apart, a rule would have to be
chased across files to see what "next Friday morning" becomes.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import dateparser

from clinic_core.clinic import WEEKDAYS, Clinic

REASONS = (
    "empty",
    "not_understood",
    "invalid_date",
    "past",
    "too_far",
    "closed_day",
    "outside_hours",
)

HORIZON_DAYS = 180  # default booking horizon
MAX_TEXT_LENGTH = 500  # longer messages are not answers to "when would suit you?"
SLOT = timedelta(hours=1)  # a specific time asks for this long
MIN_REMAINING = timedelta(hours=1)  # "today" is only offered with this much opening left
SEARCH_DAYS = 14  # two weeks always contain every weekday twice

# Search modes: how the candidate days of a request are used.
EXACT = "exact"  # the patient named the day: problems with it are reported
SEARCH = "search"  # any of the days will do: take the first that fits
SPAN = "span"  # "next week": one window across all of the days

MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

NOT_UNDERSTOOD = (
    "Sorry, I couldn't work out a date from that. Could you tell me a day and time, "
    "for example 'next Tuesday afternoon' or 'December 3 at 10am'?"
)


@dataclass(frozen=True)
class TimeWindow:
    start: datetime  # tz-aware, clinic timezone
    end: datetime  # tz-aware, clinic timezone, > start
    text: str  # the patient's own words, stripped


class TimeProblem(ValueError):
    """Why a preferred time cannot be used.

    `.reason` is one of REASONS; `str(exc)` is a friendly message for the patient.
    """

    def __init__(self, reason: str, message: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}")
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class _Context:
    """The clinic and the moment a message is read, shared by all the helpers below."""

    clinic: Clinic
    now: datetime  # clinic-local
    horizon_days: int

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.clinic.timezone)

    @property
    def today(self) -> date:
        return self.now.date()

    @property
    def month_first(self) -> bool:
        """Only the US writes 3/12 for March 12; everyone else means 3 December."""
        return self.clinic.country.upper() == "US"


@dataclass(frozen=True)
class _Clock:
    """A time of day as written; `known` is False for "at 3", whose am/pm is guessed."""

    hour: int
    minute: int
    known: bool


@dataclass(frozen=True)
class _Request:
    """What the patient asked for, before it is checked against the opening hours."""

    days: tuple[date, ...]
    mode: str  # EXACT, SEARCH or SPAN
    clock: _Clock | None = None
    part: str | None = None


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def parse_preferred_time(
    text: str, clinic: Clinic, now: datetime, horizon_days: int = HORIZON_DAYS
) -> TimeWindow:
    """The window the patient asked for, in answer to "when would suit you?".

    Raises TimeProblem with a message that can be shown to the patient as is.
    """
    words = text.strip()
    if not any(char.isalnum() for char in words):
        raise TimeProblem(
            "empty",
            "It looks like that message was empty. Could you tell me a day and time "
            "that suits you, for example 'next Tuesday afternoon'?",
        )
    if len(words) > MAX_TEXT_LENGTH:
        raise TimeProblem(
            "not_understood",
            "Sorry, that message is too long for me to find a date in. Could you tell me "
            "just the day and time, for example 'next Tuesday afternoon'?",
        )
    ctx = _Context(clinic, _local_now(now, clinic), horizon_days)
    request = _read_request(_normalise(words, strict=False), ctx, need_day_or_time=False)
    if request is None:
        raise TimeProblem("not_understood", NOT_UNDERSTOOD)
    start, end = _resolve(request, ctx)
    return TimeWindow(start=start, end=end, text=words)


def find_preferred_time(
    text: str, clinic: Clinic, now: datetime, horizon_days: int = HORIZON_DAYS
) -> TimeWindow | None:
    """For a message that is NOT an answer to the time question.

    E.g. "I'm Ana, can I book next Friday morning? 07700 900123": return a
    window if the message clearly contains a date/day/time expression that
    parses and validates, else None (never raises on any text).  Phone
    numbers and other digits that are not dates/times are ignored.
    """
    words = text.strip()
    if not words or len(words) > MAX_TEXT_LENGTH:
        return None
    ctx = _Context(clinic, _local_now(now, clinic), horizon_days)
    try:
        # Strict: "I sat down" is not Saturday, and "morning!" alone is a greeting,
        # so only a day or a clock time counts as a stated preference here.
        request = _read_request(_normalise(words, strict=True), ctx, need_day_or_time=True)
        if request is None:
            return None
        start, end = _resolve(request, ctx)
    except TimeProblem:
        return None
    return TimeWindow(start=start, end=end, text=words)


def _local_now(now: datetime, clinic: Clinic) -> datetime:
    """`now` in the clinic's timezone: "today" is the clinic's today, not the server's."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(ZoneInfo(clinic.timezone))


# --------------------------------------------------------------------------
# Normalising the text
# --------------------------------------------------------------------------

TYPOS = {
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
    "tmrow": "tomorrow",
    "tmorrow": "tomorrow",
    "tomoz": "tomorrow",
    "2moro": "tomorrow",
    "2morrow": "tomorrow",
    "2morow": "tomorrow",
    "2day": "today",
    "tdy": "today",
    "tonite": "tonight",
    "nxt": "next",
    "wk": "week",
    "wknd": "weekend",
    "arvo": "afternoon",
    "firday": "friday",
    "fryday": "friday",
    "munday": "monday",
}

WEEKDAY_ABBREVIATIONS = {
    "mon": "monday",
    "tue": "tuesday",
    "tues": "tuesday",
    "wed": "wednesday",
    "weds": "wednesday",
    "thu": "thursday",
    "thur": "thursday",
    "thurs": "thursday",
    "fri": "friday",
    "sat": "saturday",
    "sun": "sunday",
}

# Abbreviations that are also everyday words ("I sat", "the sun", "we wed").
ENGLISH_WORD_ABBREVIATIONS = {"sat", "sun", "wed"}

NUMBER_WORDS = {
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
}

# Words worth correcting when misspelt; short words are left alone because a
# one-letter slip in them usually makes another real word.
KEYWORDS = (
    *WEEKDAYS,
    "today",
    "tomorrow",
    "tonight",
    "yesterday",
    "morning",
    "afternoon",
    "evening",
    "lunchtime",
    "weekend",
    "weekday",
)


def _normalise(text: str, strict: bool) -> str:
    """Lower case, single spaces, common typos and abbreviations spelt out."""
    lowered = text.lower().replace("\u2019", "'")
    lowered = re.sub(r"\bgood (?:morning|afternoon|evening|day)\b", " ", lowered)
    corrected = re.sub(
        r"[a-z0-9]+(?:'[a-z]+)*", lambda match: _correct_word(match.group(), strict), lowered
    )
    return re.sub(r"\s+", " ", corrected).strip()


def _correct_word(word: str, strict: bool) -> str:
    if word in TYPOS:
        return TYPOS[word]
    if word in NUMBER_WORDS:
        return NUMBER_WORDS[word]
    if word in WEEKDAY_ABBREVIATIONS:
        if strict and word in ENGLISH_WORD_ABBREVIATIONS:
            return word
        return WEEKDAY_ABBREVIATIONS[word]
    if word.isalpha() and len(word) >= 5 and word not in KEYWORDS:
        close = difflib.get_close_matches(word, KEYWORDS, n=1, cutoff=0.85)
        if close:
            return close[0]
    return word


# --------------------------------------------------------------------------
# Reading the request: which day(s), which time or day-part
# --------------------------------------------------------------------------

FLEXIBLE = re.compile(
    r"\b(?:asap|a\.s\.a\.p|as soon as (?:possible|you can)|earliest|soonest|whenever"
    r"|any ?time|flexible|no preference|any day|(?:don'?t|do not) mind|doesn'?t matter)\b"
)


def _read_request(text: str, ctx: _Context, need_day_or_time: bool) -> _Request | None:
    """The request in `text`, or None if it holds nothing recognisable."""
    clock = _read_clock(text)
    part = _read_part(text)
    request = _read_day(text, ctx)
    if request is None:
        if need_day_or_time and clock is None:
            return None
        if clock is None and part is None and not FLEXIBLE.search(text):
            return None
        # No day named: the soonest day on which the time fits.
        days = tuple(ctx.today + timedelta(days=n) for n in range(SEARCH_DAYS))
        request = _Request(days=days, mode=SEARCH)
    return _Request(days=request.days, mode=request.mode, clock=clock, part=part)


# ---- days ----------------------------------------------------------------

MONTH = (
    r"(january|jan|february|feb|march|mar|april|apr|may|june|jun|july|jul|august|aug"
    r"|september|sept|sep|october|oct|november|nov|december|dec)\.?"
)
ORDINAL = r"(?:st|nd|rd|th)"
NOT_A_TIME = r"(?![\d:])(?!\s*(?:[ap]\.?m\b|o'?clock))"

ISO_DATE = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
# 3/12, 3/12/2027, 3.12.2027; dots and dashes only with a year, so 2.30 stays a time.
NUMERIC_DATE = re.compile(
    r"(?<![\d/.:-])(\d{1,2})([/.-])(\d{1,2})(?:\2(\d{4}|\d{2}))?(?!\d|[/.-]\d)"
)
MONTH_DAY = re.compile(
    rf"\b{MONTH}\s+(?:the\s+)?(\d{{1,2}}){ORDINAL}?{NOT_A_TIME}(?:,?\s+(\d{{4}})(?!\d))?"
)
DAY_MONTH = re.compile(
    rf"(?<![\d/.:])(\d{{1,2}}){ORDINAL}?\s+(?:of\s+)?{MONTH}\b(?!\s+i\b)(?:,?\s+(\d{{4}})(?!\d))?"
)
DAY_OF_MONTH = re.compile(rf"(?<![\d/.:])(\d{{1,2}}){ORDINAL}\b")
RELATIVE = re.compile(
    r"\bin\s+(\d{1,3}|an?|(?:a\s+)?couple\s+of)\s+(day|week|month|year)s?\b"
    r"|\b(\d{1,3}|an?)\s+(day|week|month|year)s?\s+(ago|from now|from today)\b"
)
WEEKDAY = re.compile(
    r"\b(?:(last|next|this|coming)\s+)?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?\b"
)
NEXT_WEEK = re.compile(r"\bnext week\b")
WEEKEND = re.compile(r"\b(?:(next)\s+)?weekends?\b")
ANY_WEEKDAY = re.compile(r"\bweekdays?\b")


def _read_day(text: str, ctx: _Context) -> _Request | None:
    """The day(s) the patient named, most specific wording first."""
    readers = (
        _read_relative_word,
        _read_iso_date,
        _read_numeric_date,
        _read_month_name_date,
        _read_day_of_month,
        _read_relative_phrase,
        _read_weekday,
        _read_next_week,
        _read_weekend,
        _read_any_weekday,
    )
    for reader in readers:
        request = reader(text, ctx)
        if request is not None:
            return request
    return None


def _exact(day: date) -> _Request:
    return _Request(days=(day,), mode=EXACT)


def _read_relative_word(text: str, ctx: _Context) -> _Request | None:
    """today, tomorrow, yesterday and friends; "last week" is simply past."""
    offsets = (
        (r"\bday before yesterday\b", -2),
        (r"\byesterday\b", -1),
        (r"\bday after tomorrow\b", 2),
        (r"\btomorrow\b", 1),
        (r"\b(?:today|tonight|this (?:morning|afternoon|evening))\b", 0),
    )
    for pattern, offset in offsets:
        if re.search(pattern, text):
            return _exact(ctx.today + timedelta(days=offset))
    if re.search(r"\blast week\b", text):
        raise _past(ctx, "last week has already passed")
    return None


def _read_iso_date(text: str, ctx: _Context) -> _Request | None:
    match = ISO_DATE.search(text)
    if match is None:
        return None
    year, month, day = (int(part) for part in match.groups())
    return _exact(_calendar_date(match.group(), year, month, day, ctx))


def _read_numeric_date(text: str, ctx: _Context) -> _Request | None:
    """3/12 is March 12 in the US and 3 December elsewhere."""
    match = NUMERIC_DATE.search(text)
    if match is None:
        return None
    first, separator, second, year_text = match.groups()
    if separator != "/" and year_text is None:
        return None
    month, day = (int(first), int(second)) if ctx.month_first else (int(second), int(first))
    year = None
    if year_text:
        year = int(year_text) + (2000 if len(year_text) == 2 else 0)
    return _exact(_calendar_date(match.group(), year, month, day, ctx))


def _read_month_name_date(text: str, ctx: _Context) -> _Request | None:
    """December 12, dec 3rd, 12th december, 3rd of December 2027."""
    match = MONTH_DAY.search(text)
    if match is not None:
        month_text, day_text, year_text = match.groups()
    else:
        match = DAY_MONTH.search(text)
        if match is None:
            return None
        day_text, month_text, year_text = match.groups()
    month = _month_number(month_text)
    year = int(year_text) if year_text else None
    return _exact(_calendar_date(match.group(), year, month, int(day_text), ctx))


def _month_number(name: str) -> int:
    return next(n for n, full in enumerate(MONTH_NAMES, 1) if full.lower().startswith(name[:3]))


def _read_day_of_month(text: str, ctx: _Context) -> _Request | None:
    """The next 12th of a month for "the 12th", today included."""
    match = DAY_OF_MONTH.search(text)
    if match is None:
        return None
    day = int(match.group(1))
    if not 1 <= day <= 31:
        raise _invalid_date(ctx, match.group())
    year, month = ctx.today.year, ctx.today.month
    while True:  # ends within two months: every day 1-31 exists at least every other month
        if _exists(year, month, day) and date(year, month, day) >= ctx.today:
            return _exact(date(year, month, day))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _read_relative_phrase(text: str, ctx: _Context) -> _Request | None:
    """Phrases like "in 3 days", "in a couple of weeks", "2 weeks ago", via dateparser."""
    match = RELATIVE.search(text)
    if match is None:
        return None
    if match.group(1):
        count, unit, phrase_end = match.group(1), match.group(2), None
    else:
        count, unit, phrase_end = match.group(3), match.group(4), match.group(5)
    if "couple" in count:
        number = 2
    elif count in ("a", "an"):
        number = 1
    else:
        number = int(count)
    phrase = f"{number} {unit}s ago" if phrase_end == "ago" else f"in {number} {unit}s"
    day = _dateparser_day(phrase, ctx)
    return None if day is None else _exact(day)


def _dateparser_day(phrase: str, ctx: _Context) -> date | None:
    settings = {
        "DATE_ORDER": "MDY" if ctx.month_first else "DMY",
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": ctx.now.replace(tzinfo=None),
    }
    parsed = dateparser.parse(phrase, languages=["en"], settings=settings)
    return None if parsed is None else parsed.date()


def _read_weekday(text: str, ctx: _Context) -> _Request | None:
    """Weekday names: "friday" and "this friday" may mean today, "next friday" never does."""
    match = WEEKDAY.search(text)
    if match is None:
        return None
    modifier, name = match.groups()
    target = WEEKDAYS.index(name)
    ahead = (target - ctx.today.weekday()) % 7
    if modifier == "last":
        return _exact(ctx.today - timedelta(days=(ctx.today.weekday() - target) % 7 or 7))
    if NEXT_WEEK.search(text):  # "friday next week"
        return _exact(_next_monday(ctx.today) + timedelta(days=target))
    if modifier == "next":
        return _exact(ctx.today + timedelta(days=ahead or 7))
    if ahead == 0:
        # Today, unless what was asked for has already gone: then a week today.
        return _Request(days=(ctx.today, ctx.today + timedelta(days=7)), mode=EXACT)
    return _exact(ctx.today + timedelta(days=ahead))


def _next_monday(today: date) -> date:
    return today + timedelta(days=7 - today.weekday())


def _read_next_week(text: str, ctx: _Context) -> _Request | None:
    if not NEXT_WEEK.search(text):
        return None
    monday = _next_monday(ctx.today)
    return _Request(days=tuple(monday + timedelta(days=n) for n in range(7)), mode=SPAN)


def _read_weekend(text: str, ctx: _Context) -> _Request | None:
    match = WEEKEND.search(text)
    if match is None:
        return None
    if match.group(1) == "next":
        saturday = _next_monday(ctx.today) + timedelta(days=5)
        return _Request(days=(saturday, saturday + timedelta(days=1)), mode=SEARCH)
    return _Request(days=_upcoming(ctx.today, lambda day: day.weekday() >= 5), mode=SEARCH)


def _read_any_weekday(text: str, ctx: _Context) -> _Request | None:
    if not ANY_WEEKDAY.search(text):
        return None
    return _Request(days=_upcoming(ctx.today, lambda day: day.weekday() < 5), mode=SEARCH)


def _upcoming(today: date, wanted: Callable[[date], bool]) -> tuple[date, ...]:
    """The days of the next two weeks (today first) that `wanted` accepts."""
    days = (today + timedelta(days=n) for n in range(SEARCH_DAYS))
    return tuple(day for day in days if wanted(day))


def _calendar_date(written: str, year: int | None, month: int, day: int, ctx: _Context) -> date:
    """The date written; without a year, the occurrence nearest to today.

    Nearest rather than next: "November 20" said on November 26 is a date
    that has just passed, not one a year away.
    """
    if not 1 <= month <= 12 or not _exists(year or 2000, month, day):  # 2000: Feb 29 exists
        raise _invalid_date(ctx, written)
    if year is not None:
        return date(year, month, day)
    years = range(ctx.today.year - 4, ctx.today.year + 5)  # a leap day needs four years
    candidates = [date(y, month, day) for y in years if _exists(y, month, day)]
    return min(candidates, key=lambda d: (abs((d - ctx.today).days), d < ctx.today))


def _exists(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


# ---- times and day-parts -------------------------------------------------

CLOCK_WITH_MERIDIEM = re.compile(r"(?<![\d:.])(\d{1,2})(?:[:.](\d{2}))?\s*([ap])\.?m\b\.?")
NOON = re.compile(r"\b(?:noon|midday|mid-day)\b")
MIDNIGHT = re.compile(r"\bmidnight\b")
CLOCK_24H = re.compile(r"(?<![\d:/.])(\d{1,2}):(\d{2})(?![\d:])")
CLOCK_O_CLOCK = re.compile(r"(?<![\d:])(\d{1,2})\s*o'?\s?clock\b")
CLOCK_AT_HOUR = re.compile(r"(?:\b(?:at|around|about)\s+|@\s*)(\d{1,2})(?![\d:/a-z]|\.\d)")

# (name, pattern), most specific first: "first thing in the morning" is first thing.
DAY_PARTS = (
    ("first thing", r"\bfirst thing\b"),
    ("end of the day", r"\bend of (?:the )?day\b|\bclose of (?:the )?day\b|\bafter work\b"),
    ("lunchtime", r"\blunch(?:time| time)?\b"),
    ("morning", r"\bmornings?\b"),
    ("afternoon", r"\bafternoons?\b"),
    ("evening", r"\b(?:evenings?|tonight|night)\b"),
)


def _read_part(text: str) -> str | None:
    for name, pattern in DAY_PARTS:
        if re.search(pattern, text):
            return name
    return None


def _read_clock(text: str) -> _Clock | None:
    """A time of day; forms with am/pm are trusted first, "at 3" last."""
    match = CLOCK_WITH_MERIDIEM.search(text)
    if match:
        hour, minute = int(match.group(1)), int(match.group(2) or 0)
        if 1 <= hour <= 12 and minute < 60:
            return _Clock(hour % 12 + (12 if match.group(3) == "p" else 0), minute, known=True)
    if NOON.search(text):
        return _Clock(12, 0, known=True)
    if MIDNIGHT.search(text):
        return _Clock(0, 0, known=True)
    match = CLOCK_24H.search(text)
    if match:
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour <= 23 and minute < 60:
            # 14:30 and 07:30 are clearly 24-hour; 2:30 may be either.
            known = hour == 0 or hour >= 13 or match.group(1).startswith("0")
            return _Clock(hour, minute, known)
    for pattern in (CLOCK_O_CLOCK, CLOCK_AT_HOUR):
        match = pattern.search(text)
        if match and int(match.group(1)) <= 23:
            hour = int(match.group(1))
            return _Clock(hour, 0, known=hour == 0 or hour >= 13)
    return None


def _clock_time(clock: _Clock, part: str | None) -> time:
    """The 24-hour time meant; "at 3" is 3pm, but "morning at 7" is 7am.

    Without am/pm, 1-7 are afternoon hours (nobody books a 3am appointment)
    and 8-11 morning ones, unless a day-part says otherwise.
    """
    if clock.known or clock.hour == 12:
        return time(clock.hour, clock.minute)
    if part in ("morning", "first thing"):
        afternoon = False
    elif part in ("afternoon", "evening", "end of the day"):
        afternoon = True
    else:
        afternoon = 1 <= clock.hour <= 7
    return time(clock.hour + 12 if afternoon else clock.hour, clock.minute)


# --------------------------------------------------------------------------
# Resolving the request against the opening hours
# --------------------------------------------------------------------------


def _resolve(request: _Request, ctx: _Context) -> tuple[datetime, datetime]:
    """The window for the request, or a TimeProblem saying what is wrong with it."""
    if request.mode == SPAN and request.clock is None and request.part is None:
        start, end = _span_window(request, ctx)
    elif request.mode == EXACT:
        start, end = _exact_window(request, ctx)
    else:
        start, end = _search_window(request, ctx)
    if start > _last_bookable(ctx):
        raise _too_far(ctx)
    return start, end


def _last_bookable(ctx: _Context) -> datetime:
    return ctx.now + timedelta(days=ctx.horizon_days)


def _exact_window(request: _Request, ctx: _Context) -> tuple[datetime, datetime]:
    """A named day: try it (and for "friday" said on a Friday, a week later)."""
    if all(day < ctx.today for day in request.days):
        raise _past(ctx, f"{_day_text(ctx, request.days[0])} has already passed")
    for day in request.days:
        if day > _last_bookable(ctx).date():
            raise _too_far(ctx)
        start, end = _window_on(day, request, ctx, name_the_day=True)
        if _still_ahead(start, end, request, ctx):
            return _trimmed(start, end, request, ctx)
    raise _past(ctx, _passed_today(request))


def _search_window(request: _Request, ctx: _Context) -> tuple[datetime, datetime]:
    """Any of the days will do: the first on which the request fits."""
    any_open_day = False
    for day in request.days:
        if _hours_on(ctx.clinic, day) is None:
            continue
        any_open_day = True
        try:
            start, end = _window_on(day, request, ctx, name_the_day=False)
        except TimeProblem:
            continue
        if _fits_soonest(start, end, request, ctx):
            return _trimmed(start, end, request, ctx)
    if not any_open_day:
        raise _closed_day(ctx, None)
    raise _outside_hours(ctx, _request_text(request), None)


def _span_window(request: _Request, ctx: _Context) -> tuple[datetime, datetime]:
    """For "next week": from the first open day's opening to the last open day's closing."""
    open_days = [day for day in request.days if _hours_on(ctx.clinic, day) is not None]
    if not open_days:
        raise _closed_day(ctx, None)
    start, _ = _opening_on(open_days[0], ctx)
    _, end = _opening_on(open_days[-1], ctx)
    return start, end


def _window_on(
    day: date, request: _Request, ctx: _Context, name_the_day: bool
) -> tuple[datetime, datetime]:
    """The request's window on `day`, within that day's opening hours."""
    if _hours_on(ctx.clinic, day) is None:
        raise _closed_day(ctx, day if name_the_day else None)
    opening, closing = _opening_on(day, ctx)
    if request.clock is not None:
        start = datetime.combine(day, _clock_time(request.clock, request.part), ctx.zone)
        end = min(start + SLOT, closing)  # an appointment can't run past closing
    elif request.part is not None:
        start, end = _part_bounds(request.part, opening, closing)
        start, end = max(start, opening), min(end, closing)
    else:
        start, end = opening, closing
    if not opening <= start < end <= closing:
        raise _outside_hours(ctx, _request_text(request), day if name_the_day else None)
    return start, end


def _part_bounds(part: str, opening: datetime, closing: datetime) -> tuple[datetime, datetime]:
    """The day-part's own bounds, before they are cut to the opening hours."""

    def at(hour: int) -> datetime:
        return opening.replace(hour=hour, minute=0)

    if part == "morning":
        return opening, at(12)
    if part == "afternoon":
        return at(12), at(17)
    if part == "evening":
        return at(17), closing
    if part == "lunchtime":
        return at(12), at(14)
    if part == "first thing":
        return opening, opening + timedelta(hours=1)
    # end of the day
    return max(opening, closing - timedelta(hours=2)), closing


def _still_ahead(start: datetime, end: datetime, request: _Request, ctx: _Context) -> bool:
    """Can this window still be booked?  A specific time must not have begun."""
    if request.clock is not None:
        return start >= ctx.now
    return end > ctx.now


def _fits_soonest(start: datetime, end: datetime, request: _Request, ctx: _Context) -> bool:
    """For "asap", "morning" and the like: is this window worth offering now?

    A time or day-part must be wholly ahead; a whole day must have at least
    MIN_REMAINING of opening left, so "asap" at 17:45 means tomorrow.
    """
    if request.clock is not None or request.part is not None:
        return start >= ctx.now
    return end - max(start, ctx.now) >= MIN_REMAINING


def _trimmed(
    start: datetime, end: datetime, request: _Request, ctx: _Context
) -> tuple[datetime, datetime]:
    """A day or day-part that has already begun starts now: the past part can't be booked."""
    if request.clock is None:
        start = max(start, ctx.now.replace(second=0, microsecond=0))
    return start, end


def _hours_on(clinic: Clinic, day: date) -> tuple[time, time] | None:
    return clinic.hours_on(day)


def _opening_on(day: date, ctx: _Context) -> tuple[datetime, datetime]:
    hours = _hours_on(ctx.clinic, day)
    assert hours is not None, "callers check that the clinic is open"
    opening, closing = hours
    return datetime.combine(day, opening, ctx.zone), datetime.combine(day, closing, ctx.zone)


# --------------------------------------------------------------------------
# Friendly messages
# --------------------------------------------------------------------------


def _invalid_date(ctx: _Context, written: str) -> TimeProblem:
    sample = "December 3' or '12/3" if ctx.month_first else "3 December' or '3/12"
    return TimeProblem(
        "invalid_date",
        f"Sorry, '{written}' isn't a date that exists. "
        f"Could you check it and write it again, for example '{sample}'?",
    )


def _past(ctx: _Context, what_happened: str) -> TimeProblem:
    return TimeProblem(
        "past",
        f"Sorry, {what_happened}. "
        f"Could you choose a later time, for example '{_example(ctx)}'?",
    )


def _too_far(ctx: _Context) -> TimeProblem:
    last_day = _last_bookable(ctx).date()
    return TimeProblem(
        "too_far",
        f"Sorry, we can only take booking requests up to {ctx.horizon_days} days ahead, "
        f"that is until {_date_text(ctx, last_day)}. "
        f"Could you choose an earlier date, for example '{_example(ctx)}'?",
    )


def _closed_day(ctx: _Context, day: date | None) -> TimeProblem:
    open_days = [name.capitalize() for name in WEEKDAYS if _open_on_weekday(ctx.clinic, name)]
    if not open_days:
        return TimeProblem(
            "closed_day",
            "Sorry, I don't have the clinic's opening hours, so I can't check that day. "
            "Please call the clinic to book.",
        )
    closed = f"on {WEEKDAYS[day.weekday()].capitalize()}s" if day else "on those days"
    return TimeProblem(
        "closed_day",
        f"Sorry, we're closed {closed}. We're open {_join(open_days)}, so could you "
        f"pick one of those days, for example '{_example(ctx)}'?",
    )


def _outside_hours(ctx: _Context, what: str, day: date | None) -> TimeProblem:
    if day is None:
        return TimeProblem(
            "outside_hours",
            f"Sorry, {what} is outside our opening hours ({ctx.clinic.hours_text()}). "
            f"Could you choose another time, for example '{_example(ctx)}'?",
        )
    name = WEEKDAYS[day.weekday()].capitalize()
    opening, closing = _hours_on(ctx.clinic, day)
    return TimeProblem(
        "outside_hours",
        f"Sorry, {what} is outside our opening hours on {name}s, when we're open "
        f"{opening:%H:%M} to {closing:%H:%M}. Could you choose a time within those hours, "
        f"for example '{name} at {_twelve_hour(opening)}'?",
    )


def _open_on_weekday(clinic: Clinic, name: str) -> bool:
    # Any date with that weekday will do; 2024-01-01 was a Monday.
    return _hours_on(clinic, date(2024, 1, 1) + timedelta(days=WEEKDAYS.index(name))) is not None


def _example(ctx: _Context) -> str:
    """A request that would work, e.g. "Friday at 9am": the next open day at opening time."""
    for offset in range(1, 8):
        day = ctx.today + timedelta(days=offset)
        hours = _hours_on(ctx.clinic, day)
        if hours is not None:
            return f"{WEEKDAYS[day.weekday()].capitalize()} at {_twelve_hour(hours[0])}"
    return "next Tuesday afternoon"


def _request_text(request: _Request) -> str:
    """How the requested time reads in a sentence: "6pm", "the evening"."""
    if request.clock is not None:
        return _twelve_hour(_clock_time(request.clock, request.part))
    if request.part in ("first thing", "lunchtime"):
        return request.part
    if request.part is not None:
        return f"the {request.part}"
    return "that time"


def _passed_today(request: _Request) -> str:
    if request.clock is None and request.part is None:
        return "we've already closed for today"
    return f"{_request_text(request)} today has already passed"


def _day_text(ctx: _Context, day: date) -> str:
    return f"{WEEKDAYS[day.weekday()].capitalize()}, {_date_text(ctx, day)}"


def _date_text(ctx: _Context, day: date) -> str:
    month = MONTH_NAMES[day.month - 1]
    if ctx.month_first:
        return f"{month} {day.day}, {day.year}"
    return f"{day.day} {month} {day.year}"


def _twelve_hour(moment: time) -> str:
    hour = moment.hour % 12 or 12
    minutes = f":{moment.minute:02d}" if moment.minute else ""
    return f"{hour}{minutes}{'am' if moment.hour < 12 else 'pm'}"


def _join(names: list[str]) -> str:
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} and {names[-1]}"
