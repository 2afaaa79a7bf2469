"""A conversation simulator: uncooperative patients driven through every form.

Each persona is a scripted patient talking to the real servers through the
REST channel: it answers whatever question the form is asking now (read from
the stored conversation) from its own script, and repeats its last answer
when the script runs out, which is how a patient stuck in a loop behaves.
For every persona the conversation must reach an outcome (a request stored
and delivered once, a person, or a cancellation) within a bounded number of
turns, and no bot message may repeat three times in a row.

The report (results/form-personas.txt) lists each persona with its outcome
and turn count.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support import RunningAssistant
from tests.test_e2e_booking import wait_for

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "results" / "form-personas.txt"
MAX_TURNS = 25  # a form with every question answered takes about 10
URGENT_REPORT = "my forehead is red hot and there's pus coming out where they injected me"
UNPLACED_REPORT = "something feels off with my face since my botox last week"
# Set for the test servers in tests/conftest.py (FORM_REMINDER_AFTER).
REMINDER_AFTER_S = 20

COOPERATIVE = {
    "booking_name": ["Ana Diaz"],
    "booking_phone": ["201 555 0123"],
    "booking_email": ["skip"],
    "booking_time": ["next tuesday afternoon"],
    "booking_area": ["forehead lines"],
    "booking_new_patient": ["yes"],
    "booking_consent": ["yes"],
    "booking_confirmed": ["yes"],
    "booking_change_field": ["phone"],
    "contact_name": ["Ana Diaz"],
    "contact_phone": ["201 555 0123"],
    "contact_treatment_date": ["last week"],
    "contact_callback_time": ["tomorrow morning"],
    "triage_red_flags": ["no"],
    "triage_worsening": ["no"],
    "form_recovery": ["yes"],
}

BOOKED, PERSON, CANCELLED, ESCALATED = "booked", "person", "cancelled", "escalated"
OUTCOME_RESPONSES = {
    "utter_booking_received": BOOKED,
    "utter_handoff_saved": PERSON,
    "utter_escalation_received_no_phone": PERSON,
    "utter_escalation_received": ESCALATED,
    "utter_emergency_contact_saved": ESCALATED,
    "utter_booking_cancelled": CANCELLED,
    "utter_contact_cancelled": CANCELLED,
}


@dataclass
class Persona:
    name: str
    opening: list[str]
    answers: dict[str, list[str]] = field(default_factory=dict)
    outcomes: set[str] = field(default_factory=lambda: {BOOKED})
    pause_before: dict[str, float] = field(default_factory=dict)  # slot -> seconds of silence
    must_hear: list[str] = field(default_factory=list)  # what a digression must be answered with
    reported: bool = False  # the clinic must hear of a symptom report (not a routine call-back)

    def answer(self, slot: str, asked: dict[str, int]) -> str:
        script = self.answers.get(slot) or COOPERATIVE.get(slot) or ["ok"]
        index = asked.get(slot, 0)
        asked[slot] = index + 1
        return script[min(index, len(script) - 1)]


def booking(name: str, outcomes: set[str] | None = None, **answers: list[str]) -> Persona:
    return Persona(
        name, ["hello", "I'd like to book an appointment"], answers, outcomes or {BOOKED}
    )


def urgent(name: str, outcomes: set[str] | None = None, **answers: list[str]) -> Persona:
    return Persona(name, [URGENT_REPORT], answers, outcomes or {ESCALATED})


def callback(name: str, outcomes: set[str] | None = None, **answers: list[str]) -> Persona:
    return Persona(name, ["can I talk to a real person please"], answers, outcomes or {ESCALATED})


def screened(name: str, outcomes: set[str] | None = None, **answers: list[str]) -> Persona:
    return Persona(name, [UNPLACED_REPORT], answers, outcomes or {ESCALATED})


PERSONAS = [
    # -- the booking form ---------------------------------------------------------
    booking("cooperative"),
    booking(
        "international number given for the name", booking_name=["+44 7911 123456", "Ana Diaz"]
    ),
    booking("e-mail given when asked for consent", booking_consent=["ana.diaz@example.com", "yes"]),
    booking("a surname that sounds like a topic", booking_name=["Rose Side"]),
    booking("nonsense name three times, then a person", {PERSON}, booking_name=["x", "?", "12"]),
    booking(
        "bad phone three times, then cancels",
        {CANCELLED},
        booking_phone=["12", "123", "1234"],
        form_recovery=["cancel"],
    ),
    booking(
        "bad e-mail three times, then skips it",
        booking_email=["ana at home", "ana@", "ana home"],
        form_recovery=["skip"],
    ),
    booking(
        "answers with emoji",
        booking_new_patient=["👍"],
        booking_consent=["👍"],
        booking_confirmed=["👍"],
    ),
    booking(
        "asks why the number is needed",
        hear=("so they need a number to reach you",),
        booking_phone=["why do you need my phone number?", "201 555 0123"],
    ),
    booking(
        "asks an FAQ question mid-form",
        hear=("months",),
        booking_time=["how long does botox last?", "next tuesday afternoon"],
    ),
    booking(
        "asks a clinic question mid-form",
        hear=("Monday",),
        booking_area=["what are your opening hours?", "forehead lines"],
    ),
    booking(
        "an expected symptom mid-form, then carries on",
        hear=("usually mild",),
        booking_area=["i had botox last week and there's a small bruise", "forehead lines"],
    ),
    booking("stops at the time question", {CANCELLED}, booking_time=["stop"]),
    booking("starts over", booking_area=["start over", "forehead lines"]),
    booking(
        "says no to consent every time",
        {PERSON, CANCELLED},
        booking_consent=["no"],
        form_recovery=["no"],
    ),
    booking(
        "only past times, then skips the time",
        booking_time=["yesterday", "last monday", "yesterday morning"],
        form_recovery=["skip"],
    ),
    booking("refuses to give a name", {PERSON}, booking_name=["rather not"]),
    booking("lowercase and yep/nope", booking_new_patient=["nope"], booking_consent=["yep"]),
    booking(
        "uses the buttons' payloads", booking_new_patient=["/deny"], booking_consent=["/affirm"]
    ),
    Persona(
        "everything up front",
        [
            "hi",
            "I'm Ana Diaz and I'd like to book an appointment next tuesday afternoon, "
            "my number is 201 555 0123",
        ],
    ),
    booking(
        "changes the phone at the summary",
        booking_confirmed=["change the phone", "yes"],
        booking_phone=["201 555 0123", "201 555 0199"],
    ),
    booking(
        "gibberish at the way out",
        {PERSON},
        booking_phone=["12"],
        form_recovery=["purple", "banana"],
    ),
    Persona(
        "comes back after a long silence",
        ["hello", "I'd like to book an appointment"],
        pause_before={"booking_time": REMINDER_AFTER_S + 2},
        outcomes={BOOKED},
    ),
    # -- contact details after an urgent report -----------------------------------
    urgent("urgent, cooperative"),
    urgent(
        "urgent, nonsense name three times, then skips it",
        contact_name=["x", "??", "123"],
        form_recovery=["skip"],
    ),
    urgent("urgent, a surname that sounds like a topic", contact_name=["Jo Bruise"]),
    urgent("urgent, stops at the name", {CANCELLED}, contact_name=["stop"]),
    urgent(
        "urgent, phone number given for the name",
        contact_name=["201 555 0123", "Ana Diaz"],
    ),
    urgent(
        "urgent, asks why",
        hear=("who to ask for",),
        contact_name=["why do you need my name?", "Ana Diaz"],
    ),
    urgent(
        "urgent, asks why at the last question",
        hear=("helps the clinic judge",),
        contact_treatment_date=["why do you need that?", "last week"],
    ),
    urgent(
        "urgent, bad phone three times, then passes it on as it is",
        {PERSON},
        contact_phone=["5", "55", "555"],
        form_recovery=["pass it on as it is"],
    ),
    urgent(
        "urgent, asks an FAQ question mid-form",
        hear=("bruis",),
        contact_treatment_date=["is bruising normal after botox?", "last week"],
    ),
    Persona(
        "call-back, a symptom typed as the call-back time",
        ["can I talk to a real person please"],
        {
            "contact_callback_time": [
                "there is a hard lump where you injected me",
                "tomorrow morning",
            ]
        },
        {ESCALATED, PERSON},
        reported=True,
    ),
    callback("call-back, skips the phone at once", {PERSON}, contact_phone=["skip"]),
    # -- call-back requests ------------------------------------------------------
    callback("call-back, cooperative"),
    callback(
        "call-back, bad phone three times, then skips it",
        {PERSON},
        contact_phone=["5", "55", "555"],
        form_recovery=["skip"],
    ),
    callback("call-back, never mind", {CANCELLED}, contact_name=["never mind"]),
    # -- the screening question ---------------------------------------------------
    screened("screen, answers nonsense twice", triage_red_flags=["hmm", "whatever"]),
    screened("screen, not sure", triage_red_flags=["not sure"]),
    screened("screen, thumbs down", triage_red_flags=["👎"]),
    screened(
        "screen, asks for a person first",
        hear=("one quick safety question",),
        triage_red_flags=["can I just talk to a nurse", "no"],
    ),
]


def outcome_of(assistant: RunningAssistant, sender: str) -> str | None:
    """How the conversation ended: the form's own outcome, else what the patient was told."""
    events = assistant.tracker(sender)["events"]
    for event in reversed(events):
        ended = event.get("event") == "slot" and event.get("name") == "form_outcome"
        if ended and event.get("value") in (PERSON, CANCELLED):
            return event["value"]
    for event in reversed([e for e in events if e.get("event") == "bot"]):
        response = (event.get("metadata") or {}).get("utter_action") or ""
        if response in OUTCOME_RESPONSES:
            return OUTCOME_RESPONSES[response]
    return None


