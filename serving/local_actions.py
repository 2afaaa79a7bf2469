"""Plain FAQ turns answered inside the Rasa process, without the action server.

Every custom action call sends the whole conversation to the action server
and back; `make bench` measured that round trip as the largest part of an
FAQ turn beyond the models themselves.  Answering an FAQ question needs no
more than the message's parse data, the bot's previous turn and the clinic
file, all of which the Rasa process has.  So `action_answer_faq` runs here,
from the same decision the action server's version uses
(clinic_core/faq_answer.py), and its messages go through Rasa's own path for
custom action replies (`RemoteAction._utter_responses`): a patient sees the
same words, buttons and follow-up offers, and the stored bot messages are
the same.

Outside a form, what follows an FAQ answer is always listening for the
patient: every rule and story says so (tests/test_local_actions.py checks
the training data). The answer says so itself (`FollowupAction`, Rasa's
documented way), which spares the second run of every policy in the turn,
TED's network included.  The stored conversation then has one more event
(the `FollowupAction`), and its listen is recorded as the follow-up's
prediction instead of RulePolicy's; the dialogue states the policies read
are the same (tested). In a form, the policies decide as before (the form
asks its question again).

The action server's actions that need nothing but the conversation and the
clinic's files (the clinic file, the triage rules, the languages file; no
database, no network, no secret: `IN_PROCESS` below) run here too: the
action server's own classes, through the SDK's own executor, with copies of
the request the action server would get; only the HTTP round trip and its
schema check are saved.  (This process's environment holds the tracker
store's URL and the lock store's password, which the action server's does
not; these actions read neither.)  That round trip costs far more under load than its
own time: the turn waits for the response and then for its turn on the
event loop behind every other conversation's work (`make bench`: a price
question took 360 ms at the median at 8 concurrent conversations, a plain
FAQ answer 80 ms).

Forms ask their validation action (`validate_<form>`) through a RemoteAction
that Rasa's FormAction builds itself; `InProcessValidationForm` is that
FormAction with its validation looked up like every other action, so the
forms' validators (pure too: the booking is stored by
`action_submit_booking`, on the action server) run here as well.

If anything in a local action fails, the action is sent to the action
server as before.  Rasa has no hook for in-process actions in 3.6, so
`install()` wraps `action_for_name_or_text`; serving/patches.py installs it
after its Rasa version check.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import rasa.core.actions.action as rasa_actions
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.actions.forms import FormAction
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import (
    BotUttered,
    Event,
    FollowupAction,
    SlotSet,
    UserUttered,
    deserialise_events,
)
from rasa_sdk.executor import ActionExecutor, CollectingDispatcher
from rasa_sdk.interfaces import ActionExecutionRejection as SdkRejection

from actions.booking import ActionAskBookingConfirmed, ValidateBookingForm
from actions.clinic_facts import ActionClinicInfo
from actions.contact_form import ValidateContactForm
from actions.fallback import ActionClarifyDeclined, ActionFallback, ActionOtherLanguage
from actions.offers import ActionAcceptOffer
from actions.screening_form import ValidateTriageCheckForm
from actions.session import ActionSessionStart
from clinic_core import faq_answer
from clinic_core.clinic import load_clinic
from serving.action_endpoint import kept_alive

if TYPE_CHECKING:
    from rasa.core.channels.channel import OutputChannel
    from rasa.core.nlg import NaturalLanguageGenerator
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)

ANSWER_FAQ = "action_answer_faq"
_original_action_for_name_or_text = rasa_actions.action_for_name_or_text


def recent_turns(tracker: DialogueStateTracker, user_turns: int = 2) -> list[dict[str, Any]]:
    """The conversation's last `user_turns` patient messages and what followed, as
    event dicts with only what clinic_core/follow_ups.py reads; oldest first."""
    tail: list[dict[str, Any]] = []
    seen_users = 0
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            seen_users += 1
            tail.append({"event": "user", "text": event.text})
            if seen_users >= user_turns:
                break
        elif isinstance(event, BotUttered):
            tail.append({"event": "bot", "metadata": dict(event.metadata or {})})
    tail.reverse()
    return tail


class LocalFirstAction(RemoteAction):
    """A custom action answered in this process, through Rasa's own reply path for
    custom actions; the action server's answer if anything here fails."""

    async def run(
        self,
        output_channel: OutputChannel,
        nlg: NaturalLanguageGenerator,
        tracker: DialogueStateTracker,
        domain: Domain,
    ) -> list[Event]:
        try:
            replies, events = await self.local_reply(tracker, domain)
        except ActionExecutionRejection:
            raise  # the action declines: an answer, not a failure
        except Exception:  # noqa: BLE001 - the action server still knows how to run it
            logger.exception("The in-process %s failed; asking the action server.", self.name())
            return await super().run(output_channel, nlg, tracker, domain)
        bot_messages = await self._utter_responses(replies, output_channel, nlg, tracker)
        return list(bot_messages) + events

    async def local_reply(
        self, tracker: DialogueStateTracker, domain: Domain
    ) -> tuple[list[dict[str, Any]], list[Event]]:
        """What the action server would answer: its messages, then its events."""
        raise NotImplementedError


