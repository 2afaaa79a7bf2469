"""What every form does, written once: no patient is ever stuck in a form.

Each form (booking, contact details after a report or for a call-back, the
screening questions) subclasses `PatientForm` and declares its questions as a
table of `Question`s: how to read an answer, how to spot the detail in a
message that answered something else, whether it may be skipped.  The base
then gives every form the same behaviour:

- the question being asked wins: a plausible answer is taken for the detail
  asked, whatever a classifier guessed about it; only a symptom report, a real
  question or "cancel" interrupts;
- a detail that fits another question of the form (a phone number given for
  the name) is kept, acknowledged, and the current question asked again in
  other words;
- each miss gets a specific re-prompt, and the question itself is reworded
  on each try (responses carry `form_attempt` conditions), so the same message
  never goes out twice in a row;
- after three misses on one question the patient chooses: a person (a
  call-back with what is known so far), skipping the question where it is
  optional, or cancelling.  A fourth identical question is never asked;
- "why do you need this?" is answered for every question (`utter_why_<slot>`);
- "cancel" / "stop" / "never mind" always ends the form, confirmed; "start
  over" restarts it;
- a patient back after a long silence is reminded where they were.

Which outcome the form ended with is left in `form_outcome` for the action
that runs when the form ends (submit, escalate, decide).

Why one module of this size (about 600 lines): it is the one base every form
shares, so that no form carries its own copy of this behaviour.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from clinic_core import booking_fields as fields
from clinic_core import triage
from clinic_core.clinic import load_clinic
from clinic_core.settings import form_reminder_after

MAX_MISSES = 3
# The question offered after three misses, and the slots the base keeps.
RECOVERY_SLOT = "form_recovery"
STATE_SLOT = "form_state"  # {"misses": {slot: n}, "stuck": slot | None, "rounds": n}
ATTEMPT_SLOT = "form_attempt"  # 0, 1, 2: which wording of the question to use
SKIPPABLE_SLOT = "form_skippable"  # the recovery question offers "skip"
OUTCOME_SLOT = "form_outcome"  # None (completed), "person", "cancelled", "unanswered"

PERSON, SKIP, CANCEL, RETRY = "person", "skip", "cancel", "retry"
CANCELLED, UNANSWERED = "cancelled", "unanswered"

# Messages that interrupt a form instead of answering its question.
INTERRUPTING_INTENTS = {"faq", "clinic_info", "human_handoff", "bot_challenge"}
INTERRUPTION_CONFIDENCE = 0.8

CANCEL_WORDS = re.compile(
    r"^\W*(stop|cancel|never ?mind|nvm|forget (?:it|about it)|quit|abort|exit|stop it|"
    r"i don'?t want to (?:do this|continue|book)|leave it|"
    r"cancel (?:it|this|that|the booking|booking|the request)|stop (?:this|the booking))"
    r"\W*(please|thanks|thank you)?\W*$",
    re.IGNORECASE,
)
START_OVER = re.compile(
    r"^\W*(start (?:over|again)|restart|begin again|from the (?:start|beginning)|"
    r"let'?s start (?:over|again))\W*$",
    re.IGNORECASE,
)
WHY_QUESTION = re.compile(
    r"\bwhy\b.*\b(need|want|ask|give|have to|must|required?|matter)\b|"
    r"\bwhat (?:do you|is it) (?:need|want)\w* (?:it|that|this) for\b|"
    r"^\W*why\W*$|\bwhat for\b",
    re.IGNORECASE,
)
QUESTION_START = re.compile(
    r"^\W*(what|whats|what's|how|why|when|where|which|who|is|are|can|could|do|does|did|will|"
    r"would|should|may|am)\b",
    re.IGNORECASE,
)
PERSON_WORDS = re.compile(
    r"\b(person|human|someone|somebody|call me|call back|callback|ring me|staff|nurse|"
    r"receptionist|talk to|speak to|real)\b",
    re.IGNORECASE,
)
SKIP_WORDS = re.compile(
    r"^\W*(skip|skip it|skip this(?: one| question)?|leave it(?: out| blank)?|pass|"
    r"(?:i'?d )?rather not(?: say)?|prefer not to say|n/?a)\W*$",
    re.IGNORECASE,
)
RETRY_WORDS = re.compile(r"\b(try again|again|one more|retry|let me try)\b", re.I)


@dataclass(frozen=True)
class Question:
    """One detail a form asks for.

    `check` turns an answer into slot values or raises `FieldProblem` whose
    text is the specific re-prompt; `find` spots the detail inside a message
    that answered another question (out of order); `free_text` answers (a
    name, a date) are taken even when the classifier guessed another topic;
    `skip_value` is what skipping stores (None: the question can't be skipped).
    """

    label: str
    check: Callable[[Any, Tracker], dict[str, Any]]
    find: Callable[[str, Tracker], Any] | None = None
    free_text: bool = False
    skip_value: Any = None
    # For free text the check accepts almost anything: what an answer looks
    # like, so that a symptom report is not taken for one.
    looks_like: Callable[[str], bool] | None = None


def latest_text(tracker: Tracker) -> str:
    return tracker.latest_message.get("text") or ""


def latest_intent(tracker: Tracker) -> tuple[str | None, float]:
    intent = tracker.latest_message.get("intent") or {}
    return intent.get("name"), float(intent.get("confidence") or 0.0)


def looks_like_a_question(text: str) -> bool:
    return "?" in text or bool(QUESTION_START.match(text))


def is_symptom_report(text: str, tracker: Tracker) -> bool:
    """The pipeline's triage reading (or the rules) says this is the patient's own report."""
    reading = tracker.latest_message.get("triage") or {}
    if reading.get("is_report") or reading.get("severity"):
        return True
    return triage.assess(text).is_report


# Actions Rasa runs between a message and the form's validation on the happy
# path (Rasa adds the form's own execution before calling the validation).
PLUMBING_ACTIONS = {"action_listen", "action_extract_slots"}


def answered_something_else_since_the_message(tracker: Tracker, form: str) -> bool:
    """The form runs again after an interruption was answered (e.g. an FAQ).

    Then the latest message was the interruption, not an answer to the form's
    question, and must not be read as one.
    """
    plumbing = PLUMBING_ACTIONS | {form}
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "action" and event.get("name") not in plumbing:
            return True
    return False


def wants_to_cancel(tracker: Tracker) -> bool:
    """Cancel words, or the classifier's cancel unless the words say "skip" or "start over".

    The patient's own word beats the classifier's guess: "skip" and "start
    over" mean much the same as "cancel" to a reader of meaning, but not to
    the patient.
    """
    text = latest_text(tracker)
    if CANCEL_WORDS.match(text):
        return True
    if SKIP_WORDS.match(text) or START_OVER.match(text):
        return False
    intent, confidence = latest_intent(tracker)
    return intent == "cancel" and confidence >= 0.5


def silence_before_latest_message(tracker: Tracker) -> float:
    """Seconds between the bot's last message and the patient's latest one (0 if unknown)."""
    user_time = None
    for event in reversed(tracker.events):
        if event.get("event") == "user" and user_time is None:
            user_time = event.get("timestamp")
        elif event.get("event") == "bot" and user_time is not None:
            bot_time = event.get("timestamp")
            if bot_time:
                return max(0.0, float(user_time) - float(bot_time))
            return 0.0
    return 0.0


class PatientForm(FormValidationAction):
    """The shared base of every form (see the module docstring)."""

    questions: dict[str, Question] = {}
    # The response that names what the form is doing, for the long-silence reminder.
    reminder_response = "utter_form_reminder"

    # -- hooks for subclasses ------------------------------------------------

    @abstractmethod
    def name(self) -> str:
        """The validation action's name, `validate_<form>` (abstract: the base is never served)."""

    def form_slots(self, tracker: Tracker, domain_slots: list[str]) -> list[str]:
        """The questions this form asks now, in order (default: the domain's list)."""
        return list(domain_slots)

    def cancelled_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> list[EventType]:
        """Say the form was cancelled; forget what it collected."""
        dispatcher.utter_message(
            response=f"utter_{self.form_name()}_cancelled", **load_clinic().template_values()
        )
        return [SlotSet(slot, None) for slot in self.questions]

    def forget_events(self) -> list[EventType]:
        """Everything the form collected, cleared (for "start over")."""
        return [SlotSet(slot, None) for slot in self.questions]

    # -- the form's state ------------------------------------------------------

    def state(self, tracker: Tracker) -> dict[str, Any]:
        """Misses per question, the question stuck on, rounds of "try again" (this form's only)."""
        stored = tracker.get_slot(STATE_SLOT) or {}
        if stored.get("form") != self.form_name():
            stored = {}
        return {
            "form": self.form_name(),
            "misses": dict(stored.get("misses") or {}),
            "stuck": stored.get("stuck"),
            "rounds": int(stored.get("rounds") or 0),
            "reask": bool(stored.get("reask")),
        }

    @staticmethod
    def ended(outcome: str | None) -> list[EventType]:
        """Events that end the form with `outcome`, resetting the base's own slots."""
        return [
            SlotSet(OUTCOME_SLOT, outcome),
            SlotSet(ATTEMPT_SLOT, None),
            SlotSet(SKIPPABLE_SLOT, None),
            SlotSet(RECOVERY_SLOT, None),
            SlotSet("requested_slot", None),
        ]

    # -- the turn ---------------------------------------------------------------

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        slots = self.form_slots(tracker, domain_slots)
        if self.state(tracker)["stuck"]:
            return [RECOVERY_SLOT, *slots]
        return slots

    def is_fresh_answer(self, tracker: Tracker) -> bool:
        """The latest message is the patient's reply to the form's question."""
        return not answered_something_else_since_the_message(tracker, self.form_name())

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        requested = tracker.get_slot("requested_slot")
        text = latest_text(tracker)
        prefix: list[EventType] = []
        if requested is None:
            # The form starts: nothing of an earlier form (its outcome, its misses) counts.
            for slot in (OUTCOME_SLOT, STATE_SLOT):
                if tracker.get_slot(slot) is not None:
                    tracker.slots[slot] = None
                    prefix.append(SlotSet(slot, None))
        fresh = self.is_fresh_answer(tracker) and requested is not None
        if fresh and wants_to_cancel(tracker) and not is_symptom_report(text, tracker):
            return prefix + self.cancelled_events(dispatcher, tracker) + self.ended(CANCELLED)
        if fresh and START_OVER.match(text):
            dispatcher.utter_message(response="utter_form_start_over")
            first = self.form_slots(tracker, self.domain_slots(domain))[0]
            return self.forget_events() + [
                SlotSet(STATE_SLOT, None),
                SlotSet(ATTEMPT_SLOT, 0),
                SlotSet("requested_slot", first),
            ]
        if fresh and requested in self.questions and WHY_QUESTION.search(text):
            dispatcher.utter_message(response=f"utter_why_{requested}")
            return [
                SlotSet(requested, None),
                SlotSet(ATTEMPT_SLOT, 1),
                SlotSet("requested_slot", requested),
            ]
        said = CollectingDispatcher()  # what the checks say, after any reminder
        events = prefix + await super().run(said, tracker, domain)
        if fresh and not self.filled_anything(events):
            # The message was not for this form (a question, a report, a
            # request for a person): return nothing but the requested slot, so
            # Rasa rejects the form for this turn and the rules answer it; the
            # form then asks its question again.
            dispatcher.messages.extend(said.messages)
            return events
        if fresh and silence_before_latest_message(tracker) > form_reminder_after():
            dispatcher.utter_message(response=self.reminder_response)
        dispatcher.messages.extend(said.messages)
        return events + self.wording_events(tracker, events)

    @staticmethod
    def filled_anything(events: list[EventType]) -> bool:
        return any(e.get("event") == "slot" and e.get("name") != "requested_slot" for e in events)

    def wording_events(self, tracker: Tracker, events: list[EventType]) -> list[EventType]:
        """Which wording the next question uses, and whether "skip" is offered."""
        slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
        if slots.get(OUTCOME_SLOT) is not None or "requested_slot" not in slots:
            return []
        asking = slots["requested_slot"]
        state = slots.get(STATE_SLOT) or self.state(tracker)
        if asking == RECOVERY_SLOT:
            stuck = state.get("stuck")
            skippable = stuck in self.questions and self.questions[stuck].skip_value is not None
            return [SlotSet(SKIPPABLE_SLOT, skippable), SlotSet(ATTEMPT_SLOT, 0)]
        misses = (state.get("misses") or {}).get(asking, 0)
        attempt = min(2, misses + (1 if state.get("reask") else 0))
        return [SlotSet(ATTEMPT_SLOT, attempt), SlotSet(SKIPPABLE_SLOT, None)]

    async def next_requested_slot(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventType | None:
        if tracker.get_slot(OUTCOME_SLOT) is not None:
            return SlotSet("requested_slot", None)
        required = await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain)
        missing = next((slot for slot in required if tracker.slots.get(slot) is None), None)
        return SlotSet("requested_slot", missing)

    # -- extraction ------------------------------------------------------------

    async def get_extraction_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        required = await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain)
        found: dict[str, Any] = {}
        for slot in required:
            value = await self.extract(slot, dispatcher, tracker, domain)
            if value is not None:
                found[slot] = value
                tracker.slots[slot] = value
        return [SlotSet(slot, value) for slot, value in found.items()]

    async def extract(
        self, slot: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Any:
        """The value of `slot` in the latest message, if any."""
        custom = getattr(self, f"extract_{slot}", None)
        if custom is not None:
            return (await custom(dispatcher, tracker, domain)).get(slot)
        if slot == RECOVERY_SLOT:
            return self.answer_to(slot, tracker)
        answer = self.answer_to(slot, tracker)
        if answer is not None:
            return answer
        question = self.questions.get(slot)
        if question is None or question.find is None or not self.is_fresh_answer(tracker):
            return None
        if tracker.get_slot("requested_slot") in (slot, RECOVERY_SLOT):
            return None
        return question.find(latest_text(tracker), tracker)

    def answer_to(self, slot: str, tracker: Tracker) -> str | None:
        """The latest message, if it answers the question `slot` that was asked.

        Not when another question is pending, when the message interrupts (a
        symptom report, a real question the classifier is sure of), when the
        form runs again after answering an interruption, or when the message
        is a detail for another question of the form.
        """
        if tracker.get_slot("requested_slot") != slot or not self.is_fresh_answer(tracker):
            return None
        if self.interrupts(slot, tracker):
            return None
        text = latest_text(tracker)
        if slot != RECOVERY_SLOT and self.detail_for_another_question(slot, text, tracker):
            return None
        return text

    def interrupts(self, slot: str, tracker: Tracker) -> bool:
        """Is the latest message clearly something else than an answer to `slot`?"""
        text = latest_text(tracker)
        question = self.questions.get(slot)
        free = question is not None and question.free_text
        if is_symptom_report(text, tracker):
            if not free:
                return True
            # A free-text answer stays an answer unless it is clearly a report:
            # a red flag, or a report in something that doesn't look like an
            # answer to this question ("Jo Bruise" is a name, "yesterday
            # morning" a time, whatever the classifier thought; "there's a lump
            # where you injected" is no call-back time).
            reading = tracker.latest_message.get("triage") or {}
            if reading.get("semantic_flag") or reading.get("mentions_red_flag"):
                return True
            return not self.looks_right(slot, text, tracker)
        intent, confidence = latest_intent(tracker)
        if intent not in INTERRUPTING_INTENTS or confidence < INTERRUPTION_CONFIDENCE:
            return False
        if slot == RECOVERY_SLOT:
            return intent != "human_handoff"  # a person is one of the offered answers
        if free:
            # A name or a date stays an answer unless it reads as a question
            # or asks for a person in so many words.
            if intent == "human_handoff":
                return bool(PERSON_WORDS.search(text)) and not self.plausible(slot, text, tracker)
            return looks_like_a_question(text)
        return True

    def looks_right(self, slot: str, text: str, tracker: Tracker) -> bool:
        """Does `text` read as an answer to `slot` (its `looks_like` test, else its check)?"""
        question = self.questions[slot]
        if question.looks_like is not None:
            return bool(question.looks_like(text))
        return self.plausible(slot, text, tracker)

    def plausible(self, slot: str, text: str, tracker: Tracker) -> bool:
        try:
            self.questions[slot].check(text, tracker)
        except (fields.FieldProblem, ValueError):
            return False
        return True

    def detail_for_another_question(self, slot: str, text: str, tracker: Tracker) -> bool:
        """The message is (mainly) a detail another question of this form asks for."""
        if self.plausible_here(slot, text, tracker):
            return False
        for other, question in self.questions.items():
            if other != slot and question.find is not None and question.find(text, tracker):
                return True
        return False

    def plausible_here(self, slot: str, text: str, tracker: Tracker) -> bool:
        """Subclasses may say a message fits the asked question even if it holds other details."""
        return False

    # -- validation ------------------------------------------------------------

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        required = await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain)
        to_validate = {s: v for s, v in tracker.slots_to_validate().items() if s in required}
        requested = tracker.get_slot("requested_slot")
        results: dict[str, Any] = {}
        noted: list[str] = []
        for slot, value in to_validate.items():
            if slot == RECOVERY_SLOT:
                output = self.validate_recovery(value, dispatcher, tracker)
            else:
                output = await self.validate_one(slot, value, dispatcher, tracker, domain)
            results.update(output)
            tracker.slots.update(output)
            if slot not in (requested, RECOVERY_SLOT) and output.get(slot) is not None:
                noted.append(slot)
        if noted and requested in self.questions and results.get(requested) is None:
            labels = " and ".join(self.questions[s].label for s in noted if s in self.questions)
            if labels:
                dispatcher.utter_message(response="utter_form_noted", detail=labels)
            state = self.state(tracker) if STATE_SLOT not in results else results[STATE_SLOT]
            results[STATE_SLOT] = {**state, "reask": True}
        elif STATE_SLOT not in results and self.state(tracker)["reask"]:
            results[STATE_SLOT] = {**self.state(tracker), "reask": False}
        return [SlotSet(slot, value) for slot, value in results.items()]

    async def validate_one(
        self,
        slot: str,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        custom = getattr(self, f"validate_{slot}", None)
        if custom is not None:
            output = custom(value, dispatcher, tracker, domain)
            if hasattr(output, "__await__"):
                output = await output
            return output
        question = self.questions.get(slot)
        if question is None:
            return {slot: value}
        if question.skip_value is not None and isinstance(value, str) and SKIP_WORDS.match(value):
            dispatcher.utter_message(response="utter_form_skipped")
            return question.check(question.skip_value, tracker)
        try:
            return question.check(value, tracker)
        except fields.FieldProblem as problem:
            return self.rejected(slot, str(problem), dispatcher, tracker)

    def rejected(
        self, slot: str, problem: str, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        """Count a miss and say what was wrong; the third miss offers a way out instead."""
        state = self.state(tracker)
        state["misses"][slot] = state["misses"].get(slot, 0) + 1
        state["reask"] = False
        if state["misses"][slot] >= MAX_MISSES:
            state["stuck"] = slot
            return {slot: None, STATE_SLOT: state, RECOVERY_SLOT: None}
        if state["misses"][slot] > 1:
            problem = "Sorry, that still isn't something I can use. " + problem
        dispatcher.utter_message(text=problem)
        return {slot: None, STATE_SLOT: state}

    # -- three strikes: the way out --------------------------------------------

    def recovery_choice(self, text: str, tracker: Tracker) -> str | None:
        intent, confidence = latest_intent(tracker)
        stuck = self.state(tracker)["stuck"]
        skippable = stuck in self.questions and self.questions[stuck].skip_value is not None
        if wants_to_cancel(tracker):
            return CANCEL
        if skippable and SKIP_WORDS.match(text):
            return SKIP
        if RETRY_WORDS.search(text):
            return RETRY
        if intent == "human_handoff" or PERSON_WORDS.search(text) or fields.yes_or_no(text, None):
            return PERSON
        if intent == "affirm" and confidence >= 0.5:
            return PERSON
        if fields.yes_or_no(text, intent) is False:
            return RETRY
        return None

    def validate_recovery(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> dict[str, Any]:
        """The answer to "a person, skip, or cancel?" after three misses."""
        text = value if isinstance(value, str) else ""
        state = self.state(tracker)
        stuck = state["stuck"]
        choice = self.recovery_choice(text, tracker)
        if choice in (None, PERSON, RETRY) and self.answers_stuck_question(stuck, text, tracker):
            # The patient simply answered the question this time.
            values = self.questions[stuck].check(text, tracker)
            state.update(stuck=None)
            state["misses"][stuck] = 0
            return {**values, STATE_SLOT: state, RECOVERY_SLOT: None}
        if choice == RETRY and state["rounds"] >= 1:
            choice = PERSON  # one more round was already tried: a person now
        if choice is None:
            state["misses"][RECOVERY_SLOT] = state["misses"].get(RECOVERY_SLOT, 0) + 1
            if state["misses"][RECOVERY_SLOT] >= 2:
                choice = PERSON
            else:
                dispatcher.utter_message(response="utter_form_recovery_unclear")
                return {RECOVERY_SLOT: None, STATE_SLOT: state}
        if choice == CANCEL:
            return {
                **self.as_dict(self.cancelled_events(dispatcher, tracker)),
                **self.ending(CANCELLED),
            }
        if choice == SKIP:
            values = self.questions[stuck].check(self.questions[stuck].skip_value, tracker)
            state.update(stuck=None)
            dispatcher.utter_message(response="utter_form_skipped")
            return {**values, STATE_SLOT: state, RECOVERY_SLOT: None}
        if choice == RETRY:
            state.update(stuck=None, rounds=state["rounds"] + 1)
            state["misses"][stuck] = 1
            return {RECOVERY_SLOT: None, STATE_SLOT: state}
        return self.ending(PERSON)

    def answers_stuck_question(self, stuck: str | None, text: str, tracker: Tracker) -> bool:
        """The reply at the way out is simply an answer ("ok, next Monday morning", "Si Chen")."""
        if stuck not in self.questions:
            return False
        bare_yes_or_no = fields.yes_or_no(text, None) is not None and len(text.split()) == 1
        if bare_yes_or_no or PERSON_WORDS.search(text) or RETRY_WORDS.search(text):
            return False
        return self.looks_right(stuck, text, tracker) and self.plausible(stuck, text, tracker)

    @staticmethod
    def as_dict(events: list[EventType]) -> dict[str, Any]:
        return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}

    def ending(self, outcome: str) -> dict[str, Any]:
        return self.as_dict(self.ended(outcome))
