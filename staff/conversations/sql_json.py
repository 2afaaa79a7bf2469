"""Reading a JSON field inside SQL, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


def json_text(dialect: str, column: Any, *path: str) -> Any:
    """SQL for one field of the event JSON, as text (NULL when absent)."""
    if dialect == "sqlite":
        return sa.func.json_extract(column, "$." + ".".join(path))
    if dialect == "postgresql":
        return sa.cast(column, postgresql.JSON)[path].astext
    if dialect in ("mysql", "mariadb"):
        return sa.func.json_unquote(sa.func.json_extract(column, "$." + ".".join(path)))
    raise NotImplementedError(f"Tracker stores on {dialect} are not supported.")


def json_number(dialect: str, column: Any, *path: str) -> Any:
    return sa.cast(json_text(dialect, column, *path), sa.Float)
