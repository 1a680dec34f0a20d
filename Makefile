# billflow: `make demo` and `make test` are all a new user needs (README).
SHELL := /bin/bash
.DEFAULT_GOAL := help

ROOT := $(abspath .)
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# focus-validator 2.2 needs Python >= 3.12 with numpy<2 and pyarrow<21: its own tool venv
FOCUS_VENV := $(ROOT)/.venv-focus
FOCUS_STAMP := $(FOCUS_VENV)/.installed
FOCUS_REQUIREMENTS := "focus-validator==2.2.*" "numpy<2" "pyarrow<21"
# focus-converter 1.0 (FinOps Foundation, CUR -> FOCUS, for bench-focus) pins pyarrow<15, pandas<3, polars 0.20 and
# an old focus-validator (pandera 0.17: multimethod<1.11; typer 0.9: click<8.2): a Python 3.12 venv of its own
FOCUS_CONVERTER_VENV := $(ROOT)/.venv-focus-converter
FOCUS_CONVERTER_STAMP := $(FOCUS_CONVERTER_VENV)/.installed
FOCUS_CONVERTER_REQUIREMENTS := "focus-converter==1.0.0" "multimethod<1.11" "click<8.2"
MANIFEST := dbt_project/target/manifest.json
DBT_SOURCES := $(shell find dbt_project -type f \( -name '*.sql' -o -name '*.yml' -o -name '*.csv' \) -not -path 'dbt_project/target/*' 2>/dev/null)

export BILLFLOW_HOME ?= $(ROOT)/.billflow
export AIRFLOW_HOME ?= $(BILLFLOW_HOME)/airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(ROOT)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(ROOT)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__UNIT_TEST_MODE := False
export PYTHONPATH := $(ROOT)/plugins:$(ROOT)/tools
# `airflow standalone` starts its components as `airflow ...` subprocesses found on the PATH
export PATH := $(BIN):$(PATH)

DEMO_PERIOD ?= $(shell date -u -d "$$(date -u +%Y-%m-01) -1 month" +%Y-%m)
CURRENT_PERIOD ?= $(shell date -u +%Y-%m)
CURRENT_DAYS ?= $(shell expr $$(date -u +%d) - 1)

.PHONY: help install focus-venv dbt-parse airflow-init demo demo-aws test test-fast lint bench bench-airflow bench-focus bench-gate athena-scan airflow compose-env clean

help:
	@echo "make demo   - install, generate a sample CUR, run the daily load and the monthly close, print invoices"
	@echo "make demo-aws - the same demo on the AWS adapters: moto for S3, Glue and Athena, PostgreSQL for Redshift and Aurora"
	@echo "make test   - install and run the test suite"
	@echo "make test-fast - the unit tests only (no servers, no full loads): the edit-test loop"
	@echo "make focus-venv - the Python 3.12 tool venv (.venv-focus) with focus-validator 2.2"
	@echo "make airflow - start airflow standalone with the billflow DAGs (UI on http://localhost:8080)"
	@echo "make bench [ROWS=N] [SHAPE=realistic] - time a 10M-line month from the landing zone to the serving marts"
	@echo "make bench-airflow [ROWS=N] [RUNS=N] - the same month as scheduled runs of the daily DAG (airflow standalone), trigger to finish"
	@echo "make bench-focus - billflow's FOCUS export against focus-converter 1.0 on the same generated 1M-line CUR"
	@echo "make bench-gate - time the staging gate on a generated 1M-row staged partition"
	@echo "make athena-scan [ROWS=N] - the bytes staging a generated month on Athena would scan, and their price"
	@echo "make compose-env - write .env for docker compose: a random value for every secret (never overwrites)"

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@if command -v uv >/dev/null 2>&1; then \
		echo "installing with uv"; uv pip install --compile-bytecode --python $(PY) -r requirements.txt -e .; \
	elif $(BIN)/pip install -q uv 2>/dev/null; then \
		echo "installing with uv (bootstrapped by pip into the venv)"; $(BIN)/uv pip install --compile-bytecode --python $(PY) -r requirements.txt -e .; \
	else \
		echo "installing with pip"; $(BIN)/pip install -r requirements.txt -e .; \
	fi
	@touch $(STAMP)

install: $(STAMP)

