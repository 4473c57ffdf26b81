# Every target bootstraps .venv from requirements/dev.txt when it is missing or stale.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint format bench fakes clean

$(STAMP): requirements/base.txt requirements/dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt
	@touch $(STAMP)

run: $(STAMP)  ## web (gunicorn) + Celery worker + beat; PORT, DATABASE_URL, REDIS_URL optional
	$(PY) manage.py run_platform

# pytest-xdist processes for make test; TEST_PROCESSES=0 runs the suite in this one process.
TEST_PROCESSES ?= 2
XDIST := --numprocesses=$(TEST_PROCESSES) --dist=loadgroup

test: $(STAMP)  ## the whole suite; REQUIRE_SERVICES=1 fails when PostgreSQL or Redis is missing
	$(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

test-fast: $(STAMP)  ## the suite without the tests that start process stacks (e2e)
	$(PY) -m pytest $(XDIST) -m "not e2e" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)  ## writes docs/benchmarks.md (needs PostgreSQL and Redis)
	$(PY) -m bench.run $(BENCH_ARGS)

fakes: $(STAMP)  ## fake Dixa and nps.today servers on :9101 and :9102
	$(PY) -m tests.fakes

clean:
	rm -rf $(VENV) .run db.sqlite3*
