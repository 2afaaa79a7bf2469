"""Check the action server's replies with a validator built once.

Rasa 3.6 checks every reply of the action server with `jsonschema.validate`,
which first validates Rasa's own response schema against JSON Schema's
meta-schema, on every custom action a conversation runs.  `make bench`
profiled a third of the Rasa process's CPU time there (every FAQ answer,
booking step and triage reply is a custom action here).  `install()` gives
RemoteAction the same check with a validator built once for that schema: the
same replies pass, the same replies fail, with the same message.  Rasa offers
no hook for this, so the method is replaced by serving/patches.py, which
the Rasa server's launcher calls before Rasa starts and which refuses any Rasa
release but the one this was written for; tests pin the behaviour.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jsonschema import exceptions, validators
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


@lru_cache(maxsize=1)
def _response_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(schema)
    validator_class.check_schema(schema)  # once, not on every reply
    return validator_class(schema)


def validate_action_result(_action: RemoteAction, result: dict[str, Any]) -> bool:
    """What `RemoteAction._validate_action_result` does, minus the repeated schema check."""
    error = exceptions.best_match(_response_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, "
        "make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit {DOCS_BASE_URL}/custom-actions"
    )
    raise error


_original_validate_action_result = RemoteAction._validate_action_result


def install() -> None:
    """Replace RemoteAction's check (called by serving/patches.py, after its version check)."""
    RemoteAction._validate_action_result = validate_action_result


def uninstall() -> None:
    RemoteAction._validate_action_result = _original_validate_action_result
