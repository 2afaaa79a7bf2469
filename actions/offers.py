"""Answer "yes" to the follow-up question the assistant itself asked.

FAQ answers end with an offer ("Would you like to know how long side effects
last?").  What was offered is declared in the response's metadata
(`follow_up`), and the last bot message records which response it was, so
the offer is read back from the conversation instead of being kept in a slot.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.escalation import prefilled_contact
from clinic_core.clinic import load_clinic

BOOKING_OFFER = "book"
CALLBACK_OFFER = "callback"
HANDOFF_OFFER = "handoff"


def offered_follow_up(tracker: Tracker, domain: dict[str, Any]) -> str | None:
    """The `follow_up` declared by a response of the bot's latest turn.

    A turn can end with more than the offer (e.g. an FAQ answer followed by
    the emergency safety line), so every message of that turn is looked at,
    latest first; an earlier turn's offer no longer counts.
    """
    responses = domain.get("responses", {})
    seen_bot_turn = False
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            if seen_bot_turn:
                return None
            continue
        if event.get("event") != "bot":
            continue
        seen_bot_turn = True
        name = (event.get("metadata") or {}).get("utter_action") or ""
        for variation in responses.get(name, []):
            follow_up = (variation.get("metadata") or {}).get("follow_up")
            if follow_up:
                return follow_up
    return None


class ActionAcceptOffer(Action):
    def name(self) -> str:
        return "action_accept_offer"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[EventType]:
        values = load_clinic().template_values()
        follow_up = offered_follow_up(tracker, domain)
        if follow_up == BOOKING_OFFER:
            return [FollowupAction("booking_form")]
        if follow_up == HANDOFF_OFFER:  # "Would you like someone to call you back?"
            clinic = load_clinic()
            dispatcher.utter_message(response="utter_handoff_start", **values)
            return [
                SlotSet("contact_purpose", "handoff"),
                *prefilled_contact(tracker, clinic),
                FollowupAction("contact_form"),
            ]
        if follow_up == CALLBACK_OFFER:
            return [
                SlotSet("contact_purpose", "callback"),
                *prefilled_contact(tracker, load_clinic()),
                FollowupAction("contact_form"),
            ]
        if follow_up:
            dispatcher.utter_message(response=f"utter_{follow_up}", **values)
        else:
            # Nothing was offered (or "anything else?" was asked): a yes means
            # they want something; ask what, never "anything else?" again.
            dispatcher.utter_message(response="utter_what_would_you_like", **values)
        return []
