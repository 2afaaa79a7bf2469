"""Dialogue states computed once per event, not once per event per prediction.

Every policy turns the conversation into a list of dialogue states
(`Domain.states_for_tracker_history`), by replaying the whole conversation
event by event from an empty tracker, and does so for each prediction: about
three policies times two or three predictions a turn.  `make bench` measured
this as the main reason a turn gets slower as the conversation grows,
although the policies look at the last four turns.

The events Rasa applies (`applied_events`) are extended the same way.

The states of a conversation's prefix never change when events are appended
to it, so this keeps, on the tracker object, where the replay stopped (the
replayed tracker, the states so far, and the loop's two carried values) for
each way of asking (slots omitted or not, rule-only turns ignored or not),
and continues from there when the same tracker is asked again with more
events.  It continues only when the events Rasa applies (`applied_events`:
after reverts, restarts and form-loop compaction) still begin with exactly
the event objects replayed before; otherwise, and for a new domain, it
replays from the start, as Rasa does.  With serving/tracker_store.py the same
tracker object lives across turns, so a turn replays only its own events.

The loop below is Rasa 3.6.21's `states_for_tracker_history`, cut at each
event so it can be resumed; tests compare its result with Rasa's own on
conversations with forms, reverts, restarts and rules.  Installed by
serving/patches.py after its Rasa version check.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from rasa.shared.core.constants import PREVIOUS_ACTION
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    Event,
    Restarted,
    SessionStarted,
    UserUtteranceReverted,
)
from rasa.shared.core.trackers import DialogueStateTracker

_original_states_for_tracker_history = Domain.states_for_tracker_history
_original_applied_events = DialogueStateTracker.applied_events
_ATTRIBUTE = "_clinic_state_history"
_APPLIED = "_clinic_applied_events"
# Events after which Rasa's applied events are not the earlier ones plus the new ones.
_RESHAPING = (Restarted, SessionStarted, ActionReverted, UserUtteranceReverted)


@dataclass
class _Applied:
    """`tracker.applied_events()` as of the tracker's first `seen` events."""

    seen: int
    last: Event | None
    events: list[Event]
    loop_names: set[str]


def _plain(event: Event, loop_names: set[str]) -> bool:
    """Appended to the applied events as it is: no revert, restart, new session,
    new loop, or step of a known loop."""
    if isinstance(event, _RESHAPING):
        return False
    if isinstance(event, ActiveLoop) and event.name and event.name not in loop_names:
        return False
    return not (isinstance(event, ActionExecuted) and event.action_name in loop_names)


def _plain_events_since(tracker: DialogueStateTracker, known: _Applied | None) -> list | None:
    """The events appended since `known`, if all are plain; None if it must be recomputed."""
    events = tracker.events
    if (
        known is None
        or events.maxlen is not None  # events can be dropped from the front
        or not 0 < known.seen <= len(events)
        or events[known.seen - 1] is not known.last
    ):
        return None
    new = list(itertools.islice(events, known.seen, None))
    return new if all(_plain(event, known.loop_names) for event in new) else None


def applied_events(tracker: DialogueStateTracker) -> list[Event]:
    """Rasa's `applied_events()`, extended from the previous call while only plain
    events were appended (no revert, restart, new session, new loop or loop step:
    after those, what was applied before can change, so it is computed again).

    Rasa calls it several times a turn (each policy, the session-expiry check);
    each call walked the whole conversation."""
    events = tracker.events
    known: _Applied | None = tracker.__dict__.get(_APPLIED)
    new = _plain_events_since(tracker, known)
    if known is not None and new is not None:
        known.events.extend(new)
        known.seen = len(events)
        known.last = events[-1] if events else None
        return list(known.events)  # callers may edit their list
    applied = _original_applied_events(tracker)
    loop_names = {e.name for e in events if isinstance(e, ActiveLoop) and e.name}
    tracker.__dict__[_APPLIED] = _Applied(
        len(events), events[-1] if events else None, list(applied), loop_names
    )
    return applied


