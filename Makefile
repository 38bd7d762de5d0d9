# The two commands of the README: `make run` (app on sample data) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test install lint format bench clean-store

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) -c "from lib.auth import ensure_secrets_file; ensure_secrets_file()"
	$(PY) -m lib init-db
	$(PY) -m lib load-sample sample_data
	$(VENV)/bin/streamlit run Home.py --server.port $(PORT)

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	# pytest caches its rewritten test modules (and Python the lib/ bytecode of the workers and the
	# servers they start) only when bytecode writing is on; the environment may turn it off.
	# Workers: cores + 1, so that one runs while the browser tests wait on Chromium and the app
	# (on 2 cores: 293 s with 3 workers, 325 s with 2).
	env -u PYTHONDONTWRITEBYTECODE $(VENV)/bin/pytest -q -n $$(( $$(nproc) + 1 ))

lint: install
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

clean-store:
	rm -f var/dashboard.db var/dashboard.db-wal var/dashboard.db-shm
