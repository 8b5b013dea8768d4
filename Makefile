# Komm.A Meldestelle: `make run` (a running demo) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 5000
PROD_PORT ?= 8080

.PHONY: run test lint format install translations browser-deps clean bench prod prod-deps

install: $(STAMP) translations

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --config-settings editable_mode=compat -e '.[test]'
	touch $(STAMP)

translations: $(STAMP)
	$(BIN)/pybabel compile --use-fuzzy -d core/translations -D messages >/dev/null

# Debian's Chromium and the axe-core package for the browser tests (never `playwright install`).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null || \
	  { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }; }
	@test -f node_modules/axe-core/axe.min.js || npm ci --silent --no-audit --no-fund

# Debian's nginx for the production layout (`make prod`) and its tests.
prod-deps:
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || { DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx >/dev/null || \
	  { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx >/dev/null; }; }

# The production layout on this machine (nginx, gunicorn, two komma workers, komma cron) against
# PostgreSQL and Redis on loopback; KOMMA_DATABASE_URL / KOMMA_REDIS_URL override the defaults.
prod: install prod-deps
	$(BIN)/python -m deploy.prod_local --port $(PROD_PORT)

# Quiet: the demo's logins, then "Komm.A läuft auf http://HOST:PORT" as the last line.
run: install
	@$(BIN)/komma db upgrade
	@$(BIN)/komma demo
	@KOMMA_BASE_URL="$${KOMMA_BASE_URL:-http://$(HOST):$(PORT)}" $(BIN)/komma run --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install browser-deps prod-deps lint
	$(BIN)/python -m pytest -q -W error $(PYTEST_ARGS)

# Rebuild the message catalogue after changing user-facing text.
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _ -k _l -k lazy_gettext -o core/translations/messages.pot . >/dev/null
	$(BIN)/pybabel update -i core/translations/messages.pot -d core/translations -D messages --no-fuzzy-matching

bench: install
	$(BIN)/python bench/crypto_bench.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache .mypy_cache
