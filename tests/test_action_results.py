"""The action server's replies are checked as strictly as Rasa checks them, only faster."""

from __future__ import annotations

import jsonschema
import pytest
import rasa
from rasa.core.actions.action import RemoteAction

from channels.rest import ClinicRestInput
from serving import action_results

VALID = {
    "events": [{"event": "slot", "name": "booking_name", "value": "Ana Diaz"}],
    "responses": [{"text": "Thanks, Ana.", "buttons": []}],
}
INVALID = [
    {"events": [{"name": "booking_name"}]},  # an event without its type
    {"events": "not a list"},
    {"events": [42]},
]


def test_written_for_this_rasa() -> None:
    assert rasa.__version__ == action_results.WRITTEN_FOR_RASA


@pytest.mark.parametrize("reply", INVALID)
def test_the_same_replies_fail_with_the_same_message(reply: dict) -> None:
    with pytest.raises(jsonschema.ValidationError) as stock:
        jsonschema.validate(reply, RemoteAction.action_response_format_spec())
    with pytest.raises(jsonschema.ValidationError) as ours:
        action_results.validate_action_result(RemoteAction("x", None), reply)
    assert ours.value.message.startswith(stock.value.message)
    assert "Failed to validate Action server response" in ours.value.message


def test_a_valid_reply_passes_and_the_rest_channel_installs_the_check() -> None:
    original = RemoteAction._validate_action_result
    try:
        ClinicRestInput.from_credentials(None)
        action = RemoteAction("action_answer_faq", None)
        assert action._validate_action_result(VALID) is True
        with pytest.raises(jsonschema.ValidationError):
            action._validate_action_result(INVALID[0])
        assert RemoteAction._validate_action_result is action_results.validate_action_result
    finally:
        RemoteAction._validate_action_result = original
