"""Settings read from the environment, in one place.

Everything a deployment may change lives either in the clinic file
(`CLINIC_CONFIG`) or in an environment variable read here, so that no module
carries its own copy of a default.  Values are read on each call so that
tests (and a restarted worker) see the current environment.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CLINIC_CONFIG = PROJECT_ROOT / "clinic" / "example-clinic.yml"


def clinic_config_path() -> Path:
    """Path of the clinic file (`CLINIC_CONFIG`, default the example clinic)."""
    return Path(os.environ.get("CLINIC_CONFIG") or DEFAULT_CLINIC_CONFIG)


def data_dir() -> Path:
    """Where the SQLite files live (`DATA_DIR`, default `./var`)."""
    return Path(os.environ.get("DATA_DIR") or PROJECT_ROOT / "var")


def database_url() -> str:
    """Bookings, escalations and the outbox: `DATABASE_URL`, else SQLite in DATA_DIR."""
    return os.environ.get("DATABASE_URL") or f"sqlite:///{data_dir() / 'clinic.db'}"


def form_reminder_after() -> float:
    """Seconds of silence after which a form reminds the patient where they were
    (`FORM_REMINDER_AFTER`, default 10 minutes)."""
    return float(os.environ.get("FORM_REMINDER_AFTER") or 600)
