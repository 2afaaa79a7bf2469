"""Deliver the outbox to the clinic: webhook and e-mail, retried until acknowledged.

Run as its own process (`python -m clinic_core.notifications run`, started by
`make run`).  Each pending row is tried; a temporary failure (network error,
timeout, 408, 429, 5xx, SMTP 4xx) is retried with exponential backoff for as
long as it takes; a permanent rejection (any other 4xx, SMTP 5xx) is kept and
marked `failed` for staff, never dropped.  Rows are claimed with
`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several workers can share one
outbox without delivering a row twice.

`python -m clinic_core.notifications show` prints the outbox.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import random
import signal
import smtplib
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import func
from sqlalchemy.exc import InterfaceError, OperationalError

from clinic_core import settings, storage
from clinic_core.storage import OutboxMessage, utcnow

TIMEOUT_S = 10.0


class TemporaryFailure(Exception):
    """Worth trying again later."""


class PermanentFailure(Exception):
    """The clinic's side refused this message; retrying would not help."""


def enabled_transports() -> list[str]:
    """Transports configured in the environment; none are on by default."""
    config = settings.load()
    transports = []
    if config.clinic_webhook_url:
        transports.append("webhook")
    if config.smtp_host and config.clinic_email_to:
        transports.append("email")
    return transports


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_webhook(row: OutboxMessage) -> None:
    """POST the stored JSON body, exactly as stored, with idempotency and signature."""
    config = settings.load()
    if not config.clinic_webhook_url:
        raise TemporaryFailure("CLINIC_WEBHOOK_URL is not set")
    body = row.payload.encode("utf-8")
    request = urllib.request.Request(config.clinic_webhook_url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("Idempotency-Key", row.idempotency_key)
    if config.clinic_webhook_secret:
        secret = config.clinic_webhook_secret.get_secret_value()
        request.add_header("X-Signature", signature(secret, body))
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S):
            return
    except urllib.error.HTTPError as error:
        if error.code in (408, 429) or error.code >= 500:
            raise TemporaryFailure(f"HTTP {error.code}") from error
        raise PermanentFailure(f"HTTP {error.code}") from error
    except (urllib.error.URLError, OSError) as error:
        raise TemporaryFailure(f"{type(error).__name__}: {error}") from error


EMAIL_SUBJECTS = {
    "booking": "New booking request {reference}",
    "escalation": "{severity} escalation {reference}",
    "escalation_update": "Update to escalation {reference}",
}


def email_text(payload: dict) -> str:
    """A plain, readable rendering of the notification for a clinic inbox."""
    lines: list[str] = []

    def walk(value: object, label: str, depth: int) -> None:
        indent = "  " * depth
        if isinstance(value, dict):
            if label:
                lines.append(f"{indent}{label}:")
            for key, item in value.items():
                walk(item, key.replace("_", " ").capitalize(), depth + (1 if label else 0))
        else:
            shown = (
                "-"
                if value is None
                else ("yes" if value is True else "no" if value is False else value)
            )
            lines.append(f"{indent}{label}: {shown}")

    walk(payload, "", 0)
    return "\n".join(lines) + "\n"


def send_email(row: OutboxMessage) -> None:
    config = settings.load()
    if not (config.smtp_host and config.clinic_email_to):
        raise TemporaryFailure("SMTP_HOST or CLINIC_EMAIL_TO is not set")
    payload = json.loads(row.payload)
    message = EmailMessage()
    subject = EMAIL_SUBJECTS.get(row.message_type, "Patient assistant: {reference}")
    message["Subject"] = subject.format(
        reference=row.reference, severity=str(payload.get("severity", "")).capitalize()
    )
    message["From"] = config.smtp_from
    message["To"] = config.clinic_email_to
    message["X-Idempotency-Key"] = row.idempotency_key
    message.set_content(email_text(payload))
    try:
        with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=TIMEOUT_S) as smtp:
            if config.smtp_starttls:
                smtp.starttls()
            if config.smtp_user:
                smtp.login(config.smtp_user, config.smtp_password.get_secret_value())
            smtp.send_message(message)
    except smtplib.SMTPResponseException as error:
        if 400 <= error.smtp_code < 500:
            raise TemporaryFailure(f"SMTP {error.smtp_code}") from error
        raise PermanentFailure(f"SMTP {error.smtp_code}") from error
    except (smtplib.SMTPException, OSError) as error:
        raise TemporaryFailure(f"{type(error).__name__}: {error}") from error


TRANSPORTS: dict[str, Callable[[OutboxMessage], None]] = {
    "webhook": send_webhook,
    "email": send_email,
}


