# yibao: two commands do all set-up. `make run` (embedded default) and `make test` (PostgreSQL + Redis, then
# the embedded subset on SQLite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
MANAGE := $(PY) manage.py
APT_GET := $(shell command -v apt-get 2>/dev/null)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint format bench messages makemessages check-deploy clean help system-gettext system-chromium

help:
	@echo "make run    - install, migrate, load demo data and serve on http://127.0.0.1:8000 (SQLite, no other service)"
	@echo "make test   - install test dependencies, run the whole suite against PostgreSQL and Redis, then the"
	@echo "              embedded subset (pytest -m embedded) on SQLite with tasks in-process, as make run has it"
	@echo "make lint   - ruff, the layering contract and mypy (run by make test);  make bench - benchmarks (docs/performance.md)"

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.run-installed: requirements.lock | $(VENV)/bin/activate
	$(PIP) install --quiet -r requirements.lock
	touch $@

$(VENV)/.dev-installed: requirements-dev.lock | $(VENV)/bin/activate
	$(PIP) install --quiet -r requirements-dev.lock
	touch $@ $(VENV)/.run-installed

# gettext (msgfmt) compiles the translation catalogues; chromium runs the browser tests (with CJK fonts so
# screenshots of Chinese pages are readable).
system-gettext:
	@command -v msgfmt >/dev/null || { [ -n "$(APT_GET)" ] && $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq gettext >/dev/null; } \
	  || { echo "Install GNU gettext (msgfmt) to compile translations." >&2; exit 1; }

system-chromium:
	@{ command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi "noto.*cjk"; } || { [ -n "$(APT_GET)" ] && $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; } \
	  || { echo "Install Debian's chromium for the browser tests." >&2; exit 1; }

messages: system-gettext | $(VENV)/.run-installed
	@$(MANAGE) compilemessages --ignore=.venv -v 0

makemessages: | $(VENV)/.dev-installed
	$(MANAGE) makemessages -l zh_Hans -l en --ignore=.venv --ignore=staticfiles --ignore=var

# The demo accounts are the first thing `make run` prints (after a first install): no command echo before them.
run: $(VENV)/.run-installed messages
	@$(MANAGE) migrate --noinput -v 0
	@$(MANAGE) seed_demo
	@echo ""
	@echo "Serving on http://127.0.0.1:8000  (API docs: http://127.0.0.1:8000/api/docs/)"
	@$(MANAGE) runserver 127.0.0.1:8000

# The whole suite on PostgreSQL and Redis, then the flows a `make run` user reaches (marked `embedded`) again on
# the embedded default: SQLite, local-memory cache, tasks in-process. Both run; either failing fails the target.
test: $(VENV)/.dev-installed system-chromium messages lint
	@$(PY) scripts/check_services.py
	@status=0; \
	echo "$(PY) -m pytest"; \
	$(PY) -m pytest || status=$$?; \
	echo "$(PY) -m pytest --ds=config.settings.test_embedded -m embedded"; \
	$(PY) -m pytest --ds=config.settings.test_embedded -m embedded || status=$$?; \
	exit $$status

# ruff, the layering contract (docs/architecture.md: apps meet only through their doors, no cycles), then
# mypy on core, reference, accounts and the door modules (pyproject.toml [tool.mypy]).
lint: | $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q -p no:randomly -p no:cacheprovider tests/foundation/test_layers.py
	$(VENV)/bin/mypy

format: | $(VENV)/.dev-installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(VENV)/.dev-installed messages
	@$(PY) scripts/check_services.py
	bash bench/run.sh

check-deploy: | $(VENV)/.run-installed
	DJANGO_SETTINGS_MODULE=config.settings.production SECRET_KEY=$$($(PY) -c 'import secrets;print(secrets.token_urlsafe(50))') \
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 ALLOWED_HOSTS=yibao.example \
	PII_ENCRYPTION_KEY=$$($(PY) -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode())') \
	ECODE_KEK=$$($(PY) -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode())') \
	ECODE_SUBJECT_KEY=$$($(PY) -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(16)).decode())') \
	$(MANAGE) check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) db.sqlite3 var staticfiles
