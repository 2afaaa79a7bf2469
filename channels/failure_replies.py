"""What a channel says itself when the dialogue cannot answer a message.

The dialogue gives it normally (advice first, then the clinic alerted).  A
channel says it on its own in the two cases where a message does not reach
a working dialogue: over the rate limit (channels/rate_limits.py) and when
processing fails (the database down, a crash).  The triage rules decide
(clinic_core/triage.py, deterministic, no model), and the advice is the
domain's `utter_emergency_call_now` (or its translation in the rules file)
with the clinic's emergency number.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from sanic.request import Request

from clinic_core import emergency_replies, settings, triage
from clinic_core.clinic import fill, load_clinic

logger = logging.getLogger(__name__)

EMERGENCY_RESPONSE = "utter_emergency_call_now"
FAILURE_REPLY = (
    "Sorry, something went wrong on our side. Please try again in a moment, "
    "or call the clinic if it is urgent."
)


def emergency_advice(request: Request, text: str) -> str | None:
    """The call-emergency-services advice if the rules read `text` as an emergency."""
    try:
        clinic = load_clinic()
        # The languages the dialogue's red-flag reading uses too (components/red_flags.py).
        assessment = triage.assess(text, languages=clinic.emergency_languages)
        if not (assessment.is_report and assessment.severity == "emergency"):
            return None
        values = clinic.template_values()
        translated = emergency_replies.translated("call_now", assessment.language, values)
        return translated or fill(english_advice(request), values)
    except Exception:  # noqa: BLE001 - the channel's own reply still goes out
        logger.exception("Could not prepare the emergency advice.")
        return None


def advice_not_yet_given(request: Request, text: Any, given: list[str]) -> list[str]:
    """The advice for `text` as a list of one reply, unless it is among `given`."""
    advice = emergency_advice(request, text) if isinstance(text, str) and text else None
    return [advice] if advice and advice not in given else []


def english_advice(request: Request) -> str:
    """The domain's advice: the served model's, else the project's domain file."""
    agent = getattr(request.app.ctx, "agent", None)
    domain = getattr(agent, "domain", None)
    responses = domain.responses if domain is not None else _domain_file_responses()
    return responses[EMERGENCY_RESPONSE][0]["text"]


@functools.lru_cache(maxsize=1)
def _domain_file_responses() -> dict[str, Any]:
    import yaml

    domain = yaml.safe_load((settings.PROJECT_ROOT / "domain.yml").read_text(encoding="utf-8"))
    return domain["responses"]
