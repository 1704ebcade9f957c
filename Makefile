# Set-up and everyday commands. `make serve` and `make test` are all a new machine needs.
VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install index serve test bench lint clean-index chromium

install: $(STAMP)

# CPU torch is pinned and installed first: a bare `torch` requirement pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

# Builds the index when it is missing or stale (corpus, model or chunking changed).
index: install
	$(BIN)/rag ingest

serve: index
	$(BIN)/rag serve --host $(HOST) --port $(PORT)

# The web page tests drive Debian's chromium (Playwright's own browser download is not used).
chromium:
	test -x /usr/bin/chromium || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium)

test: install chromium
	$(BIN)/pytest

# The benchmark builds its own seed index in a temporary folder (that build is measured).
bench: install
	$(BIN)/python evals/bench.py

lint: install
	$(BIN)/ruff check rag tests evals
	$(BIN)/ruff format --check rag tests evals

clean-index:
	rm -rf index/gen-* index/.tmp-* index/CURRENT
