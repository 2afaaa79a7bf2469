"""`rasa data validate --fail-on-warnings`, failing on *every* warning.

Rasa's own flag only fails on the validator's checks; warnings raised while
loading the data (unknown intents in stories, bad responses...) pass.  This
wrapper records every warning Rasa raises and fails on any of them except
one known false positive of Rasa 3.6: a retrieval intent listed in the domain
(as stories need it to be) is reported as "duplicated" when Rasa merges the
intents it derives from the NLU data into that same domain.
"""

from __future__ import annotations

import sys
import warnings

from rasa.__main__ import main as rasa_main

KNOWN_FALSE_POSITIVES = (
    "The following duplicated intents have been found across multiple domain files: faq\n",
)


def is_known_false_positive(message: str) -> bool:
    text = message.split("  More info at")[0]
    return text in KNOWN_FALSE_POSITIVES or text.rstrip("\n") + "\n" in KNOWN_FALSE_POSITIVES


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
