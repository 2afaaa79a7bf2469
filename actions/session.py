"""Session start: the clinic's facts and the automated-assistant notice.

Every conversation must open by saying it is an automated assistant, not
medical advice, and how to reach a person, whatever the patient's first
message was.  The clinic facts are put into slots here so that plain domain
responses can use `{clinic_phone}` etc. without retraining when the clinic
file changes.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from clinic_core.clinic import load_clinic


class ActionSessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    async def run(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: dict[str, Any],
    ) -> list[EventType]:
        values = load_clinic().template_values()
        events: list[EventType] = [SessionStarted()]
        events.extend(SlotSet(name, value) for name, value in values.items())
        # Slots set above are not applied yet when this response is rendered,
        # so the same values go along explicitly.
        dispatcher.utter_message(response="utter_iamabot", **values)
        events.append(ActionExecuted("action_listen"))
        return events
