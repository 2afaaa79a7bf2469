"""The clinic's own facts, loaded from the clinic file.

The file is the only source of practical facts (phone, hours, prices...).
It is re-read when it changes on disk, so editing it needs neither retraining
nor a restart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import yaml

from clinic_core import settings, triage

WEEKDAYS = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)


class ClinicConfigError(ValueError):
    """The clinic file is missing a required fact or is malformed."""


@dataclass(frozen=True)
class PriceItem:
    item: str
    price: str


@dataclass(frozen=True)
class Clinic:
    name: str
    phone: str
    emergency_number: str
    country: str = "US"
    timezone: str = "UTC"
    email: str | None = None
    address: str | None = None
    after_hours_line: str | None = None
    booking_contact: str | None = None
    opening_hours: dict[str, str] = field(default_factory=dict)
    prices: tuple[PriceItem, ...] = ()
    parking: str | None = None
    payment: str | None = None
    insurance: str | None = None
    # Languages (besides English) whose red flags are recognised and answered
    # in that language: sections of clinic/triage-rules.yml. None: all of them.
    emergency_languages: tuple[str, ...] | None = None
    # Languages the clinic's staff speak on the phone (clinic/languages.yml replies).
    staff_languages: tuple[str, ...] = ()

    def hours_text(self) -> str | None:
        """Opening hours as one line a patient can read, or None if unknown."""
        if not self.opening_hours:
            return None
        parts = []
        for day in WEEKDAYS:
            hours = self.opening_hours.get(day)
            parts.append(f"{day.capitalize()} {hours}" if hours else f"{day.capitalize()} closed")
        return ", ".join(parts)

    def hours_on(self, day: date) -> tuple[time, time] | None:
        """Opening and closing time on `day`, or None if closed.

        An entry that can't be read counts as closed, so a typo in the clinic
        file never makes the assistant promise a time the clinic can't honour.
        """
        written = self.opening_hours.get(WEEKDAYS[day.weekday()])
        match = re.fullmatch(
            r"\s*(\d{1,2}):(\d{2})\s*[-\u2013]\s*(\d{1,2}):(\d{2})\s*", written or ""
        )
        if match is None:
            return None
        open_h, open_m, close_h, close_m = (int(part) for part in match.groups())
        if max(open_h, close_h) > 23 or max(open_m, close_m) > 59:
            return None
        opening, closing = time(open_h, open_m), time(close_h, close_m)
        return (opening, closing) if opening < closing else None

    def is_open(self, now: datetime) -> bool:
        """Whether the clinic is open at `now` (a time in the clinic's zone)."""
        hours = self.hours_on(now.date())
        return bool(hours) and hours[0] <= now.time() < hours[1]

    def next_opening(self, now: datetime) -> datetime | None:
        """When the clinic next opens after `now` (None if it never does)."""
        for offset in range(8):
            day = now.date() + timedelta(days=offset)
            hours = self.hours_on(day)
            if hours:
                opening = datetime.combine(day, hours[0], tzinfo=now.tzinfo)
                if opening > now:
                    return opening
        return None

    def prices_text(self) -> str | None:
        if not self.prices:
            return None
        return "; ".join(f"{p.item}: {p.price}" for p in self.prices)

    def template_values(self) -> dict[str, str]:
        """Values that domain responses interpolate (`{clinic_phone}` etc.)."""
        return {
            "clinic_name": self.name,
            "clinic_phone": self.phone,
            "emergency_number": self.emergency_number,
            "after_hours_line": self.after_hours_line or self.phone,
        }


REQUIRED = ("name", "phone", "emergency_number")


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _language_codes(raw: Any, key: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(
        isinstance(code, str) and re.fullmatch(r"[a-z]{2}", code) for code in raw
    ):
        raise ClinicConfigError(f"{key} must be a list of two-letter codes, e.g. [es]")
    return tuple(raw)


def parse_clinic(raw: dict[str, Any]) -> Clinic:
    """Build a Clinic from the file's mapping, refusing one without the safety facts."""
    if not isinstance(raw, dict):
        raise ClinicConfigError("the clinic file must be a mapping of facts")
    missing = [key for key in REQUIRED if not _clean(raw.get(key))]
    if missing:
        raise ClinicConfigError(f"the clinic file lacks: {', '.join(missing)}")
    hours_raw = raw.get("opening_hours") or {}
    if not isinstance(hours_raw, dict):
        raise ClinicConfigError("opening_hours must map weekday names to 'HH:MM-HH:MM'")
    unknown_days = set(map(str.lower, hours_raw)) - set(WEEKDAYS)
    if unknown_days:
        raise ClinicConfigError(f"unknown weekday(s) in opening_hours: {sorted(unknown_days)}")
    prices: list[PriceItem] = []
    for entry in raw.get("prices") or []:
        if (
            not isinstance(entry, dict)
            or not _clean(entry.get("item"))
            or not _clean(entry.get("price"))
        ):
            raise ClinicConfigError("each price needs an 'item' and a 'price'")
        prices.append(PriceItem(item=_clean(entry["item"]), price=_clean(entry["price"])))
    languages = raw.get("emergency_languages")
    if languages is not None and (
        not isinstance(languages, list)
        or not all(isinstance(code, str) and re.fullmatch(r"[a-z]{2}", code) for code in languages)
    ):
        raise ClinicConfigError("emergency_languages must be a list of two-letter codes, e.g. [es]")
    return Clinic(
        name=_clean(raw["name"]),
        phone=_clean(raw["phone"]),
        emergency_number=_clean(raw["emergency_number"]),
        country=_clean(raw.get("country")) or "US",
        timezone=_clean(raw.get("timezone")) or "UTC",
        email=_clean(raw.get("email")),
        address=_clean(raw.get("address")),
        after_hours_line=_clean(raw.get("after_hours_line")),
        booking_contact=_clean(raw.get("booking_contact")),
        opening_hours={
            day.lower(): hours
            for day, hours in ((d, _clean(h)) for d, h in hours_raw.items())
            if hours
        },
        prices=tuple(prices),
        parking=_clean(raw.get("parking")),
        payment=_clean(raw.get("payment")),
        insurance=_clean(raw.get("insurance")),
        emergency_languages=(
            None if languages is None else tuple(c for c in languages if c != "en")
        ),
        staff_languages=_language_codes(raw.get("staff_languages"), "staff_languages"),
    )


class _KeepMissing(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(template: str, values: dict[str, Any]) -> str:
    """A reply written outside the domain (rules and language files) with the clinic's facts.

    A placeholder without a value stays visible rather than failing the reply.
    """
    return template.format_map(_KeepMissing(values))


_cache: dict[Path, tuple[float, Clinic]] = {}


def load_clinic(path: Path | None = None) -> Clinic:
    """The clinic from `path` (default `CLINIC_CONFIG`), cached until the file changes."""
    path = Path(path or settings.clinic_config_path())
    mtime = path.stat().st_mtime
    cached = _cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    with path.open(encoding="utf-8") as handle:
        clinic = parse_clinic(yaml.safe_load(handle))
    unknown = set(clinic.emergency_languages or ()) - set(triage.load_rules().languages)
    if unknown:
        raise ClinicConfigError(
            f"emergency_languages {sorted(unknown)} have no section in the triage rules file"
        )
    _cache[path] = (mtime, clinic)
    return clinic
