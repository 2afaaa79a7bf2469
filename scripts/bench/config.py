"""Where things are, the timeouts, the quiet environment every started process
gets, and the targets the report checks our assistant against.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from clinic_core.settings import PROJECT_ROOT

ROOT = PROJECT_ROOT
BIN = Path(sys.executable).parent
MODEL = ROOT / "models" / "current.tar.gz"
TEST_CLINIC = ROOT / "tests" / "fixtures" / "test-clinic.yml"
ALL_TARGETS = ("starter", "default", "production")
OURS = ("default", "production")
WEBHOOK = "/webhooks/rest/webhook"
STARTUP_TIMEOUT_S = 300.0
STOP_GRACE_S = 30.0
TURN_TIMEOUT_S = 60.0
TRAIN_TIMEOUT_S = 1800.0

# Environment for every process started here: quiet, and no telemetry.
QUIET_ENV = {
    "RASA_TELEMETRY_ENABLED": "false",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
}

# The targets the report checks our assistant against.
P95_AT_8_MAX_MS = 150.0
THROUGHPUT_VS_STARTER_MIN = 1.5
LENGTH_GROWTH_MAX = 1.3
STARTUP_MAX_S = 20.0
TRAINING_MAX_S = 180.0
RASA_RSS_MAX_MB = 1200.0


@dataclass
class Settings:
    targets: list[str]
    out: Path
    warmup_s: float
    level_s: float
    levels: tuple[int, ...]
    long_turns: int
    training: bool
