"""Staff console: two-factor sign-in and sessions that end when credentials change.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users") as table:
        table.add_column(sa.Column("totp_secret", sa.String(64)))
        table.add_column(
            sa.Column("totp_confirmed", sa.Boolean, nullable=False, server_default=sa.false())
        )
        table.add_column(sa.Column("totp_last_step", sa.Integer))
        table.add_column(sa.Column("session_epoch", sa.Integer, nullable=False, server_default="0"))
    op.create_table(
        "staff_recovery_codes",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("staff_users.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("used_at", sa.DateTime),
    )


def downgrade() -> None:
    op.drop_table("staff_recovery_codes")
    with op.batch_alter_table("staff_users") as table:
        table.drop_column("session_epoch")
        table.drop_column("totp_last_step")
        table.drop_column("totp_confirmed")
        table.drop_column("totp_secret")
