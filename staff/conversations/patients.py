"""Finding one patient's conversations by phone number, and the bookings and
escalations each conversation led to (the project database, joined in Python).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import phonenumbers
import sqlalchemy as sa

from clinic_core import storage
from staff.conversations.names import PHONE_SENDER_PREFIXES
from staff.conversations.store import chunks


def normalise_phone(value: str, region: str | None = None) -> str:
    """A phone number in E.164 when it can be read as one, else its bare digits.

    `region` (e.g. the clinic's country, "GB") lets national numbers such as
    07700 900123 be read; without it only international ones can.  Fewer than
    six digits is refused: an erasure "by phone" must never match broadly.
    """
    raw = re.sub(r"^(whatsapp|sms|tel):", "", (value or "").strip(), flags=re.IGNORECASE)
    digits = re.sub(r"\D", "", raw)
    if len(digits) < 6:
        raise ValueError("Not a phone number: fewer than six digits.")
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_possible_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if raw.startswith("+"):
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    return digits


def phone_senders(number: str) -> list[str]:
    """Sender ids an SMS/WhatsApp patient with this (normalised) number writes from."""
    return [prefix + number for prefix in PHONE_SENDER_PREFIXES]


@dataclass(frozen=True)
class ProjectRecord:
    """A booking or escalation of the project DB, as the staff layer needs it."""

    kind: str  # booking | escalation
    id: int
    reference: str
    conversation_id: str
    created_at: datetime | None
    status: str | None
    severity: str | None = None


def _record(kind: str, row: Any) -> ProjectRecord:
    return ProjectRecord(
        kind=kind,
        id=row.id,
        reference=row.reference,
        conversation_id=row.conversation_id,
        created_at=row.created_at,
        status=row.status,
        severity=getattr(row, "severity", None),
    )


def project_records(
    session: Any,
    *,
    conversation_ids: Iterable[str] = (),
    phone: str | None = None,
    region: str | None = None,
) -> list[ProjectRecord]:
    """Bookings and escalations of these conversations or with this phone number.

    Stored numbers are compared after normalisation (escalations keep what
    the patient typed when it could not be read as E.164), with an SQL
    pre-filter on the last digits so the whole table is never read.
    """
    found: dict[tuple[str, int], ProjectRecord] = {}
    ids = sorted(set(conversation_ids))
    for kind, model in (("booking", storage.Booking), ("escalation", storage.Escalation)):
        for batch in chunks(ids):
            for row in session.execute(sa.select(model).where(model.conversation_id.in_(batch))):
                record = _record(kind, row[0])
                found[(kind, record.id)] = record
        if phone:
            number = normalise_phone(phone, region)
            tail = re.sub(r"\D", "", number)[-4:]
            query = sa.select(model).where(model.phone.like(f"%{tail}%"))
            for (row,) in session.execute(query):
                if _same_phone(row.phone, number, region):
                    found[(kind, row.id)] = _record(kind, row)
    return sorted(found.values(), key=lambda r: (r.kind, r.id))


def _same_phone(stored: str | None, number: str, region: str | None) -> bool:
    try:
        return bool(stored) and normalise_phone(stored, region) == number
    except ValueError:
        return False


def conversations_for_phone(
    phone: str, project_db_url: str | None = None, *, region: str | None = None
) -> set[str]:
    """Conversation ids linked to a phone number.

    Those of its bookings and escalations (when the project DB is given) and
    the SMS/WhatsApp sender ids equal to the number.
    """
    number = normalise_phone(phone, region)
    found = set(phone_senders(number))
    if project_db_url:
        with storage.transaction(project_db_url) as session:
            for record in project_records(session, phone=number, region=region):
                found.add(record.conversation_id)
    return found
