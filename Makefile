# Two commands on a fresh machine:  make serve   and   make test
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
export NO_MKDOCS_2_WARNING := 1

.PHONY: install chromium serve build test lab lint format new-tutorial screenshots bench clean

## install: create .venv and install the pinned requirements (again when they or this recipe changed)
install: $(VENV)/.installed
# JupyterLab brings rfc3987-syntax, an optional format check of jsonschema that
# nothing here uses. Python 3.11 imports it very slowly at the call depth where
# MkDocs loads mkdocs-jupyter (CPython issue gh-142183): seconds at the start of
# every build and serve. Without it, jsonschema skips that one check.
# npm installs the partial plotly.js bundle that package-lock.json pins (the build
# copies it into the site); without npm the site serves plotly's full bundle.
$(VENV)/.installed: requirements.txt package-lock.json Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip uninstall --quiet --yes rfc3987-syntax
	if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the site will serve the full plotly.js (1.4 MB gzipped)."; \
	     echo "Install Node.js with npm, then run 'npm ci' here, for the light bundle."; fi
	touch $@

## serve: install, then build and serve the site at http://127.0.0.1:8000
serve: install
	SITE_URL=http://127.0.0.1:8000/ $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

## build: install, then build the site into site/ (strict: any warning fails)
build: install
	$(BIN)/mkdocs build --strict

## chromium: the browser tests drive Debian's Chromium; install it when missing (apt, as root)
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "The browser tests need Chromium at /usr/bin/chromium:"; \
	    echo "  sudo apt-get install chromium    (Debian/Ubuntu)"; \
	    exit 1; \
	  fi; }

## test: install, then run every test (tutorials, build, links, lint, browser: all CI runs)
test: install chromium
	$(BIN)/python -m pytest

## lab: install, write every tutorial's full and learner notebook into notebooks/ (from the cached runs, running stale pages), and open them in JupyterLab (offline)
lab: install
	$(BIN)/python -m hooks.engine notebooks notebooks
	$(BIN)/jupyter lab --config=tools/jupyter_lab_config.py --ServerApp.root_dir=notebooks

## lint: ruff (lint and format check) and codespell; the same as tests/test_lint.py and pre-commit
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/codespell

## format: let ruff fix what it can and format the code
format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## new-tutorial: start a tutorial page, module, test and nav entry: make new-tutorial NAME=my_topic [TITLE="My topic"]
new-tutorial: install
	$(BIN)/python tools/new_tutorial.py "$(NAME)" $(if $(TITLE),--title "$(TITLE)")

## screenshots: build, then save full-page PNGs of every page (light, dark, phone) in screenshots/
screenshots: build
	$(BIN)/python tests/browser.py screenshots site screenshots

## bench: page weight and build-time benchmarks (targets are checked there, not in tests)
bench: build
	status=0; \
	$(BIN)/python benchmarks/page_weight.py site || status=1; \
	$(BIN)/python benchmarks/build_times.py || status=1; \
	exit $$status

## clean: remove the built site, the lab's notebooks and caches (the execution cache is safe to delete)
clean:
	rm -rf site notebooks .pytest_cache .cache
