"""The action server's pure actions run in the Rasa process and answer exactly as
the action server does (serving/local_actions.py, `IN_PROCESS`)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import rasa.core.actions.action as rasa_actions
import yaml
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from rasa_sdk.executor import ActionExecutor

from clinic_core.clinic import load_clinic
from serving import local_actions, patches
from serving.local_actions import InProcessSdkAction
from tests.support import ROOT, TEST_CLINIC


@pytest.fixture(scope="module")
def domain() -> Domain:
    data = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    faq = yaml.safe_load((ROOT / "data" / "responses" / "faq.yml").read_text(encoding="utf-8"))
    data["responses"] = {**data["responses"], **faq["responses"]}
    return Domain.from_dict(data)


@pytest.fixture(autouse=True)
def test_clinic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINIC_CONFIG", str(TEST_CLINIC))


class ActionServerOverJson(EndpointConfig):
    """The action server's side of a call, the request and reply passed through JSON
    as over HTTP, with every action of the `actions` package registered."""

    def __init__(self) -> None:
        super().__init__("http://action-server.test/webhook")
        self.executor = ActionExecutor()
        self.executor.register_package("actions")
        self.calls: list[str] = []

    async def request(self, json: dict[str, Any] | None = None, **_: Any) -> dict[str, Any]:
        call = _round_trip(json)
        self.calls.append(call["next_action"])
        return _round_trip(await self.executor.run(call))


def _round_trip(data: Any) -> Any:
    return json.loads(json.dumps(data))


def said(text: str, intent: str, **parse: Any) -> list[Any]:
    return [
        ActionExecuted("action_listen"),
        UserUttered(text, {"name": intent, "confidence": parse.pop("confidence", 0.95)}, **parse),
    ]


def bot(utter_action: str) -> BotUttered:
    return BotUttered("...", metadata={"utter_action": utter_action})


UNSURE = {
    "intent": {"name": "nlu_fallback", "confidence": 0.4},
    "intent_ranking": [
        {"name": "nlu_fallback", "confidence": 0.4},
        {"name": "faq", "confidence": 0.35},
        {"name": "book_appointment", "confidence": 0.3},
    ],
    "response_selector": {
        "faq": {
            "ranking": [
                {"intent_response_key": "faq/duration", "confidence": 0.5},
                {"intent_response_key": "faq/side_effects_duration", "confidence": 0.45},
            ]
        }
    },
}

# (action, conversation so far): each action at the point where it runs.
CONVERSATIONS: dict[str, tuple[str, list[Any]]] = {
    "a conversation opens": ("action_session_start", []),
    "a session opens again": (
        "action_session_start",
        [*said("how long does it last?", "faq"), bot("utter_faq/duration")],
    ),
    "prices and address": (
        "action_clinic_info",
        said("how much is it and where are you?", "clinic_info"),
    ),
    "a practical question the clinic did not configure": (
        "action_clinic_info",
        said("do you take insurance?", "clinic_info"),
    ),
    "yes to a call back": (
        "action_accept_offer",
        [
            *said("i have a small bruise where i was injected", "report_symptom"),
            bot("utter_triage_expected"),
            *said("yes please", "affirm"),
        ],
    ),
    "yes to a person after misunderstandings": (
        "action_accept_offer",
        [
            *said("blorp", "nlu_fallback", confidence=0.2),
            bot("utter_fallback_handoff"),
            *said("yes", "affirm"),
        ],
    ),
    "yes with nothing offered": ("action_accept_offer", said("yes", "affirm")),
    "not understood, close candidates": (
        "action_fallback",
        said("how long", "nlu_fallback", confidence=0.4, parse_data=UNSURE),
    ),
    "not understood, naming a red flag": (
        "action_fallback",
        said("my bloop is blurry", "nlu_fallback", confidence=0.3),
    ),
    "something else after did you mean": (
        "action_clarify_declined",
        [
            *said("how long", "nlu_fallback", confidence=0.4, parse_data=UNSURE),
            bot("utter_did_you_mean"),
            *said("something else", "deny"),
        ],
    ),
    "another language": (
        "action_other_language",
        said("hola, necesito ayuda", "other_language"),
    ),
}


def tracker_of(events: list[Any], domain: Domain) -> DialogueStateTracker:
    return DialogueStateTracker.from_events("in-process", events, domain.slots)


def run(action: RemoteAction, events: list[Any], domain: Domain) -> tuple[list[Any], list[str]]:
    """What the action returns, and the texts the patient is sent (its bot messages)."""
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    tracker = tracker_of(events, domain)
    returned = asyncio.run(action.run(CollectingOutputChannel(), nlg, tracker, domain))
    return returned, [e.text for e in returned if isinstance(e, BotUttered)]


@pytest.mark.parametrize("name", list(CONVERSATIONS))
def test_the_same_events_and_messages_as_the_action_server(name: str, domain: Domain) -> None:
    action_name, events = CONVERSATIONS[name]
    server = ActionServerOverJson()
    remote = run(RemoteAction(action_name, server), events, domain)
    local = run(InProcessSdkAction(action_name, server), events, domain)
    assert server.calls == [action_name]  # only the remote run reached the action server
    assert local == remote
    returned, _sent = local
    assert returned  # the action did something, never silence


def test_a_conversation_opens_with_the_notice_and_the_clinic_facts(domain: Domain) -> None:
    returned, sent = run(InProcessSdkAction("action_session_start", None), [], domain)
    clinic = load_clinic()
    assert clinic.phone in sent[0] and "automated" in sent[0]
    assert any(isinstance(e, SessionStarted) for e in returned)
    slots = {e.key: e.value for e in returned if e.type_name == "slot"}
    assert slots["clinic_phone"] == clinic.phone
    assert returned[-1] == ActionExecuted("action_listen")


def test_a_failure_here_asks_the_action_server(domain: Domain) -> None:
    class Broken(InProcessSdkAction):
        executor = ActionExecutor()  # nothing registered: the executor raises

    server = ActionServerOverJson()
    events = CONVERSATIONS["prices and address"][1]
    returned, sent = run(Broken("action_clinic_info", server), events, domain)
    assert server.calls == ["action_clinic_info"]
    assert load_clinic().address in " ".join(sent)
    assert returned


def test_what_stores_or_notifies_stays_on_the_action_server(
    domain: Domain, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        rasa_actions, "action_for_name_or_text", rasa_actions.action_for_name_or_text
    )
    patches.install()
    lookup = rasa_actions.action_for_name_or_text
    for name in (
        "action_triage",
        "action_triage_decide",
        "action_escalate",
        "action_start_handoff",
        "action_submit_booking",
        "action_ask_booking_confirmed",
        "validate_booking_form",
        "validate_contact_form",
        "validate_triage_check_form",
    ):
        assert type(lookup(name, domain, None)) is RemoteAction, name
    for name, (action_name, _events) in CONVERSATIONS.items():
        assert isinstance(lookup(action_name, domain, None), InProcessSdkAction), name
    assert {a().name() for a in local_actions.IN_PROCESS} == {
        action for action, _events in CONVERSATIONS.values()
    }