def delivered(assistant: RunningAssistant, sender: str, kind: str) -> list[dict]:
    bodies = [json.loads(r.body) for r in assistant.webhook.requests]
    return [b for b in bodies if b.get("conversation_id") == sender and b.get("type") == kind]


def longest_repeat(texts: list[str]) -> int:
    longest, run, previous = 0, 0, None
    for text in texts:
        run = run + 1 if text == previous else 1
        previous = text
        longest = max(longest, run)
    return longest


@dataclass
class Conversation:
    sender: str
    turns: int = 0
    texts: list[str] = field(default_factory=list)
    silent_turns: int = 0

    def say(self, assistant: RunningAssistant, message: str) -> None:
        replies = assistant.texts(self.sender, message)
        self.turns += 1
        self.silent_turns += not any(replies)
        self.texts += replies


def converse(assistant: RunningAssistant, persona: Persona) -> Conversation:
    """Run the persona until no form is waiting (or MAX_TURNS)."""
    talk = Conversation(f"persona-{uuid.uuid4().hex[:10]}")
    for message in persona.opening:
        talk.say(assistant, message)
    asked: dict[str, int] = {}
    while talk.turns < MAX_TURNS:
        tracker = assistant.tracker(talk.sender)
        if not (tracker.get("active_loop") or {}).get("name"):
            break
        slot = tracker["slots"].get("requested_slot") or ""
        if persona.pause_before.get(slot) and not asked.get(slot):
            time.sleep(persona.pause_before[slot])
        talk.say(assistant, persona.answer(slot, asked))
    return talk


