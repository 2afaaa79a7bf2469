"""Booking requests and the notification outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bookings",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("reference", sa.String(16), nullable=False, unique=True),
        sa.Column("dedupe_key", sa.String(64), nullable=False, unique=True),
        sa.Column("conversation_id", sa.String(128), nullable=False, index=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("patient_name", sa.String(120), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False, index=True),
        sa.Column("email", sa.String(254)),
        sa.Column("new_patient", sa.Boolean, nullable=False),
        sa.Column("preferred_start", sa.String(40), nullable=False),
        sa.Column("preferred_end", sa.String(40), nullable=False),
        sa.Column("preferred_time_text", sa.String(500), nullable=False),
        sa.Column("treatment_area", sa.String(200), nullable=False),
        sa.Column("consent_to_contact", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("staff_note", sa.Text),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("reference", sa.String(16), nullable=False, index=True),
        sa.Column("message_type", sa.String(32), nullable=False),
        sa.Column("transport", sa.String(16), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("last_error", sa.String(500)),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("delivered_at", sa.DateTime),
        sa.UniqueConstraint("idempotency_key", "transport"),
    )


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("bookings")
