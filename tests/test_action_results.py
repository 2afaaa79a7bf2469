"""The action server's replies are checked as strictly as Rasa checks them, only faster."""

from __future__ import annotations

import sys

import jsonschema
import pytest
import rasa
from rasa.core.actions.action import RemoteAction

from serving import action_results, patches, rasa_server

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
    assert rasa.__version__ == patches.WRITTEN_FOR_RASA
    patches.check_rasa_version()  # the installed Rasa is accepted


def test_the_patches_refuse_another_rasa_release(monkeypatch: pytest.MonkeyPatch) -> None:
    original = RemoteAction._validate_action_result
    monkeypatch.setattr(rasa, "__version__", "3.7.0")
    with pytest.raises(patches.UnknownRasaVersion, match="3.7.0"):
        patches.install()
    assert RemoteAction._validate_action_result is original  # nothing was installed
    with pytest.raises(SystemExit, match="written for Rasa 3.6.21"):
        rasa_server.main(["run"])  # the server refuses to start


@pytest.mark.parametrize("reply", INVALID)
def test_the_same_replies_fail_with_the_same_message(reply: dict) -> None:
    with pytest.raises(jsonschema.ValidationError) as stock:
        jsonschema.validate(reply, RemoteAction.action_response_format_spec())
    with pytest.raises(jsonschema.ValidationError) as ours:
        action_results.validate_action_result(RemoteAction("x", None), reply)
    assert ours.value.message.startswith(stock.value.message)
    assert "Failed to validate Action server response" in ours.value.message


def test_a_valid_reply_passes_once_the_patches_are_installed() -> None:
    original = RemoteAction._validate_action_result
    try:
        patches.install()
        action = RemoteAction("action_answer_faq", None)
        assert action._validate_action_result(VALID) is True
        with pytest.raises(jsonschema.ValidationError):
            action._validate_action_result(INVALID[0])
        assert RemoteAction._validate_action_result is action_results.validate_action_result
    finally:
        RemoteAction._validate_action_result = original


def test_every_rasa_server_is_started_by_the_launcher_that_installs_the_patches() -> None:
    from tests.support import load_script

    run = load_script("run")
    env = {**run.environment(), "MODEL_PATH": "m", "ENDPOINTS_FILE": "e", "CREDENTIALS_FILE": "c"}
    command = run.rasa_command(env, 5005)
    assert command[1:4] == ["-m", "serving.rasa_server", "run"]
    assert "--auth-token" not in command  # the token goes in the environment: never in `ps`


def test_the_launcher_installs_the_patches_before_rasa_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It hands Rasa's own command line the arguments, with the check already replaced."""
    import rasa.__main__

    seen: dict[str, object] = {}

    def fake_rasa_main() -> None:
        seen["argv"] = list(sys.argv)
        seen["check"] = RemoteAction._validate_action_result

    original = RemoteAction._validate_action_result
    monkeypatch.setattr(rasa.__main__, "main", fake_rasa_main)
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    try:
        rasa_server.main(["run", "--port", "5005"])
    finally:
        RemoteAction._validate_action_result = original
    assert seen == {
        "argv": ["rasa", "run", "--port", "5005"],
        "check": action_results.validate_action_result,
    }


def test_the_launcher_takes_the_api_token_from_the_environment_not_the_command_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    import rasa.__main__

    seen: dict[str, object] = {}

    def fake_rasa_main() -> None:
        seen["argv"] = list(sys.argv)
        seen["token left in the environment"] = os.environ.get("RASA_AUTH_TOKEN")

    original = RemoteAction._validate_action_result
    monkeypatch.setattr(rasa.__main__, "main", fake_rasa_main)
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    monkeypatch.setenv("RASA_AUTH_TOKEN", "s3cret-token")
    try:
        rasa_server.main(["run", "--enable-api"])
    finally:
        RemoteAction._validate_action_result = original
    assert seen == {
        "argv": ["rasa", "run", "--enable-api", "--auth-token", "s3cret-token"],
        "token left in the environment": None,
    }
