"""Plain FAQ turns are answered in the Rasa process, exactly as the action server answers them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import rasa.core.actions.action as rasa_actions
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    FollowupAction,
    UserUttered,
)
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.shared.importers.importer import TrainingDataImporter
from rasa.utils.endpoints import EndpointConfig
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.faq import ActionAnswerFaq
from clinic_core import faq_answer
from clinic_core.clinic import load_clinic
from serving import local_actions, patches
from serving.local_actions import LocalAnswerFaq
from tests.support import ROOT

# Nothing listens here: a call to the action server fails at once.
NOWHERE = EndpointConfig("http://127.0.0.1:9/webhook")


pytestmark = pytest.mark.usefixtures("test_clinic")


@pytest.fixture(scope="module")
def domain(assistant_domain: Domain) -> Domain:
    return assistant_domain


def asked(text: str, topic: str | None) -> list[Any]:
    selector = {"faq": {"response": {"intent_response_key": topic}}} if topic else {}
    return [
        ActionExecuted("action_listen"),
        UserUttered(
            text, {"name": "faq", "confidence": 0.9}, parse_data={"response_selector": selector}
        ),
    ]


def answered(topic: str) -> list[Any]:
    return [
        ActionExecuted("action_answer_faq"),
        BotUttered("...", metadata={"utter_action": f"utter_faq/{topic}"}),
    ]


CONVERSATIONS = {
    "a plain question": asked("how long does botox last?", "faq/duration"),
    "a question naming a red flag": asked("can botox make it hard to swallow?", "faq/side_effects"),
    "a follow-up after the side effects": [
        *asked("what are the side effects?", "faq/side_effects"),
        *answered("side_effects"),
        *asked("how long do they last?", "faq/duration"),
    ],
    "a follow-up after the results": [
        *asked("how long does it last?", "faq/duration"),
        *answered("duration"),
        *asked("why does that happen?", "faq/side_effects_moderate"),
    ],
    "no topic selected": asked("hmm", None),
}


def rasa_tracker(events: list[Any]) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("faq-test", events)


def action_server_replies(tracker: DialogueStateTracker, domain: Domain) -> list[dict[str, Any]]:
    """What actions/faq.py sends for the same conversation, run as the action server runs it."""
    sdk_tracker = Tracker.from_dict(tracker.current_state(EventVerbosity.ALL))
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionAnswerFaq().run(dispatcher, sdk_tracker, domain.as_dict()))
    return dispatcher.messages


@pytest.mark.parametrize("name", list(CONVERSATIONS))
def test_the_same_replies_as_the_action_server(name: str, domain: Domain) -> None:
    tracker = rasa_tracker(CONVERSATIONS[name])
    local = LocalAnswerFaq.replies(tracker)
    assert local == action_server_replies(tracker, domain)
    assert local  # an answer, never silence


def test_a_follow_up_is_answered_in_context() -> None:
    after_side_effects = rasa_tracker(CONVERSATIONS["a follow-up after the side effects"])
    after_results = [
        *asked("how long does it last?", "faq/duration"),
        *answered("duration"),
        *asked("how long do they last?", "faq/duration"),
    ]
    assert [r["response"] for r in LocalAnswerFaq.replies(after_side_effects)] == [
        "utter_faq/side_effects_duration"
    ]
    assert [r["response"] for r in LocalAnswerFaq.replies(rasa_tracker(after_results))] == [
        "utter_faq/duration"
    ]


def run(action: RemoteAction, tracker: DialogueStateTracker, domain: Domain) -> list[Any]:
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    return asyncio.run(action.run(CollectingOutputChannel(), nlg, tracker, domain))


def test_the_patient_gets_the_answer_and_safety_line_without_the_action_server(
    domain: Domain,
) -> None:
    tracker = rasa_tracker(CONVERSATIONS["a question naming a red flag"])
    events = run(LocalAnswerFaq("action_answer_faq", NOWHERE), tracker, domain)
    assert isinstance(events[-1], FollowupAction) and events[-1].action_name == "action_listen"
    events = events[:-1]
    assert [e.metadata["utter_action"] for e in events] == [
        "utter_faq/side_effects",
        "utter_emergency_safety_line",
    ]
    clinic = load_clinic()
    assert "side effect" in events[0].text.lower()
    assert clinic.emergency_number in events[1].text  # the template values are filled in
    assert "{" not in events[0].text + events[1].text


def test_a_failure_here_asks_the_action_server(
    domain: Domain, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any) -> list[str]:
        raise RuntimeError("clinic file unreadable")

    calls: list[str] = []

    async def remote_run(self: RemoteAction, *_args: Any) -> list[Any]:
        calls.append(self.name())
        return [BotUttered("from the action server")]

    monkeypatch.setattr(faq_answer, "responses", broken)
    monkeypatch.setattr(RemoteAction, "run", remote_run)
    tracker = rasa_tracker(CONVERSATIONS["a plain question"])
    events = run(LocalAnswerFaq("action_answer_faq", NOWHERE), tracker, domain)
    assert calls == ["action_answer_faq"]
    assert [e.text for e in events] == ["from the action server"]


def test_the_faq_answer_runs_here(domain: Domain, monkeypatch: pytest.MonkeyPatch) -> None:
    original = rasa_actions.action_for_name_or_text
    monkeypatch.setattr(rasa_actions, "action_for_name_or_text", original)  # restored after
    patches.install()
    lookup = rasa_actions.action_for_name_or_text
    assert lookup is local_actions.action_for_name_or_text
    assert isinstance(lookup("action_answer_faq", domain, NOWHERE), LocalAnswerFaq)
    assert type(lookup("action_triage", domain, NOWHERE)) is RemoteAction


def test_recent_turns_stop_at_the_previous_patient_message() -> None:
    tracker = rasa_tracker(
        [
            *asked("what is botox?", "faq/what_is_botox"),
            *answered("what_is_botox"),
            *asked("what are the side effects?", "faq/side_effects"),
            *answered("side_effects"),
            *asked("how long do they last?", "faq/duration"),
        ]
    )
    tail = local_actions.recent_turns(tracker)
    assert [e["event"] for e in tail] == ["user", "bot", "user"]
    assert tail[1]["metadata"]["utter_action"] == "utter_faq/side_effects"


def test_in_a_form_the_policies_decide_what_follows(domain: Domain) -> None:
    events = [ActionExecuted("booking_form"), ActiveLoop("booking_form")]
    tracker = rasa_tracker(events + asked("how long does it last?", "faq/duration"))
    replies = run(LocalAnswerFaq("action_answer_faq", NOWHERE), tracker, domain)
    assert replies and not any(isinstance(e, FollowupAction) for e in replies)


def test_the_training_data_listens_after_every_faq_answer_outside_a_form() -> None:
    """What makes the answer's own FollowupAction(action_listen) safe: if a rule or
    story ever continues after action_answer_faq outside a form, this fails."""
    importer = TrainingDataImporter.load_from_config(
        str(ROOT / "config.yml"), str(ROOT / "domain.yml"), [str(ROOT / "data")]
    )
    generated = TrainingDataGenerator(
        importer.get_stories(), importer.get_domain(), augmentation_factor=0
    ).generate()
    checked = 0
    for story in generated:
        replay = DialogueStateTracker.from_events(story.sender_id, [])
        next_action: dict[int, str | None] = {}
        previous: ActionExecuted | None = None
        for event in story.events:
            if isinstance(event, ActionExecuted):
                if previous is not None:
                    next_action[id(previous)] = event.action_name
                previous = event
        for event in story.events:
            answered_outside_a_form = (
                isinstance(event, ActionExecuted)
                and event.action_name == "action_answer_faq"
                and not replay.active_loop_name
            )
            if answered_outside_a_form:
                assert next_action.get(id(event)) in (None, "action_listen"), story.sender_id
                checked += 1
            replay.update(event)
    assert checked >= 3


def test_the_follow_up_leaves_the_dialogue_states_unchanged(domain: Domain) -> None:
    """The next turn's policies read the same states with the answer's FollowupAction."""
    answer = [ActionExecuted("action_answer_faq"), BotUttered("...")]
    listen = ActionExecuted("action_listen")
    stock = rasa_tracker(
        [*asked("how long?", "faq/duration"), *answer, *asked("and side effects?", None)]
    )
    ours = rasa_tracker(
        [
            *asked("how long?", "faq/duration"),
            *answer,
            FollowupAction("action_listen"),
            *asked("and side effects?", None),
        ]
    )
    assert [e for e in ours.events if isinstance(e, ActionExecuted)][2] == listen
    rule_only = {"slots": [], "loops": []}
    for way in (
        {},
        {"omit_unset_slots": True},
        {"ignore_rule_only_turns": True, "rule_only_data": rule_only},
    ):
        assert ours.past_states(domain, **way) == stock.past_states(domain, **way)
