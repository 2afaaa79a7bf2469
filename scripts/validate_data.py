"""`rasa data validate --fail-on-warnings`, failing on *every* warning.

Rasa's own flag only fails on the validator's checks; warnings raised while
loading the data (unknown intents in stories, bad responses...) pass.  This
wrapper records every warning Rasa raises and fails on any of them except
two known false positives of Rasa 3.6:
- a retrieval intent listed in the domain (as stories need it to be) is
  reported as "duplicated" when Rasa merges the intents it derives from the
  NLU data into that same domain;
- a response sent by a custom action, or a form's `utter_ask_<slot>`
  question, is reported as "not used in any story or rule".  It is accepted
  only if the action code really names it, or the slot really exists, so a
  dead response still fails.
"""

from __future__ import annotations

import re
import sys
import warnings

from rasa.__main__ import main as rasa_main

from clinic_core.settings import PROJECT_ROOT

KNOWN_FALSE_POSITIVES = (
    "The following duplicated intents have been found across multiple domain files: faq\n",
)
# Intents a pipeline component sets and the classifier never predicts, so they
# have no training examples by design (components/language_guard.py).
SET_BY_COMPONENTS = ("other_language",)
NO_TRAINING_DATA = re.compile(
    r"^The intent '(\w+)' is listed in the domain file, but is not found in the NLU training data"
)


UNUSED_RESPONSE = re.compile(r"^The utterance '(utter_[\w/]+)' is not used in any story or rule\.")
ROOT = PROJECT_ROOT
# Where code names responses: the actions and the core's dialogue tables.
CODE_DIRS = (ROOT / "actions", ROOT / "clinic_core")
DOMAIN = ROOT / "domain.yml"


def sent_by_an_action(response: str) -> bool:
    code = "\n".join(
        path.read_text(encoding="utf-8") for folder in CODE_DIRS for path in folder.glob("*.py")
    )
    return f'"{response}"' in code


def asks_for_a_slot(response: str) -> bool:
    """A form's question (`utter_ask_<slot>`, `utter_ask_<form>_<slot>`) or the
    form base's answer to "why do you need this?" (`utter_why_<slot>`)."""
    import yaml

    domain = yaml.safe_load(DOMAIN.read_text(encoding="utf-8"))
    slots = domain.get("slots") or {}
    forms = domain.get("forms") or {}
    for prefix in ("utter_ask_", "utter_why_"):
        if response.startswith(prefix) and response.removeprefix(prefix) in slots:
            return True
    asked = response.removeprefix("utter_ask_")
    return response.startswith("utter_ask_") and any(
        asked.startswith(f"{form}_") and asked.removeprefix(f"{form}_") in slots for form in forms
    )


def offered_as_a_follow_up(response: str) -> bool:
    """Sent by action_accept_offer: named in another response's `follow_up` metadata."""
    import yaml

    responses = yaml.safe_load(DOMAIN.read_text(encoding="utf-8")).get("responses") or {}
    return any(
        f"utter_{(variation.get('metadata') or {}).get('follow_up')}" == response
        for variations in responses.values()
        for variation in variations
    )


def is_known_false_positive(message: str) -> bool:
    text = message.split("  More info at")[0]
    if text.rstrip("\n") + "\n" in KNOWN_FALSE_POSITIVES:
        return True
    untrained = NO_TRAINING_DATA.match(text)
    if untrained and untrained.group(1) in SET_BY_COMPONENTS:
        return True
    unused = UNUSED_RESPONSE.match(text)
    return bool(
        unused
        and (
            sent_by_an_action(unused.group(1))
            or asks_for_a_slot(unused.group(1))
            or offered_as_a_follow_up(unused.group(1))
        )
    )


def main() -> int:
    sys.argv = ["rasa", "data", "validate", "--fail-on-warnings", *sys.argv[1:]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            rasa_main()
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
    problems = [
        str(warning.message)
        for warning in caught
        if issubclass(warning.category, UserWarning)
        and not is_known_false_positive(str(warning.message))
    ]
    for problem in problems:
        print(f"WARNING: {problem}", file=sys.stderr)
    if code or problems:
        print(f"Data validation failed ({len(problems)} warning(s)).", file=sys.stderr)
        return 1
    print("Data validation passed with no warnings.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
