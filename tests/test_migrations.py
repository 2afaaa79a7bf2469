"""The migrations and the models describe the same schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from clinic_core import storage

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
