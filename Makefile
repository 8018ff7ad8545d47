# Every target runs inside the project's locked environment (uv, uv.lock).
# uv itself is installed on first use when the machine does not have it.
UV := python3 -m uv
RUN := $(UV) run --frozen

.PHONY: help install demo test lint format dashboard dagster bench
.DEFAULT_GOAL := help

help:
	@echo "make demo   install, simulate data if there is none, run the pipeline, serve the dashboard"
	@echo "make test   install and run the whole test suite"
	@echo "make lint   ruff check, format check, import-layer contracts"
	@echo "make bench  benchmark at scale l (slow: simulates ~500,000 users x 12 months once; SCALE=m make bench)"
	@echo "make dashboard   serve the dashboard on http://127.0.0.1:8501"
	@echo "make dagster     Dagster UI + daemon (schedules, sensor) on http://127.0.0.1:3000"

# Re-sync only when the dependency files change.
.venv/.synced: pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@# --compile-bytecode: write every package's .pyc once, here. Without them each process
	@# compiles Dagster & co. from source again (several CPU-seconds per run wherever
	@# PYTHONDONTWRITEBYTECODE is set, as on CI machines).
	$(UV) sync --frozen --all-extras --compile-bytecode
	@touch $@

install: .venv/.synced

demo: install
	@if [ -z "$$(ls -A data/landing 2>/dev/null)" ]; then \
		$(RUN) nudgescope simulate --scale m; \
	else \
		echo "data/landing already has files: using them (delete it to simulate afresh)"; \
	fi
	@# exit 3 = files failed or rows quarantined: the data is published, the demo goes on
	@$(RUN) nudgescope run; code=$$?; [ $$code -eq 0 ] || [ $$code -eq 3 ] || exit $$code
	@echo "warehouse: data/warehouse.duckdb   published (read this): data/serve.duckdb"
	@echo "e.g. $(RUN) nudgescope sql \"select * from meta\""
	$(RUN) nudgescope dashboard

test: install
	$(RUN) pytest

dashboard: install
	$(RUN) nudgescope dashboard

# The local Dagster instance lives in data/dagster (runs of the sensor, the schedule and
# `nudgescope run` persist there); its dagster.yaml comes from pipelines/dagster.yaml (the
# warehouse pool is limited to 1).
dagster: install
	@mkdir -p data/dagster
	@cp pipelines/dagster.yaml data/dagster/dagster.yaml
	DAGSTER_HOME=$(CURDIR)/data/dagster $(RUN) dg dev --port 3000

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports

format: install
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

# The benchmark (docs/performance.md). Scale l takes a long time; SCALE=m make bench is quicker.
SCALE ?= l
bench: install
	$(RUN) nudgescope bench --scale $(SCALE)
