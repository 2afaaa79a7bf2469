"""Answer practical questions (hours, address, prices...) from the clinic file.

The `clinic_info` intent says "a practical question"; which fact is asked is
read from the words, so a clinic can publish a new fact without retraining.
A fact the clinic has not configured is never guessed: the patient is told
it is not available here and given the phone number.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from re import Pattern
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from clinic_core.clinic import Clinic, load_clinic


@dataclass(frozen=True)
class Fact:
    """One practical fact: how to recognise the question and how to say the answer."""

    label: str
    pattern: Pattern[str]
    value: Callable[[Clinic], str | None]
    sentence: str  # formatted with {value} and the clinic's template values


def _words(*alternatives: str) -> Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")", re.IGNORECASE)


FACTS: list[Fact] = [
    Fact(
        "opening hours",
        _words(
            "hour", "open", "clos", "when are you", "what time", "weekend", "saturday", "sunday"
        ),
        Clinic.hours_text,
        "Our opening hours are: {value}.",
    ),
    Fact(
        "our address",
        _words("address", "where", "locat", "direction", "find you", "get there", "situated"),
        lambda c: c.address,
        "You'll find us at {value}.",
    ),
    Fact(
        "prices",
        _words("pric", "cost", "how much", "fee", "charge", "expensive", "cheap", r"\$", "£", "€"),
        Clinic.prices_text,
        "Our published prices are: {value}. The exact cost depends on your treatment plan.",
    ),
    Fact(
        "parking",
        _words("park", r"cars?\b"),
        lambda c: c.parking,
        "Parking: {value}",
    ),
    Fact(
        "payment methods",
        _words("pay", "card", "cash", "credit", "debit", "instal", "financ"),
        lambda c: c.payment,
        "Payment: {value}",
    ),
    Fact(
        "insurance",
        _words("insur", "cover", "medicare", "medicaid", "hsa", "fsa"),
        lambda c: c.insurance,
        "Insurance: {value}",
    ),
    Fact(
        "email",
        _words("e-?mail", "mail"),
        lambda c: c.email,
        "You can email us at {value}.",
    ),
    Fact(
        "phone number",
        _words("phone", "number", "call", "ring", "contact", "reach"),
        lambda c: c.phone,
        "You can call us on {value}.",
    ),
]


def facts_asked(text: str) -> list[Fact]:
    """The facts a message asks about, in a stable order."""
    return [fact for fact in FACTS if fact.pattern.search(text or "")]


def answer_lines(clinic: Clinic, text: str) -> list[str]:
    """What to tell the patient: one line per fact asked, or an overview."""
    asked = facts_asked(text)
    if not asked:
        overview = [f"{clinic.name} can be reached on {clinic.phone}."]
        if clinic.address:
            overview.append(f"You'll find us at {clinic.address}.")
        hours = clinic.hours_text()
        if hours:
            overview.append(f"Our opening hours are: {hours}.")
        return [" ".join(overview)]
    lines = []
    for fact in asked:
        value = fact.value(clinic)
        if value:
            lines.append(fact.sentence.format(value=value))
        else:
            lines.append(
                f"I'm sorry, I don't have information about {fact.label} here. "
                f"Please call us on {clinic.phone} and the team will help."
            )
    return lines


class ActionClinicInfo(Action):
    def name(self) -> str:
        return "action_clinic_info"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[EventType]:
        text = tracker.latest_message.get("text") or ""
        for line in answer_lines(load_clinic(), text):
            dispatcher.utter_message(text=line)
        return []
