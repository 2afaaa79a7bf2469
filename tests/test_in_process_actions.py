"""The action server's pure actions run in the Rasa process and answer exactly as
the action server does (serving/local_actions.py, `IN_PROCESS`)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import rasa.core.actions.action as rasa_actions
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.actions.forms import FormAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionExecutionRejection as SdkRejection

from clinic_core.clinic import load_clinic
from serving import local_actions, patches
from serving.local_actions import InProcessSdkAction, InProcessValidationForm

pytestmark = pytest.mark.usefixtures("test_clinic")


@pytest.fixture(scope="module")
def domain(assistant_domain: Domain) -> Domain:
    return assistant_domain


class ActionServerOverJson(EndpointConfig):
    """The action server's side of a call, the request and reply passed through JSON
    as over HTTP, with every action of the `actions` package registered."""

    def __init__(self) -> None:
        super().__init__("http://action-server.test/webhook")
        self.executor = ActionExecutor()
        self.executor.register_package("actions")
        self.calls: list[str] = []
        self.requests: list[dict[str, Any]] = []

    async def request(self, json: dict[str, Any] | None = None, **_: Any) -> dict[str, Any]:
        call = _round_trip(json)
        self.calls.append(call["next_action"])
        self.requests.append(_round_trip(json))  # the action may change `call`
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
    "the booking summary": (
        "action_ask_booking_confirmed",
        [
            SlotSet("booking_name", "Ana Diaz"),
            SlotSet("booking_phone", "+12015550123"),
            SlotSet("booking_time", "next tuesday afternoon"),
            SlotSet("booking_area", "forehead"),
            SlotSet("booking_new_patient", True),
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


def test_what_stores_notifies_or_hands_over_stays_on_the_action_server(
    domain: Domain, installed: None
) -> None:
    lookup = rasa_actions.action_for_name_or_text
    for name in (
        "action_triage",
        "action_triage_decide",
        "action_escalate",
        "action_start_handoff",
        "action_submit_booking",
    ):
        assert type(lookup(name, domain, None)) is RemoteAction, name
    validators = {f"validate_{form}" for form, *_turn in FORM_TURNS.values()}
    here = {action for action, _events in CONVERSATIONS.values()} | validators
    for name in here:
        assert isinstance(lookup(name, domain, None), InProcessSdkAction), name
    assert {a().name() for a in local_actions.IN_PROCESS} == here
    for form in domain.form_names:
        assert isinstance(lookup(form, domain, None), InProcessValidationForm), form


ORIGINAL_LOOKUP = local_actions._original_action_for_name_or_text


def form_turn(form: str, slot: str, filled: dict[str, Any], text: str) -> list[Any]:
    """A form that asked for `slot`, and the patient's answer."""
    return [
        *said("hello", "greet"),
        ActionExecuted(form),
        ActiveLoop(form),
        *[SlotSet(name, value) for name, value in filled.items()],
        SlotSet("requested_slot", slot),
        ActionExecuted("action_listen"),
        UserUttered(text, {"name": "inform", "confidence": 0.9}),
    ]


FORM_TURNS = {
    "a booking name": ("booking_form", "booking_name", {}, "Ana Diaz"),
    "a booking phone that is not one": (
        "booking_form",
        "booking_phone",
        {"booking_name": "Ana Diaz"},
        "call me whenever",
    ),
    "the last booking answer, then the summary": (
        "booking_form",
        "booking_new_patient",
        {
            "booking_name": "Ana Diaz",
            "booking_phone": "+12015550123",
            "booking_email": "ana@example.com",
            "booking_time": "next tuesday afternoon",
            "booking_area": "forehead",
        },
        "yes, first time",
    ),
    "a call-back phone": ("contact_form", "contact_phone", {"contact_name": "Ana"}, "201 555 0123"),
    "the screening question answered": (
        "triage_check_form",
        "triage_red_flags",
        {},
        "no, none of those",
    ),
}


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rasa's lookup replaced as in the Rasa server, and restored afterwards."""
    monkeypatch.setattr(
        rasa_actions, "action_for_name_or_text", rasa_actions.action_for_name_or_text
    )
    patches.install()


