# Kassa. `make run` and `make test` need only Python 3.11+ and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
SANDBOX_PORT ?= 7076
SANDBOX_SMTP_PORT ?= 7025
# Every Procfile line reads these (honcho and supervisord set their own $PORT).
export WEB_PORT := $(PORT)
export SANDBOX_PORT
export SITE_URL ?= http://127.0.0.1:$(PORT)
export SANDBOX_URL ?= http://127.0.0.1:$(SANDBOX_PORT)
# Kassa's email goes to the sandbox's mail catcher (inbox at $(SANDBOX_URL)/mail/).
export SANDBOX_SMTP_PORT
export EMAIL_URL ?= smtp://127.0.0.1:$(SANDBOX_SMTP_PORT)
# The settings default to production (both off); make run and make test are the development setup.
export DEBUG ?= true
export SANDBOX_MODE ?= true

.PHONY: run test bench soak install install-dev lint migrate seed clean supervisor-conf

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files re-run pip only when a requirements file changes.
$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

# make run's processes are the Procfile's, kept alive by supervisord (a crashed one is restarted, the
# rest keep serving); the config is rendered from the Procfile so that stays the one list.
RUN_DIR ?= var/run
supervisor-conf: install
	$(BIN)/honcho export --template-dir deploy/dev --procfile Procfile --app kassa supervisord $(RUN_DIR) >/dev/null

run: seed supervisor-conf
	@echo ""
	@echo "Kassa is starting:"
	@echo "  dashboard   http://127.0.0.1:$(PORT)/dashboard/"
	@echo "  admin       http://127.0.0.1:$(PORT)/admin/"
	@echo "  storefronts http://127.0.0.1:$(PORT)/s/asha-prints/  http://127.0.0.1:$(PORT)/s/nordic-knits/"
	@echo "  API docs    http://127.0.0.1:$(PORT)/api/docs/"
	@echo "  sandbox     $(SANDBOX_URL)/health  (partner demo: $(SANDBOX_URL)/partner/)"
	@echo "  mail inbox  $(SANDBOX_URL)/mail/  (every email Kassa sends)"
	@echo "Ctrl-C stops everything."
	@echo ""
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/supervisord --configuration $(RUN_DIR)/kassa.conf

# A file SQLite test DB (ignored when DATABASE_URL is set) lets live_server threads and the
# sandbox process's webhooks share it, so the integration tests run on a laptop too.
test: install-dev
	SQLITE_TEST_NAME=$${SQLITE_TEST_NAME:-var/test.sqlite3} $(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install-dev
	$(BIN)/python -m bench.run_all

# A production-shaped Kassa under load and seven faults, reconciled against the sandbox's books
# (README "Soak"): SOAK_SECONDS (300), SOAK_USERS (50), SOAK_FAULTS (1-7), BROKER=redis|rabbitmq.
BROKER ?= redis
soak: install-dev
	BROKER=$(BROKER) $(BIN)/python -m bench.soak

# lint-imports checks the app layers in .importlinter (make test runs it too, in tests/test_import_layers.py).
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf var/db.sqlite3* var/celery var/sandbox
