"""Staff annotations move from a JSON file into the database.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

The file (`$DATA_DIR/staff-annotations.json`, or STAFF_ANNOTATIONS_FILE) was
rewritten whole by whichever console worker saved last, losing the others'
annotations.  Its entries are copied here once; the file is then renamed to
`<name>.migrated` so that a second upgrade (another database) does not copy
them again and nobody mistakes it for the live store.
"""

import json
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import make_url

from clinic_core import settings

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "staff_annotations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sender_id", sa.String(255), nullable=False),
        sa.Column("message_index", sa.Integer, nullable=False),
        sa.Column("message_timestamp", sa.String(40)),
        sa.Column("label", sa.String(255), nullable=False),
        sa.Column("annotated_by", sa.String(64), nullable=False),
        sa.Column("annotated_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("sender_id", "message_index", name="uq_staff_annotations_message"),
    )
    config = settings.load()
    # Only the deployment's own database takes its file (a test or a second
    # database migrated from the same checkout must not).
    migrated = op.get_bind().engine.url.render_as_string(hide_password=False)
    if migrated != make_url(str(config.database_url)).render_as_string(hide_password=False):
        return
    path = config.staff_annotations_file or config.data_dir / "staff-annotations.json"
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return
    rows: dict[tuple[str, int], dict] = {}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("index"), int):
            continue
        try:
            at = datetime.fromisoformat(str(item.get("at")))
        except ValueError:
            at = datetime.utcnow()
        key = (str(item.get("sender_id"))[:255], item["index"])
        rows[key] = {  # a later entry for the same message replaced the earlier one
            "sender_id": key[0],
            "message_index": key[1],
            "message_timestamp": item.get("timestamp"),
            "label": str(item.get("label"))[:255],
            "annotated_by": str(item.get("by") or "?")[:64],
            "annotated_at": at,
        }
    if rows:
        op.bulk_insert(table, list(rows.values()))
    path.rename(path.with_name(path.name + ".migrated"))


def downgrade() -> None:
    op.drop_table("staff_annotations")
