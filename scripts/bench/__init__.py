"""Benchmark the assistant against Rasa's own starter bot (`make bench`).

Three targets are measured in one run, with the same venv and the same client:

- `starter`: the bot `rasa init` creates, served by a bare `rasa run`; the
  floor of what any Rasa 3.6 assistant costs on this machine;
- `default`: our assistant started by scripts/run.py, as `make run` does;
- `production`: the same with `PROFILE=production` (nginx in front of several
  Rasa processes, on PostgreSQL/Redis/RabbitMQ).

For each: start-up time, REST turn latency and throughput at 1, 8 and 32
concurrent conversations (closed loop), latency against conversation length,
resident memory per process, and, once per project, training and retraining
time.  It prints markdown tables, writes PNG charts and `figures.json` into
`results/bench/`, and exits 0 whatever the figures are: it is a report, not
a test.  A target that does not start is reported as missing; the others are
still measured.
"""

from __future__ import annotations

from scripts.bench.cli import main  # noqa: F401 - the console entry point
