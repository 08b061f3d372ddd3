# Set-up and tasks. `make up` runs the main job; `make test` runs every test tier. Both start from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROJECT ?= airflow-project
STANDIN ?=
BENCH_ARGS ?=
# Stand-in images (built locally by `make images`) for machines that cannot pull from a registry.
STANDIN_FLAGS := --image afc-standin/airflow:3.3.2-python3.11 --postgres-image afc-standin/postgres:16 --redis-image afc-standin/redis:7.2

.PHONY: install dev compose images up test test-unit test-docker test-e2e bench clean registry engine2 test-services-stop

$(BIN)/afc: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

install: $(BIN)/afc

dev: install
	$(BIN)/pip install --quiet -e '.[test]'

compose: install
	bash scripts/ensure-compose

images:
	bash standin/build.sh

up: install compose $(if $(STANDIN),images)
	test -f $(PROJECT)/.env || $(BIN)/afc init $(PROJECT) $(if $(STANDIN),$(STANDIN_FLAGS))
	$(BIN)/afc --project-dir $(PROJECT) up

test: dev compose images
	bash scripts/run-tests

# The test services `make test` starts and stops itself (scripts/run-tests); by hand: start, then stop.
registry:
	bash scripts/registry start

engine2:
	bash scripts/engine2 start

test-services-stop:
	bash scripts/engine2 stop
	bash scripts/registry stop

test-unit: dev
	$(BIN)/python -m pytest -m unit -q

bench: dev compose images
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
