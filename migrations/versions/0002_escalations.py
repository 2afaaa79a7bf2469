"""Escalations: symptoms and call-back requests put in front of the clinic.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "escalations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("reference", sa.String(16), nullable=False, unique=True),
        sa.Column("conversation_id", sa.String(128), nullable=False, index=True),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("patient_name", sa.String(120)),
        sa.Column("phone", sa.String(20), index=True),
        sa.Column("treatment_date", sa.String(120)),
        sa.Column("preferred_time_text", sa.String(500)),
        sa.Column("symptoms", sa.Text, nullable=False),
        sa.Column("transcript", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("update_count", sa.Integer, nullable=False),
        sa.Column("staff_note", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("escalations")
