"""Answer "yes" to the follow-up question the assistant itself asked.

FAQ answers end with an offer ("Would you like to know how long side effects
last?").  What was offered is declared in the response's metadata
(`follow_up`), and the last bot message records which response it was, so
the offer is read back from the conversation instead of being kept in a slot.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction
from rasa_sdk.executor import CollectingDispatcher

from actions.clinic import load_clinic

BOOKING_OFFER = "book"


def last_bot_response(tracker: Tracker) -> str | None:
    """Name of the response behind the latest bot message, if any."""
    for event in reversed(tracker.events):
        if event.get("event") == "bot":
            return (event.get("metadata") or {}).get("utter_action")
    return None


def offered_follow_up(tracker: Tracker, domain: dict[str, Any]) -> str | None:
    """The `follow_up` declared by the response the bot sent last."""
    response_name = last_bot_response(tracker)
    variations = domain.get("responses", {}).get(response_name or "", [])
    for variation in variations:
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
        if follow_up:
            dispatcher.utter_message(response=f"utter_{follow_up}", **values)
        else:
            dispatcher.utter_message(response="utter_anything_else", **values)
        return []