@pytest.mark.parametrize("name", list(FORM_TURNS))
def test_a_form_validates_here_as_the_action_server_would(
    name: str, domain: Domain, installed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    form, slot, filled, text = FORM_TURNS[name]
    events = form_turn(form, slot, filled, text)
    server = ActionServerOverJson()
    # Rasa alone: every custom action of the turn goes to the action server.
    ours = rasa_actions.action_for_name_or_text
    monkeypatch.setattr(rasa_actions, "action_for_name_or_text", ORIGINAL_LOOKUP)
    remote = run(FormAction(form, server), events, domain)
    monkeypatch.setattr(rasa_actions, "action_for_name_or_text", ours)
    assert f"validate_{form}" in server.calls
    server.calls.clear()
    local = run(InProcessValidationForm(form, server), events, domain)
    assert server.calls == []  # validation (and the booking summary) ran here
    assert local == remote
    assert any(isinstance(e, SlotSet) for e in local[0])


def test_slot_candidates_reach_the_validator_as_over_http(
    domain: Domain, installed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No slot of this domain is filled by Rasa's own mappings today; one that is
    must reach the validator the same way."""
    events = form_turn("booking_form", "booking_phone", {"booking_name": "Ana"}, "201 555 0123")
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    candidate = {"booking_phone": "201 555 0123"}
    server = ActionServerOverJson()
    seen_here: list[dict[str, Any]] = []

    class Recording:
        async def run(self, call: dict[str, Any]) -> Any:
            seen_here.append(_round_trip(call))
            return await server.executor.run(call)

    monkeypatch.setattr(InProcessSdkAction, "executor", Recording())

    def validated(form: FormAction) -> list[Any]:
        tracker = tracker_of(events, domain)
        channel = CollectingOutputChannel()
        return asyncio.run(form.validate_slots(candidate, tracker, domain, channel, nlg))

    remote = validated(FormAction("booking_form", server))
    local = validated(InProcessValidationForm("booking_form", server))
    assert server.calls == ["validate_booking_form"] and len(seen_here) == 1
    assert local == remote
    assert SlotSet("booking_phone", "+12015550123") in local
    sent = seen_here[0]["tracker"]["events"]
    assert {"event": "slot", "name": "booking_phone", "value": "201 555 0123"}.items() <= sent[
        -1
    ].items()
    here, there = seen_here[0]["tracker"], server.requests[0]["tracker"]
    assert here["slots"] == there["slots"]
    assert untimed(here["events"]) == untimed(there["events"])


def untimed(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events without their timestamps (the validation tracker's are made per call)."""
    return [{k: v for k, v in event.items() if k != "timestamp"} for event in events]


RESPONSES_SEEN: list[int] = []


# Plain functions, not Action classes: the SDK's register_package would pick up
# any Action subclass defined anywhere in the process.
async def meddling(dispatcher: Any, tracker: Any, domain: dict[str, Any]) -> list[Any]:
    """An action that changes what it was given (the action server's copy, normally)."""
    RESPONSES_SEEN.append(len(domain["responses"]))
    domain["responses"].clear()
    tracker.latest_message["intent"]["name"] = "changed"
    tracker.slots["clinic_phone"] = "changed"
    dispatcher.utter_message(text="meddled")
    return []


async def declining(dispatcher: Any, tracker: Any, domain: dict[str, Any]) -> list[Any]:
    raise SdkRejection("action_clinic_info", "not this time")


def with_action(run: Any) -> type[InProcessSdkAction]:
    executor = ActionExecutor()
    executor.register_function("action_clinic_info", run)
    return type("WithAction", (InProcessSdkAction,), {"executor": executor})


def test_an_action_here_changes_only_its_own_copies(domain: Domain) -> None:
    live = Domain.from_dict(domain.as_dict())
    responses = dict(live.as_dict()["responses"])
    tracker = tracker_of(
        [SlotSet("clinic_phone", "+1 555-0142"), *said("price?", "clinic_info")], live
    )
    nlg = TemplatedNaturalLanguageGenerator(live.responses)
    action = with_action(meddling)("action_clinic_info", None)
    RESPONSES_SEEN.clear()
    returned = asyncio.run(action.run(CollectingOutputChannel(), nlg, tracker, live))
    asyncio.run(action.run(CollectingOutputChannel(), nlg, tracker, live))
    assert [e.text for e in returned] == ["meddled"]
    assert [len(responses), len(responses)] == RESPONSES_SEEN  # the second call got a whole copy
    assert live.as_dict()["responses"] == responses
    assert tracker.latest_message.intent["name"] == "clinic_info"
    assert tracker.get_slot("clinic_phone") == "+1 555-0142"


def test_an_action_that_declines_here_declines_as_over_http(domain: Domain) -> None:
    server = ActionServerOverJson()
    action = with_action(declining)("action_clinic_info", server)
    with pytest.raises(ActionExecutionRejection):
        run(action, said("price?", "clinic_info"), domain)
    assert server.calls == []  # a refusal is an answer, not a failure