@dataclass
class _Replay:
    """Where the replay of one tracker stopped, for one way of asking."""

    domain: Domain
    rule_only_data: dict[str, Any] | None
    replayed: DialogueStateTracker
    applied: list[Event] = field(default_factory=list)
    states: list[State] = field(default_factory=list)
    last_ml_action_sub_state: Any = None
    turn_was_hidden: bool = False


def _frozen(value: Any) -> Any:
    """A hashable stand-in for `rule_only_data` (the policies pass a new, equal dict each time)."""
    if isinstance(value, dict):
        return tuple(sorted((key, _frozen(item)) for key, item in value.items()))
    if isinstance(value, set | frozenset):
        return tuple(sorted((_frozen(item) for item in value), key=repr))
    if isinstance(value, list | tuple):
        return tuple(_frozen(item) for item in value)
    return value


def _copy(states: list[State]) -> list[State]:
    """Callers edit the states they get (e.g. the last user input): give them copies."""
    return [{key: dict(value) for key, value in state.items()} for state in states]


def _step(
    domain: Domain,
    replay: _Replay,
    hide_rule_turn: bool,
    omit_unset_slots: bool,
    ignore_rule_only_turns: bool,
) -> None:
    """One state of the history: Rasa's loop body, over `replay`'s carried values."""
    tracker, states = replay.replayed, replay.states
    if ignore_rule_only_turns:
        if not replay.turn_was_hidden:
            replay.last_ml_action_sub_state = domain._get_prev_action_sub_state(tracker)
        if not tracker.followup_action and tracker.latest_action_name != tracker.active_loop_name:
            replay.turn_was_hidden = hide_rule_turn
        if replay.turn_was_hidden:
            return
    state = domain.get_active_state(tracker, omit_unset_slots=omit_unset_slots)
    if ignore_rule_only_turns:
        domain._remove_rule_only_features(state, replay.rule_only_data)
        if states:
            domain._substitute_rule_only_user_input(state, states[-1])
        if replay.last_ml_action_sub_state:
            state[PREVIOUS_ACTION] = replay.last_ml_action_sub_state
    states.append(domain._clean_state(state))


def states_for_tracker_history(
    self: Domain,
    tracker: DialogueStateTracker,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: dict[str, Any] | None = None,
) -> list[State]:
    replays: dict[tuple, _Replay] = tracker.__dict__.setdefault(_ATTRIBUTE, {})
    key = (omit_unset_slots, ignore_rule_only_turns, _frozen(rule_only_data))
    applied = applied_events(tracker)
    replay = replays.get(key)
    if (
        replay is None
        or replay.domain is not self
        or len(applied) < len(replay.applied)
        or any(old is not new for old, new in zip(replay.applied, applied, strict=False))
    ):
        replay = _Replay(self, rule_only_data, tracker.init_copy())
        replays[key] = replay
    for event in applied[len(replay.applied) :]:
        if isinstance(event, ActionExecuted):
            _step(
                self,
                replay,
                event.hide_rule_turn,
                omit_unset_slots,
                ignore_rule_only_turns,
            )
        replay.replayed.update(event)
        replay.applied.append(event)
    # The state after the last event is provisional: the next event decides how
    # it counts, so it is computed on a copy of the carried values each time.
    final = _Replay(
        self,
        rule_only_data,
        replay.replayed,
        replay.applied,
        list(replay.states),
        replay.last_ml_action_sub_state,
        replay.turn_was_hidden,
    )
    _step(self, final, False, omit_unset_slots, ignore_rule_only_turns)
    return _copy(final.states)


def install() -> None:
    """Called by serving/patches.py after its Rasa version check."""
    DialogueStateTracker.applied_events = applied_events
    Domain.states_for_tracker_history = states_for_tracker_history


def uninstall() -> None:
    DialogueStateTracker.applied_events = _original_applied_events
    Domain.states_for_tracker_history = _original_states_for_tracker_history