# Python 3.12: `python3.12` when it runs (a pyenv shim may not), else a pyenv or system 3.12.
$(FOCUS_STAMP):
	@py=""; \
	for c in python3.12 $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.12*/bin/python3.12 /usr/bin/python3.12 /usr/local/bin/python3.12; do \
		if "$$c" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1; then py="$$c"; break; fi; \
	done; \
	if [ -z "$$py" ]; then echo "focus-venv: no working Python 3.12 found (focus-validator 2.2 needs it)"; exit 1; fi; \
	if [ -x $(BIN)/uv ]; then uv=$(BIN)/uv; elif command -v uv >/dev/null 2>&1; then uv=uv; else uv=""; fi; \
	echo "focus-venv: $(FOCUS_VENV) with $$py"; \
	if [ -n "$$uv" ]; then \
		$$uv venv --quiet --allow-existing --python "$$py" $(FOCUS_VENV) \
			&& $$uv pip install --quiet --compile-bytecode --python $(FOCUS_VENV)/bin/python $(FOCUS_REQUIREMENTS); \
	else \
		"$$py" -m venv $(FOCUS_VENV) && $(FOCUS_VENV)/bin/pip install -q $(FOCUS_REQUIREMENTS); \
	fi
	@touch $(FOCUS_STAMP)

focus-venv: $(FOCUS_STAMP)

# the same Python 3.12 search as the focus-venv
$(FOCUS_CONVERTER_STAMP):
	@py=""; \
	for c in python3.12 $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.12*/bin/python3.12 /usr/bin/python3.12 /usr/local/bin/python3.12; do \
		if "$$c" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1; then py="$$c"; break; fi; \
	done; \
	if [ -z "$$py" ]; then echo "focus-converter venv: no working Python 3.12 found"; exit 1; fi; \
	if [ -x $(BIN)/uv ]; then uv=$(BIN)/uv; elif command -v uv >/dev/null 2>&1; then uv=uv; else uv=""; fi; \
	echo "focus-converter venv: $(FOCUS_CONVERTER_VENV) with $$py"; \
	if [ -n "$$uv" ]; then \
		$$uv venv --quiet --allow-existing --python "$$py" $(FOCUS_CONVERTER_VENV) \
			&& $$uv pip install --quiet --compile-bytecode --python $(FOCUS_CONVERTER_VENV)/bin/python $(FOCUS_CONVERTER_REQUIREMENTS); \
	else \
		"$$py" -m venv $(FOCUS_CONVERTER_VENV) && $(FOCUS_CONVERTER_VENV)/bin/pip install -q $(FOCUS_CONVERTER_REQUIREMENTS); \
	fi
	@touch $(FOCUS_CONVERTER_STAMP)

$(MANIFEST): $(STAMP) $(DBT_SOURCES) dbt_project/dbt_project.yml
	cd dbt_project && $(BIN)/dbt parse --quiet --profiles-dir profiles/embedded --target warehouse
	@touch $(MANIFEST)

dbt-parse: $(MANIFEST)

airflow-init: $(STAMP) $(MANIFEST)
	@mkdir -p $(AIRFLOW_HOME)
	$(BIN)/airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 || (cat $(AIRFLOW_HOME)/db-migrate.log; exit 1)
	$(BIN)/airflow pools set billflow_duckdb 1 "one writer at a time on the embedded DuckDB files" > /dev/null
	$(BIN)/airflow pools set billflow_staging 4 "parallel staging queries" > /dev/null

# the demo's deliveries (last month final, this month so far) into the folder $(1)
define generate_demo_cur
	$(PY) -m billflow_dev generate-cur --out $(1) --period $(DEMO_PERIOD) --format mixed \
		--payers 2 --accounts 4 --rows 200000 --seed 42 --final --quiet
	$(PY) -m billflow_dev generate-cur --out $(1) --period $(CURRENT_PERIOD) --format mixed \
		--payers 2 --accounts 4 --days $$(( $(CURRENT_DAYS) > 0 ? $(CURRENT_DAYS) : 1 )) --rows 100000 --seed 43 --quiet
endef

