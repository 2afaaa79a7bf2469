"""What the evaluation scripts share: reading the sets and a model that prints no texts."""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from typing import Any

from clinic_core.settings import PROJECT_ROOT

EVAL_DIR = PROJECT_ROOT / "tests" / "eval"


def read_jsonl(pattern: str) -> list[dict[str, Any]]:
    """Every row of the tests/eval files matching `pattern`, in file order."""
    rows = []
    for path in sorted(EVAL_DIR.glob(pattern)):
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return rows


def quiet_logs() -> None:
    """Silence Rasa's per-message debug log: it prints every parsed text (blind sets!)."""
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)


def quiet_agent(model: str) -> Any:
    """The trained model, loaded with its debug log silenced."""
    from rasa.core.agent import Agent

    quiet_logs()
    return Agent.load(model)


def evaluation_arguments(
    description: str,
    argv: list[str] | None,
    add: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """The options every evaluation script takes: --set, --model, --misses.

    --misses prints the errors, and is refused on the blind set: a blind
    message that is looked at is spent (see the developers' guide).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--set", default="blind", choices=("blind", "dev"))
    parser.add_argument("--model", default=str(PROJECT_ROOT / "models" / "current.tar.gz"))
    parser.add_argument("--misses", action="store_true", help="print the errors (dev set only)")
    if add is not None:
        add(parser)
    args = parser.parse_args(argv)
    if args.misses and args.set == "blind":
        parser.error("the blind set is never used for error analysis: use --set dev")
    return args
