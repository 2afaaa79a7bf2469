"""The migrations and the models describe the same schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from clinic_core import settings, storage

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent


def _alembic_metadata():
    """The metadata migrations/env.py hands to Alembic, imported as Alembic would."""
    code = (
        "import runpy, sys; from unittest import mock; "
        "sys.modules['alembic.context'] = mock.MagicMock(is_offline_mode=lambda: True); "
        "from clinic_core import storage; "
        "runpy.run_path('migrations/env.py', run_name='env'); "
        "print(sorted(storage.Base.metadata.tables))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def test_alembic_sees_every_table_of_the_project() -> None:
    """Run in a fresh interpreter: only what env.py imports is registered there."""
    tables = _alembic_metadata()
    for name in ("bookings", "outbox", "escalations", "staff_users", "staff_audit"):
        assert f"'{name}'" in tables, tables


def test_the_migrated_database_matches_the_models(database_url: str) -> None:
    """No drift: autogenerate would propose nothing (no table, column, index or constraint)."""
    with storage.engine(database_url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, storage.Base.metadata)
    assert diff == [], diff


def test_the_old_annotations_file_moves_into_the_deployments_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migration 0004: the JSON file's entries (the last one per message) become rows,
    once, in the deployment's own database only."""
    from staff import annotations

    data_dir = tmp_path / "var"
    data_dir.mkdir()
    old_file = data_dir / "staff-annotations.json"
    entry = {"timestamp": "2026-11-30T09:00:00", "at": "2026-11-30T10:00:00"}
    old_file.write_text(
        json.dumps(
            [
                {**entry, "sender_id": "c1", "index": 2, "label": "faq/cost", "by": "alice"},
                {**entry, "sender_id": "c1", "index": 2, "label": "faq/side_effects", "by": "bob"},
                {**entry, "sender_id": "c2", "index": 0, "label": "book_appointment", "by": "al"},
                "not an annotation",
            ]
        )
    )
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    another = f"sqlite:///{tmp_path / 'another.db'}"
    storage.migrate(another)
    assert annotations.all_annotations(another) == [] and old_file.exists()

    own = settings.database_url()
    storage.migrate(own)
    moved = [(a.sender_id, a.index, a.label, a.by) for a in annotations.all_annotations(own)]
    assert moved == [("c1", 2, "faq/side_effects", "bob"), ("c2", 0, "book_appointment", "al")]
    storage.migrate(own)  # again: nothing twice
    assert len(annotations.all_annotations(own)) == 2
    for url in (another, own):
        storage._engines.pop(url).dispose()
