# Two commands on a fresh machine:  make serve   and   make test
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
export NO_MKDOCS_2_WARNING := 1

.PHONY: install install-lab install-test chromium serve build test lab lint format new-tutorial screenshots bench clean

## install: create .venv and install what building and serving the site needs (requirements.txt; again when it changes)
install: $(VENV)/.installed
# npm installs the partial plotly.js bundle that package-lock.json pins (the build
# copies it into the site); without npm the site serves plotly's full bundle.
$(VENV)/.installed: requirements.txt package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the site will serve the full plotly.js (1.4 MB gzipped)."; \
	     echo "Install Node.js with npm, then run 'npm ci' here, for the light bundle."; fi
	touch $@

## install-lab: install and add JupyterLab (requirements-lab.txt)
install-lab: $(VENV)/.installed-lab
$(VENV)/.installed-lab: requirements-lab.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -r requirements-lab.txt
	touch $@

## install-test: install and add what the tests need: pytest, JupyterLab, ProperDocs, the linters (requirements-test.txt)
install-test: $(VENV)/.installed-test
$(VENV)/.installed-test: requirements-test.txt requirements-lab.txt requirements-properdocs.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
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

## test: install everything the tests need, then run every test (tutorials, build, links, lint, browser: all CI runs)
test: install-test chromium
	$(BIN)/python -m pytest

## lab: build the site (its notebooks come from the runs the build reuses or makes), copy every tutorial's full and learner notebook into notebooks/, and open them in JupyterLab (offline)
lab: install-lab build
	mkdir -p notebooks
	cp site/notebooks/*/*.ipynb notebooks/
	$(BIN)/jupyter lab --config=tools/jupyter_lab_config.py --ServerApp.root_dir=notebooks

## lint: ruff (lint and format check) and codespell; the same as tests/test_lint.py and pre-commit
lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/codespell

## format: let ruff fix what it can and format the code
format: install-test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## new-tutorial: start a tutorial page, module, test and nav entry: make new-tutorial NAME=my_topic [TITLE="My topic"]
new-tutorial: install
	$(BIN)/python tools/new_tutorial.py "$(NAME)" $(if $(TITLE),--title "$(TITLE)")

## screenshots: build, then save full-page PNGs of every page (light, dark, phone) in screenshots/
screenshots: build install-test
	$(BIN)/python tests/browser.py screenshots site screenshots

## bench: page weight and build-time benchmarks (targets are checked there, not in tests)
bench: build install-test
	status=0; \
	$(BIN)/python benchmarks/page_weight.py site || status=1; \
	$(BIN)/python benchmarks/build_times.py || status=1; \
	exit $$status

## clean: remove the built site, the lab's notebooks and caches (the execution cache is safe to delete)
clean:
	rm -rf site notebooks .pytest_cache .cache
