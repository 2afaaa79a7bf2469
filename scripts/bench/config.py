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
TRAINING_MAX_S = 180.0
RASA_RSS_MAX_MB = 1200.0
# A full FAQ turn costs at most this many times NLU inference alone (/model/parse),
# at the same concurrency: the per-turn overhead left beyond the models.
FAQ_TURN_VS_PARSE_MAX = 1.5
P95_VS_STARTER_MAX = 0.6
STARTUP_VS_STARTER_MAX = 0.6
PRODUCTION_VS_DEFAULT_MIN = 1.8
SOAK_RSS_GROWTH_MAX = 0.05
# Of a soak run, the turns before the first memory reading.
SOAK_WARMUP_SHARE = 0.1
FLOOR_LEVEL = 8


@dataclass
class Settings:
    targets: list[str]
    out: Path
    warmup_s: float
    level_s: float
    levels: tuple[int, ...]
    long_turns: int
    training: bool
    soak_turns: int = 0  # 0: no soak run
    soak_targets: tuple[str, ...] = ("default",)