demo: airflow-init
	$(call generate_demo_cur,$(BILLFLOW_HOME)/landing)
	$(BIN)/airflow dags test cur_daily_load --conf '{"force_reload": true}' > $(BILLFLOW_HOME)/cur_daily_load.log 2>&1 \
		|| (tail -50 $(BILLFLOW_HOME)/cur_daily_load.log; exit 1)
	$(BIN)/airflow dags test cur_monthly_close > $(BILLFLOW_HOME)/cur_monthly_close.log 2>&1 \
		|| (tail -50 $(BILLFLOW_HOME)/cur_monthly_close.log; exit 1)
	$(BIN)/billflow invoices --by-rule $(DEMO_PERIOD)

# the same deliveries on the AWS adapters with no account: moto (S3, Glue, Athena), PostgreSQL started from the
# machine's binaries for Redshift and Aurora (tools/billflow_dev/demo_aws.py); prints the same invoices as demo
demo-aws: airflow-init
	rm -rf $(BILLFLOW_HOME)/demo-aws $(BILLFLOW_HOME)/demo-aws-landing
	$(call generate_demo_cur,$(BILLFLOW_HOME)/demo-aws-landing)
	$(PY) -m billflow_dev demo-aws --landing $(BILLFLOW_HOME)/demo-aws-landing --by-rule $(DEMO_PERIOD) \
		--report $(BILLFLOW_HOME)/demo-aws-invoices.txt > $(BILLFLOW_HOME)/demo-aws.log 2>&1 \
		|| (tail -50 $(BILLFLOW_HOME)/demo-aws.log; exit 1)
	cat $(BILLFLOW_HOME)/demo-aws-invoices.txt

# the whole suite, spread over the machine's cores (a test module stays on one worker: its fixtures load once);
# the 25 slowest steps are listed at the end
test: $(STAMP) $(MANIFEST) $(FOCUS_STAMP)
	$(BIN)/pytest -n auto --dist loadfile --no-loadscope-reorder --durations=25

# the edit-test loop: the unit tests only (no servers, no DAG runs, no full loads)
test-fast: $(STAMP)
	$(BIN)/pytest -n auto --dist loadfile tests/unit

lint: $(STAMP)
	$(BIN)/ruff check plugins tools dags tests
	$(BIN)/ruff format --check plugins tools dags tests

# ROWS (default 10M) and SHAPE (small: 2 payers x 8 accounts; realistic: 10 payers, 2,000 accounts); the month is
# generated once into .bench and reused; the figures also go to .bench/bench-<shape>-<rows>.json
bench: $(STAMP) $(MANIFEST)
	$(PY) -m billflow_dev bench --rows $(or $(ROWS),10000000) --shape $(or $(SHAPE),small) \
		--json .bench/bench-$(or $(SHAPE),small)-$(or $(ROWS),10000000).json

athena-scan: $(STAMP)
	$(PY) -m billflow_dev athena-scan --rows $(or $(ROWS),10000000)

# the bench's month (shared in .bench) as triggered runs of cur_daily_load under airflow standalone, as `make airflow`
# runs it, on a fresh metadata database: trigger to finish, the critical path, the slowest tasks. The first run loads
# the month on a fresh start; the second (RUNS=2, the default) reloads it on warm processes, like a daily run
# (tools/billflow_dev/airflow_bench.py)
bench-airflow: $(STAMP) $(MANIFEST)
	$(PY) -m billflow_dev bench-airflow --rows $(or $(ROWS),10000000) --shape $(or $(SHAPE),small) --runs $(or $(RUNS),2) \
		--json .bench/bench-airflow.json

# billflow's FOCUS export (the product's steps) against focus-converter 1.0 on the same generated 1M-line CUR file,
# each in a fresh process, best of 2 runs; the file is generated once into .bench/focus (figures: bench-focus.json)
bench-focus: $(STAMP) $(FOCUS_CONVERTER_STAMP)
	$(PY) -m billflow_dev bench-focus --rows 1000000 --json .bench/focus/bench-focus.json

bench-gate: $(STAMP)
	$(PY) -m billflow_dev gate-bench --rows 1000000

airflow: airflow-init
	$(BIN)/airflow standalone

# standard library only: no virtualenv needed to start the compose stack
compose-env:
	python3 deploy/compose/generate_env.py --output $(ROOT)/.env

clean:
	rm -rf $(BILLFLOW_HOME) dbt_project/target dbt_project/logs