def backoff(attempts: int) -> timedelta:
    """Exponential, capped, with jitter so retries from many rows spread out."""
    config = settings.load()
    delay = min(config.outbox_backoff_max, config.outbox_backoff_base * (2 ** max(attempts - 1, 0)))
    return timedelta(seconds=delay * random.uniform(0.8, 1.0))


def deliver_due(limit: int = 20, url: str | None = None) -> int:
    """Try every due row once (most urgent first); return how many were tried."""
    tried = 0
    while tried < limit:
        with storage.transaction(url) as session:
            row = (
                session.query(OutboxMessage)
                .filter(
                    OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= utcnow()
                )
                .order_by(OutboxMessage.priority.desc(), OutboxMessage.id)
                .with_for_update(skip_locked=True)
                .first()
            )
            if row is None:
                return tried
            tried += 1
            row.attempts += 1
            try:
                TRANSPORTS[row.transport](row)
            except TemporaryFailure as error:
                row.last_error = str(error)[:500]
                row.next_attempt_at = utcnow() + backoff(row.attempts)
            except PermanentFailure as error:
                row.status, row.last_error = "failed", str(error)[:500]
            else:
                row.status, row.delivered_at, row.last_error = "delivered", utcnow(), None
    return tried


OUTAGE_WAIT_MAX_S = 30.0
# After this long, the log says STILL: someone should look (a password changed?).
OUTAGE_LOUD_AFTER_S = 300.0


def run_worker(url: str | None = None) -> None:
    """Deliver forever; SIGTERM/SIGINT finish the current row and stop."""
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    poll_interval = settings.load().outbox_poll_interval
    outage = _Outage(poll_interval)
    while not stopping:
        try:
            storage.migrate(url)
            break
        except (OperationalError, InterfaceError) as error:
            outage.wait(error, lambda: stopping)
    print(
        f"Outbox worker running; transports: {', '.join(enabled_transports()) or 'none'}",
        flush=True,
    )
    while not stopping:
        try:
            tried = deliver_due(url=url)
        except (OperationalError, InterfaceError) as error:
            # PostgreSQL restarting or unreachable: wait and try again.  Dying
            # instead would make the supervisor give up after a few restarts;
            # nothing is lost, the rows wait in the database.  Any other error
            # (a bug, a schema problem) still ends the worker, loudly.
            outage.wait(error, lambda: stopping)
            continue
        outage.over()
        if tried == 0:
            time.sleep(poll_interval)


class _Outage:
    """Waits, doubling up to OUTAGE_WAIT_MAX_S, and says why; louder when it lasts."""

    def __init__(self, first_wait: float) -> None:
        self.first_wait = first_wait
        self.wait_s = first_wait
        self.since: float | None = None

    def wait(self, error: Exception, stopped: Callable[[], bool]) -> None:
        now = time.monotonic()
        self.since = self.since or now
        cause = str(getattr(error, "orig", error)).strip().splitlines()[:1]
        lasting = now - self.since
        prefix = "STILL " if lasting > OUTAGE_LOUD_AFTER_S else ""
        print(
            f"Outbox worker: {prefix}database unreachable for {lasting:.0f} s "
            f"({type(error).__name__}: {cause[0] if cause else '?'}); "
            f"retrying in {self.wait_s:.1f} s",
            flush=True,
        )
        _sleep_unless(stopped, self.wait_s)
        self.wait_s = min(OUTAGE_WAIT_MAX_S, self.wait_s * 2)

    def over(self) -> None:
        if self.since is not None:
            print("Outbox worker: database reachable again.", flush=True)
        self.since, self.wait_s = None, self.first_wait


def _sleep_unless(stopped: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not stopped() and time.monotonic() < deadline:
        time.sleep(min(0.2, seconds))


@dataclass
class OutboxSummary:
    counts: dict[str, int]
    rows: list[OutboxMessage]


def summary(url: str | None = None, limit: int = 50) -> OutboxSummary:
    with storage.transaction(url) as session:
        counts = dict(
            session.query(OutboxMessage.status, func.count()).group_by(OutboxMessage.status).all()
        )
        rows = session.query(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit).all()
        return OutboxSummary(counts, rows)


def show(url: str | None = None) -> None:
    result = summary(url)
    print(
        "outbox: "
        + ", ".join(
            f"{status} {result.counts.get(status, 0)}"
            for status in ("pending", "delivered", "failed")
        )
    )
    for row in result.rows:
        print(
            f"{row.id:6d}  {row.status:9s}  {row.transport:7s}  {row.message_type:17s} "
            f"{row.reference:10s}  attempts {row.attempts:3d}  {row.last_error or ''}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["run", "show"])
    args = parser.parse_args(argv)
    if args.command == "run":
        run_worker()
    else:
        storage.migrate()
        show()
    return 0


if __name__ == "__main__":
    sys.exit(main())
