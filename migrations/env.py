"""Alembic environment: migrates the database named by DATABASE_URL (or DATA_DIR)."""

from __future__ import annotations

from alembic import context

# Every table the project owns is declared in clinic_core/tables.py, on the one
# Base that storage re-exports (tests/test_migrations.py fails on any drift).
from clinic_core import settings, storage

config = context.config
url = config.get_main_option("sqlalchemy.url") or settings.database_url()


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=storage.Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    with storage.engine(url).connect() as connection:
        context.configure(
            connection=connection, target_metadata=storage.Base.metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
