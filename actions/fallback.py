"""Not understood: ask which topic was meant, or say so honestly; then offer a person.

An unsure reading that has likely candidates gets "Did you mean ...?" with
them as buttons (clinic_core/clarify.py). A patient who is misunderstood twice
in a row (a "Something else" to that question counts as a miss) is offered
a person (the call-back flow) instead of being asked to rephrase yet again.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.faq import answer_faq, follow_up_topic
from clinic_core import clarify, languages, triage
from clinic_core.clinic import fill, load_clinic

FALLBACK_INTENT = "nlu_fallback"
OFFER_A_PERSON_AFTER = 2


DID_YOU_MEAN = "utter_did_you_mean"


def misunderstood_in_a_row(tracker: Tracker) -> int:
    """How many of the latest patient messages in a row were not understood.

    "Something else" in answer to "Did you mean ...?" is a miss too.
    """
    count = 0
    events = list(tracker.events)
    for i in range(len(events) - 1, -1, -1):
        event = events[i]
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent != FALLBACK_INTENT and not (intent == "deny" and _asked_which(events, i)):
            break
        count += 1
    return count


def _asked_which(events: list[dict[str, Any]], user_index: int) -> bool:
    """Was the bot's message just before this patient message "Did you mean ...?"?"""
    for event in reversed(events[:user_index]):
        if event.get("event") == "user":
            return False
        if event.get("event") == "bot":
            return (event.get("metadata") or {}).get("utter_action") == DID_YOU_MEAN
    return False


class ActionFallback(Action):
    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        follow_up = follow_up_topic(tracker)
        if follow_up:  # unsure alone, clear in context ("and how long do they last?")
            answer_faq(dispatcher, tracker, follow_up)
            return []
        values = load_clinic().template_values()
        options = clarify.candidates(tracker.latest_message)
        if misunderstood_in_a_row(tracker) >= OFFER_A_PERSON_AFTER:
            dispatcher.utter_message(response="utter_fallback_handoff", **values)
        elif options:
            dispatcher.utter_message(
                response=DID_YOU_MEAN, buttons=clarify.buttons(options), **values
            )
        else:
            dispatcher.utter_message(response="utter_fallback", **values)
        if triage.assess(tracker.latest_message.get("text") or "").mentions_red_flag:
            # Not understood, but it names an emergency sign: say what to do.
            dispatcher.utter_message(response="utter_emergency_safety_line", **values)
        return []


class ActionClarifyDeclined(Action):
    """ "Something else" (or no) after "Did you mean ...?": rephrase hint, or a person."""

    def name(self) -> str:
        return "action_clarify_declined"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        values = load_clinic().template_values()
        events = list(tracker.events)
        last_bot = next((e for e in reversed(events) if e.get("event") == "bot"), {})
        if (last_bot.get("metadata") or {}).get("utter_action") == "utter_fallback_handoff":
            dispatcher.utter_message(response="utter_anything_else", **values)  # declined a person
        elif misunderstood_in_a_row(tracker) >= OFFER_A_PERSON_AFTER:
            dispatcher.utter_message(response="utter_fallback_handoff", **values)
        else:
            dispatcher.utter_message(response="utter_clarify_something_else", **values)
        return []


class ActionOtherLanguage(Action):
    """Another language: say the assistant answers in English, and how to call."""

    def name(self) -> str:
        return "action_other_language"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        clinic = load_clinic()
        code = (tracker.latest_message.get("language") or {}).get("code") or "en"
        template = languages.reply_for(code, clinic.staff_languages)
        dispatcher.utter_message(text=fill(template, clinic.template_values()))
        return []
