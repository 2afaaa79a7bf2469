"""The dialogue states the policies read are Rasa's own, computed once per event.

serving/state_history.py resumes the replay of a conversation where the
previous prediction left it.  Here every rule, story and test conversation of the project is
grown one event at a time, and after each event its states are compared with
Rasa's unpatched computation, in the three ways the policies ask for them;
so are hand-made conversations with reverts, restarts and new sessions.
"""

from __future__ import annotations

from typing import Any

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from serving import state_history
from tests.support import project_conversations, project_importer

RASA_STATES = state_history._original_states_for_tracker_history


@pytest.fixture(scope="module")
def project() -> tuple[Domain, list[list[Event]]]:
    importer = project_importer()  # rules, stories, whole conversations
    domain = importer.get_domain()
    return domain, project_conversations(importer, domain)


def ways_of_asking(domain: Domain) -> list[dict[str, Any]]:
    """As MemoizationPolicy, TEDPolicy and RulePolicy ask (RulePolicy's rule-only data)."""
    rule_only = {"slots": [domain.slots[0].name], "loops": ["booking_form"]}
    return [
        {},
        {"omit_unset_slots": True},
        {"ignore_rule_only_turns": True, "rule_only_data": rule_only},
    ]


def assert_same_states_as_rasa(domain: Domain, events: list[Event]) -> int:
    """Grow one tracker event by event (as a conversation does); compare every time."""
    tracker = DialogueStateTracker.from_events("states", [], domain.slots)
    ways = ways_of_asking(domain)
    compared = 0
    for event in events:
        tracker.update(event)
        ours_applied = state_history.applied_events(tracker)
        rasas_applied = state_history._original_applied_events(tracker)
        assert len(ours_applied) == len(rasas_applied), event
        assert all(a is b for a, b in zip(ours_applied, rasas_applied, strict=True)), event
        for way in ways:
            ours = state_history.states_for_tracker_history(domain, tracker, **way)
            assert ours == RASA_STATES(domain, tracker, **way), (way, event)
            compared += 1
    return compared


def test_every_story_and_rule_gives_rasas_states(project: tuple) -> None:
    domain, conversations = project
    assert len(conversations) > 60
    compared = sum(assert_same_states_as_rasa(domain, events) for events in conversations)
    assert compared > 2000


def said(intent: str) -> list[Event]:
    return [ActionExecuted("action_listen"), UserUttered(intent, {"name": intent})]


EDGE_CASES = {
    "a patient message taken back": [
        *said("greet"),
        ActionExecuted("utter_greet"),
        *said("faq"),
        UserUtteranceReverted(),
        *said("goodbye"),
    ],
    "an action undone": [*said("greet"), ActionExecuted("utter_greet"), ActionReverted()],
    "a restart": [*said("greet"), ActionExecuted("utter_greet"), Restarted(), *said("faq")],
    "a new session": [
        *said("greet"),
        SlotSet("booking_name", "Ana"),
        ActionExecuted("action_session_start"),
        SessionStarted(),
        *said("faq"),
    ],
    "a form's happy path compacted": [
        *said("book_appointment"),
        ActionExecuted("booking_form"),
        ActiveLoop("booking_form"),
        *said("inform"),
        ActionExecuted("booking_form"),
        SlotSet("booking_name", "Ana"),
        *said("inform"),
        ActionExecuted("booking_form"),
        ActiveLoop(None),
        ActionExecuted("action_listen"),
    ],
}


@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_reverts_restarts_and_forms_give_rasas_states(project: tuple, case: str) -> None:
    domain, _ = project
    assert assert_same_states_as_rasa(domain, EDGE_CASES[case])


def test_a_second_call_replays_only_the_new_events(
    project: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    domain, _ = project
    tracker = DialogueStateTracker.from_events("states", [], domain.slots)
    for _ in range(20):
        for event in [*said("faq"), ActionExecuted("action_answer_faq")]:
            tracker.update(event)
    state_history.states_for_tracker_history(domain, tracker)
    replayed: list[Event] = []
    original_update = DialogueStateTracker.update

    def counting(self: DialogueStateTracker, event: Event, *args: Any) -> None:
        replayed.append(event)
        original_update(self, event, *args)

    monkeypatch.setattr(DialogueStateTracker, "update", counting)
    for event in said("faq"):
        tracker.update(event)
    replayed.clear()
    states = state_history.states_for_tracker_history(domain, tracker)
    assert len(replayed) == 2  # the two new events, not the sixty before them
    assert states == RASA_STATES(domain, tracker)


def test_equal_rule_only_data_in_a_new_dict_resumes(project: tuple) -> None:
    """The policy graph hands over a new dict with the same content on every prediction."""
    domain, _ = project
    tracker = DialogueStateTracker.from_events("states", said("faq") * 5, domain.slots)
    way = {"ignore_rule_only_turns": True, "rule_only_data": {"slots": ["x"], "loops": []}}
    state_history.states_for_tracker_history(domain, tracker, **way)
    tracker.update(ActionExecuted("action_answer_faq"))
    replays = tracker.__dict__[state_history._ATTRIBUTE]
    before = next(iter(replays.values()))
    fresh = {"ignore_rule_only_turns": True, "rule_only_data": {"slots": ["x"], "loops": []}}
    states = state_history.states_for_tracker_history(domain, tracker, **fresh)
    assert next(iter(replays.values())) is before  # resumed, not replayed from the start
    assert states == RASA_STATES(domain, tracker, **fresh)
    other = {"ignore_rule_only_turns": True, "rule_only_data": {"slots": ["y"], "loops": []}}
    assert state_history.states_for_tracker_history(domain, tracker, **other) == RASA_STATES(
        domain, tracker, **other
    )


def test_what_a_caller_edits_does_not_change_the_next_answer(project: tuple) -> None:
    domain, _ = project
    tracker = DialogueStateTracker.from_events("states", said("faq"), domain.slots)
    first = state_history.states_for_tracker_history(domain, tracker)
    first[-1].get("user", {}).pop("intent", None)  # as the featurizer does to the last input
    first.append({"junk": {}})
    assert state_history.states_for_tracker_history(domain, tracker) == RASA_STATES(domain, tracker)


def test_installed_and_removed_with_the_other_patches() -> None:
    from serving import patches

    patches.install()
    assert DialogueStateTracker.applied_events is state_history.applied_events
    assert Domain.states_for_tracker_history is state_history.states_for_tracker_history
    patches.uninstall()
    assert DialogueStateTracker.applied_events is state_history._original_applied_events
    assert Domain.states_for_tracker_history is RASA_STATES
