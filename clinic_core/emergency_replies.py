"""The emergency replies in the patient's language, chosen in one place.

The dialogue (actions/escalation.py) and the channels' own replies when the
dialogue cannot answer (channels/failure_replies.py) both say the emergency
advice. English comes from the domain (`utter_emergency_*`); another
language's text comes from the triage rules file. A translation that is
missing or broken (a typo in a placeholder) must never cost the patient the
advice: the caller then says the English one.
"""

from __future__ import annotations

import logging
from typing import Any

from clinic_core import triage
from clinic_core.clinic import fill

logger = logging.getLogger(__name__)
ENGLISH = "en"


def translated(reply: str, language: str | None, values: dict[str, Any]) -> str | None:
    """`reply` ("call_now", "clinic_alerted", "not_saved") in `language`, filled; None for English.

    None as well when the rules file has no usable translation, so that the
    caller falls back to the domain's English response.
    """
    if not language or language == ENGLISH:
        return None
    try:
        replies = triage.replies(language)
        return fill(replies[reply], values) if replies else None
    except (KeyError, ValueError, IndexError, AttributeError):
        logger.exception("The %s emergency reply %s is broken; English instead.", language, reply)
        return None