def delivery_problems(
    assistant: RunningAssistant, persona: Persona, sender: str, outcome: str | None
) -> list[str]:
    """What the clinic received must match what the patient was told."""
    problems = []
    bookings = lambda: delivered(assistant, sender, "booking")  # noqa: E731
    escalations = lambda: delivered(assistant, sender, "escalation")  # noqa: E731
    updates = lambda: delivered(assistant, sender, "escalation_update")  # noqa: E731
    if outcome == BOOKED and not wait_for(lambda: len(bookings()) == 1):
        problems.append(f"{persona.name}: the booking was not delivered once")
    reported = URGENT_REPORT in persona.opening or UNPLACED_REPORT in persona.opening
    if (outcome in (ESCALATED, PERSON) or reported) and not wait_for(
        lambda: len(escalations()) == 1
    ):
        problems.append(f"{persona.name}: the clinic did not receive one escalation")
    if persona.reported:
        severities = {b["severity"] for b in escalations() + updates()}
        if not severities & {"urgent", "emergency"}:
            problems.append(f"{persona.name}: the report reached the clinic as {severities}")
    if outcome == CANCELLED:
        time.sleep(0.5)
        if bookings():
            problems.append(f"{persona.name}: a cancelled request was sent")
    return problems


def test_there_are_at_least_30_personas_across_the_three_forms() -> None:
    assert len(PERSONAS) >= 30
    assert len({p.name for p in PERSONAS}) == len(PERSONAS)


def test_every_persona_reaches_an_outcome_without_loops(assistant: RunningAssistant) -> None:
    lines, problems = [], []
    for persona in PERSONAS:
        talk = converse(assistant, persona)
        sender, turns, texts = talk.sender, talk.turns, talk.texts
        outcome = outcome_of(assistant, sender)
        repeat = longest_repeat(texts)
        if talk.silent_turns:
            problems.append(f"{persona.name}: {talk.silent_turns} message(s) got no reply")
        heard = " ".join(texts)
        problems += [
            f"{persona.name}: never heard {w!r}" for w in persona.must_hear if w not in heard
        ]
        lines.append(f"{persona.name}: {outcome or 'NO OUTCOME'} in {turns} turns")
        if turns >= MAX_TURNS or outcome not in persona.outcomes:
            problems.append(f"{persona.name}: {outcome} after {turns} turns: {texts[-4:]}")
        if repeat >= 3:
            problems.append(f"{persona.name}: a bot message repeated {repeat} times in a row")
        problems += delivery_problems(assistant, persona, sender, outcome)
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("reply", ["yes", "yeah sure"])
def test_yes_to_anything_else_asks_what_they_would_like(
    assistant: RunningAssistant, reply: str
) -> None:
    sender = f"anything-else-{uuid.uuid4().hex[:8]}"
    assistant.send(sender, "how long does botox last?")
    assistant.send(sender, "no thanks")  # "Is there anything else you'd like to know?"
    replies = " ".join(assistant.texts(sender, reply))
    assert "what would you like to know" in replies.lower()
    assert "Is there anything else" not in replies
