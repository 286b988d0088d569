# The README's two commands: `make run` and `make test`. Everything else is for developers.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test check lint types install system-deps messages clean

$(BIN)/.installed: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 \
	  || python3 -m pip install --quiet uv
	$(UV) sync --frozen
	@touch $@

install: $(BIN)/.installed

## make run: set up, migrate, load the demo and serve on http://localhost:$(PORT),
## with the demo Mail service on http://localhost:8001
run: install
	$(BIN)/vahva init --demo --public-url http://localhost:$(PORT)
	$(BIN)/vahva migrate --noinput -v 0
	$(BIN)/vahva demo
	@# The demo Mail service (a separate OIDC client) runs beside vahva and stops with it.
	@$(BIN)/python -m demo.mail & mail=$$!; \
	trap 'kill $$mail 2>/dev/null' EXIT INT TERM; \
	$(BIN)/vahva serve --host 127.0.0.1 --port $(PORT)

## Debian packages the browser and two-node tests use; installed only when running as root.
SYSTEM_TOOLS := /usr/bin/chromium /usr/bin/zbarimg /usr/bin/oathtool /usr/bin/redis-server
system-deps:
	@missing=""; for tool in $(SYSTEM_TOOLS); do [ -x $$tool ] || missing=yes; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      chromium zbar-tools oathtool redis-server >/dev/null; \
	  else echo "Tests need: apt-get install chromium zbar-tools oathtool redis-server"; fi; \
	fi

## make test: the whole suite, browser tests included
test: install system-deps
	$(BIN)/pytest

lint:
	$(BIN)/ruff check src tests bench demo
	$(BIN)/ruff format --check src tests bench demo
	$(BIN)/codespell src tests README.md CHANGELOG.md

types:
	$(BIN)/mypy

check: lint types test

## Rebuild the Finnish message catalogue (needs GNU gettext: apt-get install gettext).
messages: install
	cd src/vahva && ../../$(BIN)/django-admin makemessages -l fi --no-obsolete \
	  --ignore 'settings/*' && ../../$(BIN)/django-admin compilemessages

clean:
	rm -rf $(VENV) var
