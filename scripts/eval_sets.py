"""What the evaluation scripts share: reading the sets and a model that prints no texts."""

from __future__ import annotations

import json
import logging
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
