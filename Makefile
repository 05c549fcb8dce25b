# The two commands a newcomer needs: `make run` and `make test`. Each does its own set-up:
# virtualenv and packages, local Kafka and PostgreSQL (unless KAFKA_BOOTSTRAP_SERVERS /
# DATABASE_URL point elsewhere), migrations and topics.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)

.PHONY: run test test-unit test-infra lint bench infra-up infra-down infra-status setup clean

# The tests' own broker (.local/kafka-test, 127.0.0.1:19092) and database (clients_test) in the
# same local PostgreSQL: `make run` never reads what the tests wrote. KAFKA_BOOTSTRAP_SERVERS /
# DATABASE_URL, when set, are used as they are (tests/conftest.py has the same defaults).
TEST_INFRA := KAFKA_STATE_DIR=$(CURDIR)/.local/kafka-test KAFKA_LOCAL_PORT=19092 \
	KAFKA_LOCAL_CONTROLLER_PORT=19093 POSTGRES_DB=clients_test
TEST_ENV := KAFKA_BOOTSTRAP_SERVERS=$${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:19092} \
	DATABASE_URL=$${DATABASE_URL:-postgresql://clients@127.0.0.1:54320/clients_test}

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP)

infra-up:
	deploy/local/infra.sh up

infra-down:
	deploy/local/infra.sh down
	$(TEST_INFRA) deploy/local/kafka.sh down

infra-status:
	deploy/local/infra.sh status

# Migrations and topics are applied by `clients run` itself on start.
run: setup infra-up
	$(BIN)/clients run

test-infra:
	$(TEST_INFRA) deploy/local/infra.sh up

test: setup test-infra
	export $(TEST_ENV); $(BIN)/clients migrate >/dev/null && $(BIN)/clients topics >/dev/null \
		&& $(BIN)/pytest $(PYTEST_ARGS)

# The tests that need no broker and no database, in seconds.
test-unit: setup
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: setup infra-up
	$(BIN)/clients migrate >/dev/null
	$(BIN)/clients topics >/dev/null
	@for b in bench/[!_]*.py; do echo "== $$b"; $(BIN)/python -m bench.$$(basename $$b .py) || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
