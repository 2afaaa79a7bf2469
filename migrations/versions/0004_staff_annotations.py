"""Staff annotations move from a JSON file into the database.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

The file (`$DATA_DIR/staff-annotations.json`, or STAFF_ANNOTATIONS_FILE) was
rewritten whole by whichever console worker saved last, losing the others'
annotations.  Its entries are copied here once (Alembic runs this revision
once per database), and only into the deployment's own database.  The file
is left as it was: renaming it here would happen before the migration's
transaction commits, so a failed upgrade would lose the annotations.  The
log says it was imported and may be deleted.
"""

import json
import sys
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
        print(
            "Staff annotations file not imported: this is not the deployment's DATABASE_URL.",
            file=sys.stderr,
        )
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
    print(
        f"Imported {len(rows)} staff annotations from {path}; that file is no longer read "
        "and may be deleted.",
        file=sys.stderr,
    )


def downgrade() -> None:
    op.drop_table("staff_annotations")
