# Two commands: `make demo` and `make test`. Both set up everything from a clean clone:
# a .venv with the project and its dev tools, npm tools in ./node_modules (never global),
# and Debian's chromium for the card-rendering tests.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test lint bench chromium alertmanager clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the Adaptive Card rendering tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Debian's Alertmanager: the peer the benchmarks compare against (bench/alertmanager.py starts its
# own on loopback with its own config; a packaged service, if any, is left alone).
alertmanager:
	@command -v prometheus-alertmanager >/dev/null 2>&1 || command -v alertmanager >/dev/null 2>&1 || { \
	  echo "installing Debian's prometheus-alertmanager for the Alertmanager comparisons (bench)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq prometheus-alertmanager >/dev/null; }

demo: setup
	$(VENV)/bin/vmss-responder demo

test: setup chromium alertmanager
	$(PY) -m pytest -q -p no:cacheprovider

lint: setup
	$(VENV)/bin/ruff check .

bench: setup alertmanager
	$(VENV)/bin/vmss-responder bench

clean:
	rm -rf $(VENV) node_modules .pytest_cache
