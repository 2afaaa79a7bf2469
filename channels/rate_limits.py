"""The channels' side of the rate limits (clinic_core/rate_limit.py).

Every channel asks `too_fast` before a message reaches Rasa.  A message over
a limit is never silently dropped: the REST channel answers 429 with
`Retry-After` (the widget tells the patient and sends the message again by
itself when the wait is over), and the messaging channels tell the patient
to wait through the platform.  One thing is said even over the limit: a
message the deterministic triage rules read as an emergency is answered at
once with the emergency-services advice, in the patient's language (the
clinic is not alerted again: a flood must not page it; the messages within
the limit were processed as usual).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import math
from dataclasses import dataclass
from typing import Any

from sanic.request import Request

from clinic_core import rate_limit, settings, triage
from clinic_core.clinic import fill, load_clinic

logger = logging.getLogger(__name__)

EMERGENCY_RESPONSE = "utter_emergency_call_now"


def wait_reply(seconds: float) -> str:
    return (
        "You're sending messages faster than I can answer. Please wait "
        f"{math.ceil(seconds)} seconds, then send your message again."
    )


def client_address(request: Request) -> str:
    """The patient's address: the peer, or what nginx on loopback says it saw.

    Only a proxy on this machine is believed (`X-Real-IP`, which nginx
    overwrites); anyone else could send the header to dodge the limit.
    """
    peer = request.ip or ""
    forwarded = request.headers.get("X-Real-IP", "").strip()
    try:
        from_loopback = ipaddress.ip_address(peer).is_loopback
    except ValueError:
        from_loopback = False
    return forwarded if from_loopback and forwarded else peer


@dataclass(frozen=True)
class TooFast:
    wait_s: float
    emergency_advice: str | None  # said even over the limit

    @property
    def retry_after(self) -> str:
        return str(math.ceil(self.wait_s))


def emergency_advice(request: Request, text: str) -> str | None:
    """The call-emergency-services advice if the rules read `text` as an emergency."""
    try:
        assessment = triage.assess(text)
        if not (assessment.is_report and assessment.severity == "emergency"):
            return None
        values = load_clinic(settings.clinic_config_path()).template_values()
        language = assessment.language
        translated = triage.replies(language) if language and language != "en" else None
        if translated and "call_now" in translated:
            return fill(translated["call_now"], values)
        return fill(english_advice(request), values)
    except Exception:  # noqa: BLE001 - the wait reply still goes out
        logger.exception("Could not prepare the emergency advice for a limited message.")
        return None


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


async def too_fast(request: Request, conversation: str, text: Any) -> TooFast | None:
    """None when the message may go on; else how long to wait and what to say now."""
    try:
        wait = await rate_limit.shared().wait_needed(conversation, client_address(request))
    except Exception:  # noqa: BLE001 - a broken limiter must not silence patients
        logger.exception("The rate limiter failed; message let through.")
        return None
    if wait is None:
        return None
    advice = emergency_advice(request, text) if isinstance(text, str) and text else None
    return TooFast(wait, advice)
