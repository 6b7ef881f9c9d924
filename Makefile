# Everyday commands. Works from a fresh clone: the virtualenv is created on first use
# and re-synced whenever a requirements file changes (stamp file).
#   make up       start gateway + auth + chat + frontend on http://127.0.0.1:8080 (see README), under a
#                 supervisor that restarts a process that dies; on a half-dead stack, brings back what is down
#   make status   the supervisor and every process: pid, port, restarts, last exit, health
#   make restart  restart the chat instances one at a time, no request failing
#   make down     stop exactly what `make up` started
#   make test     the whole test suite (includes test-faults and test-deploy)
#   make test-faults  the fault suite alone (Redis, PostgreSQL, a chat instance, auth, a Redis Cluster primary
#                     killed under traffic)
#   make test-deploy  build the Docker images and run the Compose and Swarm deployments for real
#   make bench    benchmarks (BENCH_ARGS=--quick for a short run)
#   make clean    stop the stack, remove run data, logs and caches (keeps .venv)

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.requirements-installed
# checkov (static check of deploy/kubernetes) pins packaging<24, which pytest 9 cannot use:
# it gets a virtualenv of its own.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.requirements-installed
REQUIREMENTS := requirements-dev.txt shared/pyproject.toml \
	auth_service/requirements.txt chat_service/requirements.txt web_frontend/requirements.txt

.PHONY: prerequisites venv checkov up down status restart test test-faults test-deploy bench clean

venv: $(STAMP)

# Debian packages (nginx, python3-venv): installed when root or password-less sudo allows,
# otherwise the one command to run is printed. Standard library only.
prerequisites:
	$(PYTHON) -m stack.prerequisites

$(BIN)/python: | prerequisites
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(REQUIREMENTS) | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $@

checkov: $(CHECKOV_STAMP)

$(CHECKOV_STAMP): requirements-checkov.txt | prerequisites
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --disable-pip-version-check -q -r requirements-checkov.txt
	touch $@

up: prerequisites venv
	$(BIN)/python -m stack up

# down/status/restart need only the standard library, so they work even without the virtualenv.
down:
	$(PYTHON) -m stack down

status:
	$(PYTHON) -m stack status

restart:
	$(PYTHON) -m stack restart

test: prerequisites venv checkov
	$(BIN)/pytest

test-faults: venv
	$(BIN)/pytest -m faults tests/system

# Needs a Docker engine and docker-compose (bash .ci/run installs and starts them).
test-deploy: venv
	$(BIN)/pytest -m deploy tests/deploy

bench: venv
	$(BIN)/python -m bench $(BENCH_ARGS)

clean: down
	rm -rf .run .pytest_cache test-artifacts
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +
