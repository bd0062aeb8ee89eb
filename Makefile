# Two entry points (see README): `make dashboard` and `make test`. Both set everything up
# first: a virtual environment with the CPU torch pin, and Debian's chromium (browser
# tests and PNG/SVG chart export).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PORT ?= 8501

.PHONY: setup system-deps dashboard test bench

$(STAMP): pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

system-deps:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q --no-install-recommends chromium; }

setup: $(STAMP) system-deps

dashboard: setup
	$(VENV)/bin/albench-dashboard --server.port $(PORT)

test: setup
	$(PY) -m pytest

bench: setup
	$(PY) -m benchmarks
