"""Every table the project owns, on one declarative `Base`.

Alembic (migrations/env.py) compares the migrations with `Base.metadata`, so a
table declared anywhere else would be invisible to autogenerate, which would
then propose dropping it (tests/test_migrations.py fails on any drift).  The
staff console's tables live here too for that reason; the code that works on
them stays in staff/.  Times are stored as naive UTC.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import declarative_base

Base = declarative_base()

# Bounds of the staff audit columns (staff/audit.py truncates to them).
AUDIT_LOGIN_LENGTH = 64
AUDIT_TARGET_LENGTH = 200
AUDIT_DETAIL_LENGTH = 500


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def as_naive_utc(moment: datetime | None) -> datetime:
    """The database's convention (naive UTC) for any moment; None means now."""
    if moment is None:
        return utcnow()
    if moment.tzinfo is not None:
        return moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


class Booking(Base):
    """A booking *request*: the clinic calls the patient to confirm a slot."""

    __tablename__ = "bookings"

    id = Column(Integer, primary_key=True)
    reference = Column(String(16), nullable=False, unique=True)
    # Same conversation + same details = the same request (double clicks,
    # retried webhooks, replayed messages).
    dedupe_key = Column(String(64), nullable=False, unique=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    channel = Column(String(32), nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)  # UTC
    patient_name = Column(String(120), nullable=False)
    phone = Column(String(20), nullable=False, index=True)  # E.164
    email = Column(String(254))
    new_patient = Column(Boolean, nullable=False)
    preferred_start = Column(String(40), nullable=False)  # ISO 8601 with offset
    preferred_end = Column(String(40), nullable=False)
    preferred_time_text = Column(String(500), nullable=False)
    treatment_area = Column(String(200), nullable=False)
    consent_to_contact = Column(Boolean, nullable=False)
    status = Column(String(16), nullable=False, default="new")
    staff_note = Column(Text)


class Escalation(Base):
    """Something the clinic must look at: a symptom report or a call-back request.

    One open escalation per conversation: later messages update it (and the
    clinic gets an `escalation_update`) instead of creating another.
    """

    __tablename__ = "escalations"

    id = Column(Integer, primary_key=True)
    reference = Column(String(16), nullable=False, unique=True)
    conversation_id = Column(String(128), nullable=False, index=True)
    channel = Column(String(32), nullable=False)
    severity = Column(String(16), nullable=False)  # emergency | urgent | routine
    reason = Column(String(500), nullable=False)  # which rule fired, on which words
    created_at = Column(DateTime, nullable=False, default=utcnow)  # UTC
    updated_at = Column(DateTime, nullable=False, default=utcnow)
    patient_name = Column(String(120))
    phone = Column(String(20), index=True)
    treatment_date = Column(String(120))
    preferred_time_text = Column(String(500))
    symptoms = Column(Text, nullable=False)  # the patient's own words
    transcript = Column(Text)  # the conversation so far, for call-back requests
    status = Column(String(16), nullable=False, default="open")
    update_count = Column(Integer, nullable=False, default=0)
    staff_note = Column(Text)


class OutboxMessage(Base):
    """One notification to deliver over one transport, until acknowledged."""

    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("idempotency_key", "transport"),)

    id = Column(Integer, primary_key=True)
    idempotency_key = Column(String(64), nullable=False)
    reference = Column(String(16), nullable=False, index=True)
    message_type = Column(String(32), nullable=False)
    transport = Column(String(16), nullable=False)  # webhook | email
    payload = Column(Text, nullable=False)  # the exact JSON body
    priority = Column(Integer, nullable=False, default=0)  # higher first
    status = Column(String(16), nullable=False, default="pending", index=True)
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime, nullable=False, default=utcnow)  # UTC
    last_error = Column(String(500))
    created_at = Column(DateTime, nullable=False, default=utcnow)
    delivered_at = Column(DateTime)


# --- the staff console -------------------------------------------------------


class StaffUser(Base):
    """A staff account (the ORM row; functions here hand out `User` instead)."""

    __tablename__ = "staff_users"
    __table_args__ = (CheckConstraint("role IN ('staff', 'admin')", name="ck_staff_users_role"),)

    id = Column(Integer, primary_key=True)
    login = Column(String(64), nullable=False, unique=True)
    password_hash = Column(String(255), nullable=False)
    role = Column(String(16), nullable=False)
    created_at = Column(DateTime, nullable=False, default=utcnow)  # UTC
    disabled = Column(Boolean, nullable=False, default=False)
    failed_logins = Column(Integer, nullable=False, default=0)
    locked_until = Column(DateTime)  # UTC
    # Two-factor sign-in (staff/two_factor.py): the TOTP secret (base32), set at
    # enrolment and confirmed by a first code; the last time step accepted (a
    # code works once).
    totp_secret = Column(String(64))
    totp_confirmed = Column(Boolean, nullable=False, default=False)
    totp_last_step = Column(Integer)
    # Sessions carry this number; raising it (password changed, two-factor
    # enabled or reset) ends every session the account had.
    session_epoch = Column(Integer, nullable=False, default=0)


class StaffRecoveryCode(Base):
    """A one-time recovery code of an account's two-factor sign-in (its hash only)."""

    __tablename__ = "staff_recovery_codes"

    id = Column(Integer, primary_key=True)
    user_id = Column(
        Integer, ForeignKey("staff_users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    code_hash = Column(String(64), nullable=False)
    used_at = Column(DateTime)  # UTC


class StaffAuditRow(Base):
    """One audited action (see the module docstring for what may go in it)."""

    __tablename__ = "staff_audit"

    id = Column(Integer, primary_key=True)
    at = Column(DateTime, nullable=False, index=True, default=utcnow)  # UTC
    login = Column(String(AUDIT_LOGIN_LENGTH), nullable=False, index=True)
    action = Column(String(32), nullable=False)
    target = Column(String(AUDIT_TARGET_LENGTH))
    detail = Column(String(AUDIT_DETAIL_LENGTH))


class StaffAnnotation(Base):
    """A staff member's label for one patient message (staff/annotations.py)."""

    __tablename__ = "staff_annotations"
    __table_args__ = (
        UniqueConstraint("sender_id", "message_index", name="uq_staff_annotations_message"),
    )

    id = Column(Integer, primary_key=True)
    sender_id = Column(String(255), nullable=False)
    message_index = Column(Integer, nullable=False)
    message_timestamp = Column(String(40))  # the message's, ISO 8601
    label = Column(String(255), nullable=False)
    annotated_by = Column(String(64), nullable=False)
    annotated_at = Column(DateTime, nullable=False)  # UTC