class LocalAnswerFaq(LocalFirstAction):
    """`action_answer_faq` in the Rasa process."""

    async def local_reply(
        self, tracker: DialogueStateTracker, domain: Domain
    ) -> tuple[list[dict[str, Any]], list[Event]]:
        listen: list[Event] = []
        if not tracker.active_loop_name:
            listen.append(FollowupAction(ACTION_LISTEN_NAME))
        return self.replies(tracker), listen

    @staticmethod
    def replies(tracker: DialogueStateTracker) -> list[dict[str, Any]]:
        """What actions/faq.py's dispatcher would send, built by the same SDK dispatcher."""
        latest = tracker.latest_message
        parse_data = dict(latest.parse_data) if latest is not None else {}
        topic = faq_answer.topic_to_answer(parse_data, recent_turns(tracker))
        values = load_clinic().template_values()
        dispatcher = CollectingDispatcher()
        for response in faq_answer.responses(topic, parse_data.get("text") or ""):
            dispatcher.utter_message(response=response, **values)
        return dispatcher.messages


class InProcessSdkAction(LocalFirstAction):
    """An action server's action run by the SDK's executor in this process.

    Same request and same action code as over HTTP.  The action gets copies,
    as over HTTP: the request and the reply pass through JSON, and each call
    gets its own copy of the model's domain, so nothing an action changes
    reaches the live conversation, the model or another call.
    """

    executor = ActionExecutor()

    async def local_reply(
        self, tracker: DialogueStateTracker, domain: Domain
    ) -> tuple[list[dict[str, Any]], list[Event]]:
        call = self._action_call_format(tracker, domain)
        given_domain = call.pop("domain", None)
        call = json.loads(json.dumps(call))
        if given_domain is not None:
            call["domain"] = _private_domain(domain)
        try:
            reply = json.loads(json.dumps(await self.executor.run(call) or {}))
        except SdkRejection as rejection:
            raise ActionExecutionRejection(self.name(), rejection.message) from rejection
        return reply.get("responses") or [], deserialise_events(reply.get("events") or [])


_domains: dict[int, tuple[Domain, str]] = {}


def _private_domain(domain: Domain) -> dict[str, Any]:
    """A copy of the model's domain for one in-process call (serialised once per model)."""
    known = _domains.get(id(domain))
    if known is None or known[0] is not domain:
        _domains.clear()  # the previous model's
        known = (domain, json.dumps(domain.as_dict()))
        _domains[id(domain)] = known
    return json.loads(known[1])


# Only actions that need nothing the action server has and this process lacks
# (they read the conversation and the clinic's files) and that write nothing
# anywhere: what stores or notifies stays on the action server.
IN_PROCESS = (
    ActionSessionStart,
    ActionClinicInfo,
    ActionAcceptOffer,
    ActionFallback,
    ActionClarifyDeclined,
    ActionOtherLanguage,
    ValidateBookingForm,
    ValidateContactForm,
    ValidateTriageCheckForm,
    ActionAskBookingConfirmed,
)
for _action in IN_PROCESS:
    InProcessSdkAction.executor.register_action(_action)

LOCAL_ACTIONS: dict[str, type[LocalFirstAction]] = {
    ANSWER_FAQ: LocalAnswerFaq,
    **{action().name(): InProcessSdkAction for action in IN_PROCESS},
}


class InProcessValidationForm(FormAction):
    """Rasa's FormAction, whose validation action is looked up like any other."""

    async def validate_slots(
        self,
        slot_candidates: dict[str, Any],
        tracker: DialogueStateTracker,
        domain: Domain,
        output_channel: OutputChannel,
        nlg: NaturalLanguageGenerator,
    ) -> list[Event]:
        """Rasa 3.6.21's `validate_slots` with `action_for_name_or_text` for its RemoteAction."""
        validate_name = f"validate_{self.name()}"
        if validate_name not in domain.action_names_or_texts:
            return []
        validator = action_for_name_or_text(validate_name, domain, self.action_endpoint)
        if not isinstance(validator, InProcessSdkAction):
            return await super().validate_slots(
                slot_candidates, tracker, domain, output_channel, nlg
            )
        candidates: list[Event] = [SlotSet(name, value) for name, value in slot_candidates.items()]
        validating = self._temporary_tracker(tracker, candidates, domain)
        return await validator.run(output_channel, nlg, validating, domain)


def action_for_name_or_text(
    action_name_or_text: str, domain: Domain, action_endpoint: Any
) -> rasa_actions.Action:
    """Rasa's lookup, except that the actions above run in this process, and the
    others reach the action server through kept-alive connections."""
    action_endpoint = kept_alive(action_endpoint)
    local = LOCAL_ACTIONS.get(action_name_or_text)
    if local is not None and action_name_or_text in domain.user_actions:
        return local(action_name_or_text, action_endpoint)
    action = _original_action_for_name_or_text(action_name_or_text, domain, action_endpoint)
    if type(action) is FormAction:
        return InProcessValidationForm(action_name_or_text, action_endpoint)
    return action


def install() -> None:
    """Called by serving/patches.py after its Rasa version check."""
    rasa_actions.action_for_name_or_text = action_for_name_or_text


def uninstall() -> None:
    rasa_actions.action_for_name_or_text = _original_action_for_name_or_text
