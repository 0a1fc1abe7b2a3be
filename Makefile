# intentgate — the two commands: `make run` and `make test`. Everything else builds on them.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
UPSTREAM ?=
PORT ?= 8080
SHOP_PORT ?= 8081
ADMIN_PORT ?= 9180
export NUMBA_CACHE_DIR ?= $(CURDIR)/.numba_cache

.PHONY: run test bench model loadtest lint clean venv

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "python3-venv missing: installing Debian's package" >&2; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq python3-venv >/dev/null; \
	  rm -rf $(VENV); $(PYTHON) -m venv $(VENV); }
	@$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[demo]'
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

venv: $(VENV)/.installed

run: $(VENV)/.installed
	@echo "shop through intentgate: http://127.0.0.1:$(PORT)/"
	@echo "admin (page, API, metrics): http://127.0.0.1:$(ADMIN_PORT)/_intentgate/ui/"
	@if [ -n "$(UPSTREAM)" ]; then \
	  exec $(BIN)/intentgate serve --upstream "$(UPSTREAM)" --port $(PORT) --admin-listen 127.0.0.1:$(ADMIN_PORT) --expose-headers; \
	else \
	  $(BIN)/intentgate demo-shop --port $(SHOP_PORT) & shop=$$!; \
	  trap "kill $$shop 2>/dev/null" EXIT INT TERM; \
	  $(BIN)/intentgate serve --upstream http://127.0.0.1:$(SHOP_PORT) --port $(PORT) --admin-listen 127.0.0.1:$(ADMIN_PORT) --expose-headers; \
	fi

test: $(VENV)/.installed-dev
	@bash scripts/ensure-redis.sh
	@bash scripts/ensure-chromium.sh
	$(BIN)/python -m pytest -q

bench: $(VENV)/.installed-dev
	@command -v nginx >/dev/null && command -v wrk >/dev/null || { \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nginx-light wrk >/dev/null; }
	@bash scripts/ensure-redis.sh
	$(BIN)/intentgate bench $(BENCH_ARGS)

model: $(VENV)/.installed-dev
	$(BIN)/intentgate fit-bundled

loadtest: $(VENV)/.installed-dev
	$(BIN)/python -m loadtests.run

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check proxy classifiers signals explain tests
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .numba_cache build *.egg-info
