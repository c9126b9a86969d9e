# Two commands on a fresh machine:  make serve   and   make test
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
export NO_MKDOCS_2_WARNING := 1

.PHONY: install serve build test clean

## install: create .venv and install the pinned requirements (only when they changed)
install: $(VENV)/.installed
$(VENV)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

## serve: install, then build and serve the site at http://127.0.0.1:8000
serve: install
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

## build: install, then build the site into site/ (strict: any warning fails)
build: install
	$(BIN)/mkdocs build --strict

## test: install, then run every test
test: install
	$(BIN)/python -m pytest

clean:
	rm -rf site .pytest_cache
