# The README's two commands: `make run` and `make test`. Everything else is for developers.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test test-postgres check lint types install system-deps messages clean

# The directory extra (python-ldap) is built from source: installed when its C headers are
# there (`make test` as root installs them first, then calls `make install` again).
LDAP_EXTRA := $(shell [ -f /usr/include/ldap.h ] && [ -f /usr/include/sasl/sasl.h ] \
  && command -v gcc >/dev/null && echo --extra directory)
STAMP := $(BIN)/.installed$(if $(LDAP_EXTRA),-directory)

$(STAMP): pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
	  || python3 -m pip install --quiet uv
	$(UV) sync --frozen $(LDAP_EXTRA)
	@touch $@

install: $(STAMP)

## make run: set up, migrate, load the demo and serve on http://localhost:$(PORT),
## with the demo Mail service on http://localhost:8001 and Demo Learn (SAML) on :8002
run: install
	$(BIN)/vahva init --demo --public-url http://localhost:$(PORT)
	$(BIN)/vahva migrate --noinput -v 0
	$(BIN)/vahva demo
	@# The demo Mail service (a separate OIDC client) runs beside vahva and stops with it.
	@$(BIN)/python -m demo.mail & mail=$$!; \
	$(BIN)/python -m demo.learn & learn=$$!; \
	trap 'kill $$mail $$learn 2>/dev/null' EXIT INT TERM; \
	$(BIN)/vahva serve --host 127.0.0.1 --port $(PORT)

## Debian packages the browser, two-node and production tests use; installed only when running
## as root. PostgreSQL's binaries live in a versioned folder (/usr/lib/postgresql/15/bin).
SYSTEM_TOOLS := /usr/bin/chromium /usr/bin/zbarimg /usr/bin/oathtool /usr/bin/redis-server \
  /usr/sbin/slapd /usr/bin/gcc /usr/include/ldap.h /usr/include/sasl/sasl.h \
  /usr/bin/radclient /usr/sbin/freeradius \
  /usr/bin/xmlsec1 /usr/sbin/apache2 /usr/sbin/shibd
HAVE_POSTGRES = ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1
system-deps:
	@missing=""; for tool in $(SYSTEM_TOOLS); do [ -e $$tool ] || missing=yes; done; \
	$(HAVE_POSTGRES) || missing=yes; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      chromium zbar-tools oathtool redis-server postgresql gcc libldap2-dev libsasl2-dev \
	      slapd ldap-utils freeradius freeradius-utils xmlsec1 apache2 libapache2-mod-shib >/dev/null; \
	  else echo "Tests need: apt-get install chromium zbar-tools oathtool redis-server postgresql" \
	    "gcc libldap2-dev libsasl2-dev slapd ldap-utils freeradius freeradius-utils" \
	    "xmlsec1 apache2 libapache2-mod-shib"; fi; \
	fi

## Both runs spread the tests over pytest-xdist workers, one per core this process may use
## (nproc: what -n auto counts without psutil), at most 8. The tests mostly keep a core busy
## (tests/authenticator + tests/signin: 55 s of CPU in 73 s alone), so more workers than
## cores would only add their start-up. Each worker runs its own migrations,
## Chromium, Redis and, on PostgreSQL, its own test database (test_vahva_gw0, ...), and all
## share that one server's 200 connections (a race test opens up to 8 at once).
## --dist loadgroup keeps each module that shares one set of servers among its tests on
## one worker (ONE_WORKER_MODULES in tests/conftest.py); each worker runs its browser
## tests last.
## `make test TEST_WORKERS=1` runs on one worker; PYTEST_ARGS are passed to every pytest.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); echo $$(( n > 8 ? 8 : n )))
XDIST := -n $(TEST_WORKERS) --dist loadgroup

## make test: the whole suite, browser tests included, on SQLite; then the database-backed
## tests again on PostgreSQL (make test-postgres) when it is installed
test: system-deps
	@$(MAKE) --no-print-directory install
	$(BIN)/pytest $(XDIST) $(PYTEST_ARGS)
	@if $(HAVE_POSTGRES); then $(MAKE) --no-print-directory test-postgres; \
	else echo "PostgreSQL is not installed: skipping make test-postgres"; fi

## make test-postgres: the suite's database-backed tests against a real PostgreSQL, started on
## 127.0.0.1 for the run (tests/postgres_server.py) and removed after it: every test but the
## browser tests, then Alice's story in the browser. The other browser tests drive the same
## views and queries through a live server (all of them doubled would take make test near 20
## minutes on two cores: about 4 min for these on PostgreSQL, 5 min for all browser tests).
## Left out too: the tests that start their own servers with their own database;
## tests/test_production.py runs on PostgreSQL in make test already.
POSTGRES_SKIP := tests/test_production.py tests/test_two_nodes.py tests/test_make_run.py
POSTGRES_BROWSER := tests/e2e/test_alice_story.py
## pytest-playwright empties its output folder when a run starts: the PostgreSQL runs keep
## theirs in test-results/postgres, so the SQLite run's screenshots and traces stay.
POSTGRES_OUTPUT := --output=test-results/postgres
test-postgres: install
	$(BIN)/python -m tests.postgres_server sh -c '$(BIN)/pytest $(XDIST) -m "not e2e" \
	  $(addprefix --ignore=,$(POSTGRES_SKIP)) $(POSTGRES_OUTPUT) $(PYTEST_ARGS); tests=$$?; \
	  $(BIN)/pytest $(POSTGRES_BROWSER) $(POSTGRES_OUTPUT) $(PYTEST_ARGS); browser=$$?; \
	  [ $$tests = 0 ] && [ $$browser = 0 ]'

lint:
	$(BIN)/ruff check src tests bench demo
	$(BIN)/ruff format --check src tests bench demo
	$(BIN)/codespell src tests README.md CHANGELOG.md
	@# DESIGN §3's import rules (.importlinter): protocols enter through signin's door, the
	@# shared core and audit import no room, methods know no protocol.
	PYTHONPATH=src $(BIN)/lint-imports --no-cache

types:
	$(BIN)/mypy

check: lint types test

## Rebuild the Finnish and Swedish message catalogues (needs GNU gettext: apt-get install gettext).
## Templates that render JavaScript (the app's service worker, templates/**/*.js) hold texts
## too; the static scripts take theirs from the pages, so they are left out.
messages: install
	cd src/vahva && ../../$(BIN)/django-admin makemessages -l fi -l sv --no-obsolete \
	  -e html,txt,py,js --ignore 'settings/*' --ignore '*/static/*' \
	  && ../../$(BIN)/django-admin compilemessages

clean:
	rm -rf $(VENV) var
