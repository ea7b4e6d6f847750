# The two commands: `make run` (serve the portal with a worker) and `make test` (every check).
# Both set everything up first: a virtual environment in .venv, pinned dependencies, migrations.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# The settings read PORT too: links in emails then point at the port being served.
export PORT
# Development defaults; production sets DEBUG=0 and the rest in the environment.
export DEBUG ?= 1

.PHONY: run test test-recovery test-cluster setup lint security migrate seed worker lock clean bench

# semgrep lives in its own environment: its pins clash with the project's (click).
SEMGREP_VENV := .venv-semgrep
SEMGREP_VERSION := 1.181.0
export SEMGREP ?= $(CURDIR)/$(SEMGREP_VENV)/bin/semgrep

$(BIN)/.installed: pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev]'
	@touch $@

setup: $(BIN)/.installed

migrate: setup
	$(BIN)/python manage.py migrate --noinput -v 0

seed: migrate
	$(BIN)/python manage.py seed_demo

# Web server and a real Celery worker (with the beat scheduler embedded) consuming both queues:
# "celery" (renders, emails) and "control" (the sweeps). Ctrl-C stops both.
run: seed
	@echo ""
	@echo "  Portal:  http://127.0.0.1:$(PORT)/   (Ctrl-C stops the web server and the worker)"
	@echo "  HL7:     inbox var/hl7/inbox/, letters var/hl7/outbox/$(if $(HL7_PORT), and MLLP on 127.0.0.1:$(HL7_PORT))"
	@echo ""
	@trap 'kill $$worker $$listener 2>/dev/null; wait $$worker $$listener 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/celery -A portal worker --beat -Q celery,control --loglevel=INFO --concurrency=2 \
	    --schedule=var/celerybeat-schedule & worker=$$!; \
	  if [ -n "$(HL7_PORT)" ]; then \
	    $(BIN)/python manage.py hl7_listen --host 127.0.0.1 --port $(HL7_PORT) & listener=$$!; \
	  fi; \
	  $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

worker: setup
	$(BIN)/celery -A portal worker --beat -Q celery,control --loglevel=INFO \
	  --schedule=var/celerybeat-schedule

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

$(SEMGREP_VENV)/.installed-$(SEMGREP_VERSION):
	@test -x $(SEMGREP_VENV)/bin/python || $(PYTHON) -m venv $(SEMGREP_VENV)
	$(SEMGREP_VENV)/bin/python -m pip install --quiet --disable-pip-version-check semgrep==$(SEMGREP_VERSION)
	@touch $@

# bandit (no medium or high finding) and the project's own semgrep rules (.semgrep/rules.yml).
security: setup $(SEMGREP_VENV)/.installed-$(SEMGREP_VERSION)
	$(BIN)/bandit -q -r portal referrals eligibility -c bandit.yaml -ll
	$(SEMGREP) scan --quiet --metrics=off --disable-version-check --error \
	  --config .semgrep/rules.yml portal referrals eligibility templates

test: lint security
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py check
	$(BIN)/pytest

# Recovery after faults (issue 14): a Redis of the tests' own stopped for OUTAGE_SECONDS (60) and
# restarted, a worker (then a pool process) SIGKILLed mid-render; prints the recovery times.
# Needs PostgreSQL (DATABASE_URL) and redis-server; about five minutes.
test-recovery: setup
	RECOVERY_TESTS=1 $(BIN)/pytest tests/recovery -s

# The portal on eight hosts (network namespaces: db, broker, s3, web1, web2, worker1, worker2,
# lb) through faults; needs root, iproute2, haproxy, PostgreSQL, redis-server, qpdf (.ci/run).
test-cluster: setup
	PORTAL_CLUSTER_TEST=1 $(BIN)/pytest tests/cluster -s -p no:cacheprovider

# Benchmarks (issue 8): seeds the PostgreSQL database `bench` on 127.0.0.1 with BENCH_N referrals
# (default 100 000), serves with gunicorn, measures, writes bench/RESULTS.md. 5 to 10 minutes.
# Then bench/drain.py adds the backlog drain rate (packets/s per worker process).
bench: setup
	$(BIN)/python bench/run.py
	$(BIN)/python bench/drain.py

# Re-pin every transitive dependency after changing pyproject.toml.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet -e '.[dev]'
	.lock-venv/bin/python -m pip freeze --exclude-editable | grep -v '^-e' > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) $(SEMGREP_VENV) var .pytest_cache .ruff_cache
