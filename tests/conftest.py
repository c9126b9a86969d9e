"""Shared fixtures. Each tutorial's code runs at most twice in a session:

1. in this process, by `page_run(stem)`. The run is saved in the execution
   cache under the key the build computes, so the session's strict builds
   (`built_site` with MkDocs, started once every page has run, and
   `properdocs_site` with ProperDocs, started once that one is done, so that
   it also reuses mkdocs-jupyter's rendered notebooks) reuse it: the site
   publishes exactly the run the claim tests read;
2. as its generated learner notebook (the page without the exercises'
   solutions) in a Jupyter kernel started in a folder inside the repository
   and cleared before each notebook (`executed_notebook`), in the background
   as soon as the tests are collected.

Also started in the background as soon as the tests are collected: the
pages' models on 200 splits (`many_splits`, tests/many_splits.py), and the
pages on generated tables (`fuzzed_tables`, tests/fuzz_pages.py, two
processes, and a strict build of the whole site on the table with few
smokers); and as soon as the strict build is done, Chromium looking at every
page of the site (`seen`, tests/browser.py). Background jobs run at a lower
priority (see `Job`), and the tests that await them run last.

Tests that need a failing build or other data build a tiny project instead.
"""

import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from hooks.engine import CACHE_DIR, cache_key, read_inputs, save
from hooks.tutorials import (
    ROOT,
    forget_tutorial_modules,
    is_tutorial,
    read_page,
    run_page,
)

# One BLAS and OpenMP thread in this process and in every process the session
# starts (numpy and torch are not loaded yet): the models are tiny, and the two
# cores are already shared by several processes, whose idle library threads
# spun for work and took CPU time from the others.
for threads in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(threads, "1")

MKDOCS = Path(sys.executable).with_name("mkdocs")
PROPERDOCS = Path(sys.executable).with_name("properdocs")
DOCS = ROOT / "docs"
TUTORIAL_PAGES = sorted(p for p in DOCS.glob("[0-9][0-9]_*.md") if is_tutorial(p))


def stem_of(page: Path) -> str:
    """docs/06_autoencoders.md -> autoencoders"""
    return page.stem.split("_", 1)[1]


TUTORIAL_STEMS = [stem_of(p) for p in TUTORIAL_PAGES]


def output_of(run, section: str) -> str:
    """What one section of a page run printed."""
    (cell,) = [c for c in run.cells if c.section.name == section]
    return cell.stdout


def page_file(stem: str) -> Path:
    """docs/NN_<stem>.md for a tutorial stem."""
    matches = sorted(DOCS.glob(f"[0-9][0-9]_{stem}.md"))
    assert matches, f"no page docs/NN_{stem}.md"
    return matches[0]


# ------------------------------------------------------------------ background jobs


class Job:
    """A subprocess started now and awaited later, its output kept in files.

    A background job (awaited by the tests that run last) runs, with every
    process it starts, at nice 5. A run keeps both cores busy, so at equal
    priority the background slowed the page runs in front threefold (the
    build and browser tests wait for them); at nice 19 it starved under other
    load and the tests awaiting it timed out."""

    def __init__(self, args, cwd=ROOT, env=None, stdin_text=None, background=False):
        self.dir = Path(tempfile.mkdtemp(prefix="job-"))
        self.out = open(self.dir / "stdout", "w+")  # noqa: SIM115 (closed in result)
        self.err = open(self.dir / "stderr", "w+")  # noqa: SIM115
        self.args = [str(a) for a in args]
        if background:
            self.args = ["nice", "-n", "5", *self.args]
        self.proc = subprocess.Popen(
            self.args,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL if stdin_text is None else subprocess.PIPE,
            stdout=self.out,
            stderr=self.err,
            text=True,
        )
        if stdin_text is not None:
            self.proc.stdin.write(stdin_text)
            self.proc.stdin.close()
        self._result = None
        _jobs.append(self)

    def result(self, timeout=900) -> subprocess.CompletedProcess:
        if self._result is None:
            code = self.proc.wait(timeout=timeout)
            self.out.seek(0)
            self.err.seek(0)
            self._result = subprocess.CompletedProcess(
                self.args, code, self.out.read(), self.err.read()
            )
            self.out.close()
            self.err.close()
        return self._result


_jobs: list[Job] = []


def build_site(
    project: Path, site_dir: Path, env=None, tool=MKDOCS, background=False
) -> Job:
    """Start `mkdocs build --strict` of a project (or ProperDocs' build)."""
    settings = {"NO_MKDOCS_2_WARNING": "1", "TUTORIALS_RERUN": "0"}
    args = [tool, "build", "--strict", "--site-dir", site_dir]
    return Job(args, project, {**settings, **(env or {})}, background=background)


def runs_of(project: Path) -> list[str]:
    """The pages of the tiny project whose code ran, one line per run."""
    runs = project / "runs.txt"
    return runs.read_text().split() if runs.exists() else []


class Session:
    """What the whole test session shares: the in-process page runs, the
    strict build that reuses them, the learner notebooks run in a kernel."""

    def __init__(self):
        self.work = Path(tempfile.mkdtemp(prefix="omics-tests-"))
        self.runs = {}  # stem -> PageRun (with its namespace)
        self.build_wanted = False
        self.site_job: Job | None = None
        self.properdocs_job: Job | None = None
        self.notebooks_job: Job | None = None
        self.fuzz_job: Job | None = None
        self.fuzz_builds = {}  # table name -> (table, its file, site dir, Job)
        self.many_splits_job: Job | None = None
        self.browser_wanted = self.properdocs_wanted = False
        self.browser_job: Job | None = None
        self.lock = threading.Lock()  # for after_build, in a thread of its own
        self.closing = False

    def page_run(self, stem: str):
        if self.build_wanted and self.site_job is None:
            for page in TUTORIAL_PAGES:  # every page the builds will publish
                self._run_and_save(stem_of(page))
            self.site_job = build_site(ROOT, self.work / "site")
            wanted = (self.browser_wanted, self.properdocs_wanted)
            threading.Thread(target=self.after_build, args=wanted, daemon=True).start()
        return self._run_and_save(stem)

    def _run_and_save(self, stem: str):
        if stem not in self.runs:
            page = read_page(page_file(stem))
            key = cache_key(page, read_inputs(ROOT), ROOT)
            run = run_page(page)
            save(run, page, key, ROOT / CACHE_DIR)
            self.runs[stem] = run
        return self.runs[stem]

    def built_site(self):
        self.build_wanted = True
        if self.site_job is None:
            self.page_run(TUTORIAL_STEMS[0])
        return self.work / "site", self.site_job.result()

    def after_build(self, browser: bool, properdocs: bool):
        """Once the strict build has ended, start in the background what reads
        its site: tests/browser.py looking at it, and ProperDocs' build (which
        reuses the notebook pages mkdocs-jupyter rendered for it)."""
        self.site_job.proc.wait()
        with self.lock:
            if self.closing:
                return
            if browser and self.browser_job is None:
                runner = Path(__file__).with_name("browser.py")
                args = [sys.executable, runner, "look", self.work / "site"]
                args.append(self.work / "seen.json")
                self.browser_job = Job(args, background=True)
            if properdocs and self.properdocs_job is None:
                site = self.work / "site-properdocs"
                job = build_site(ROOT, site, tool=PROPERDOCS, background=True)
                self.properdocs_job = job

    def seen(self):
        site, build = self.built_site()
        assert build.returncode == 0, build.stderr
        self.after_build(browser=True, properdocs=False)
        result = self.browser_job.result()
        assert result.returncode == 0, result.stderr[-4000:]
        return json.loads((self.work / "seen.json").read_text())

    def properdocs_site(self):
        self.built_site()
        self.after_build(browser=False, properdocs=True)
        return self.work / "site-properdocs", self.properdocs_job.result()

    def start_notebooks(self):
        if self.notebooks_job is None:
            runner = Path(__file__).with_name("run_notebook.py")
            out = self.work / "notebooks"
            args = [sys.executable, runner, out, *TUTORIAL_PAGES]
            self.notebooks_job = Job(args, background=True)
        return self.work / "notebooks"

    def start_many_splits(self):
        """tests/many_splits.py: the 200-split results, pickled."""
        if self.many_splits_job is None:
            runner = Path(__file__).with_name("many_splits.py")
            out = self.work / "many_splits.pickle"
            env = {"PYTHONPATH": str(ROOT)}  # tutorial_code, beside tests/
            args = [sys.executable, runner, out]
            self.many_splits_job = Job(args, env=env, background=True)
        return self.work / "many_splits.pickle"

    def start_fuzz(self):
        """tests/fuzz_pages.py on the generated tables (two processes), and a
        strict build of the whole site on each table marked `built`."""
        from gbm_tables import FUZZ_TABLES  # numpy: after the thread settings

        if self.fuzz_job is None:
            runner = Path(__file__).with_name("fuzz_pages.py")
            by_page = [t.name for t in FUZZ_TABLES if not t.built]
            args = [sys.executable, runner, "run", self.work / "fuzz", *by_page]
            self.fuzz_job = Job(args, background=True)
            for table in (t for t in FUZZ_TABLES if t.built):
                path = table.write(self.work)
                site = self.work / f"site-{table.name}"
                job = build_site(ROOT, site, table.env(path), background=True)
                self.fuzz_builds[table.name] = (table, path, site, job)
        return self.work / "fuzz"


_session = Session()


def _wanted(items, fixture: str) -> bool:
    return any(fixture in getattr(item, "fixturenames", ()) for item in items)


def pytest_collection_finish(session):
    """Start the slow, independent work the collected tests will need."""
    _session.browser_wanted = _wanted(session.items, "seen")
    _session.properdocs_wanted = _wanted(session.items, "properdocs_site")
    _session.build_wanted = _wanted(session.items, "built_site") or (
        _session.browser_wanted or _session.properdocs_wanted
    )
    if _wanted(session.items, "executed_notebook"):
        _session.start_notebooks()
    if _wanted(session.items, "many_splits"):
        _session.start_many_splits()
    if _wanted(session.items, "fuzzed_tables"):
        _session.start_fuzz()


BACKGROUND_FIXTURES = (
    "executed_notebook",
    "many_splits",
    "fuzzed_tables",
    "seen",
    "properdocs_site",
)


def place_in_session(item) -> int:
    """Where a test runs: 0 those that read the pages' runs but no built site
    (the first runs every page, then starts the strict builds); 1 those that
    build a tiny project; 2 the rest but the tests of the built site; 3 those,
    the site by then built; 4 those that await a background job (the
    notebooks, the 200 splits, the fuzzed tables and the builds on them, the
    browser's look at the site), whose work goes on meanwhile: until it is
    done, a test in front keeps one core busy while the background uses the
    other."""
    if any(_wanted([item], f) for f in BACKGROUND_FIXTURES):
        return 4
    reads_site = _wanted([item], "built_site") or _wanted([item], "properdocs_site")
    if reads_site:
        return 3
    if _wanted([item], "page_run"):
        return 0
    return 1 if _wanted([item], "tiny_project") else 2


def pytest_collection_modifyitems(items):
    items.sort(key=place_in_session)  # stable: the files' order within a place


def pytest_sessionfinish(session):
    with _session.lock:  # no job starts after this
        _session.closing = True
    for job in _jobs:
        if job.proc.poll() is None:
            job.proc.kill()
            job.proc.wait()
        shutil.rmtree(job.dir, ignore_errors=True)
    shutil.rmtree(_session.work, ignore_errors=True)


@pytest.fixture(scope="session")
def page_run():
    """page_run(stem) -> the PageRun the build publishes for docs/NN_<stem>.md
    (.namespace, .cells, .stdout, .figures)."""
    return _session.page_run


@pytest.fixture(scope="session")
def built_site():
    """The site built once with `mkdocs build --strict`, reusing the runs that
    page_run made: (site dir, CompletedProcess)."""
    return _session.built_site()


@pytest.fixture(scope="session")
def seen():
    """What Chromium showed on every page of the built site (tests/browser.py
    look): {"base", "pages": {url: ...}, "copy", "navigation"}."""
    return _session.seen()


@pytest.fixture(scope="session")
def properdocs_site():
    """The same site built with `properdocs build --strict` (the drop-in fork
    of MkDocs 1.x), beside the MkDocs build: (site dir, CompletedProcess)."""
    return _session.properdocs_site()


@pytest.fixture(scope="session")
def executed_notebook():
    """executed_notebook(stem) -> (CompletedProcess, path of the executed learner
    notebook, or of the error text if that notebook failed)."""

    def get(stem):
        out = _session.start_notebooks()
        result = _session.notebooks_job.result()
        page = page_file(stem)
        failed = out / f"{page.stem}.error.txt"
        return result, failed if failed.exists() else out / f"{page.stem}-learner.ipynb"

    return get


@pytest.fixture(scope="session")
def many_splits():
    """The models of the Evaluation, Autoencoders and VAE pages on 200 splits:
    {"classifiers", "models": results as evaluate_repeatedly lays them out,
    "predictions", "reconstruction", "first_split"} (tests/many_splits.py)."""
    out = _session.start_many_splits()
    result = _session.many_splits_job.result()
    assert result.returncode == 0, result.stderr[-4000:]
    return pickle.loads(out.read_bytes())


@pytest.fixture(scope="session")
def fuzzed_tables():
    """({table name: every page's outcome on it}, the CompletedProcess of
    tests/fuzz_pages.py, for the runner's own failures, {table name: (site
    dir, CompletedProcess)} of the strict builds on the tables marked built)."""
    from fuzz_pages import build_outcomes

    out = _session.start_fuzz()
    process = _session.fuzz_job.result()
    results = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}
    sites = {}
    for name, (table, path, site, job) in _session.fuzz_builds.items():
        sites[name] = site, job.result()
        results[name] = build_outcomes(table, path, sites[name][1])
    return results, process, sites


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Tiny models train much faster on one thread, as the pages set it."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def split():
    """The pages' split of the shipped data: stratified 80/20, seed 81, scaled."""
    from tutorial_code.gbm_data import (
        FEATURES,
        label_smoking_status,
        load_gbm,
        select_features,
        split_and_scale,
    )

    X, y = select_features(label_smoking_status(load_gbm()), FEATURES)
    return split_and_scale(X, y)


# ------------------------------------------------------------------ a tiny project

HELPER = """\
# --8<-- [start:helper]
def double(x):
    return 2 * x
# --8<-- [end:helper]
"""
FIRST = """\
# --8<-- [start:imports]
from tutorial_code.helper import double
# --8<-- [end:imports]

def main():
    # --8<-- [start:story]
    print("double of 21 is", double(21))
    with open("runs.txt", "a") as runs:  # a line each time the page runs
        runs.write("first\\n")
    # --8<-- [end:story]
"""
SECOND = """\
# --8<-- [start:imports]
from tutorial_code.data_paths import data_path
# --8<-- [end:imports]

def main():
    # --8<-- [start:story]
    print("the data has", len(data_path().read_text().splitlines()), "lines")
    with open("runs.txt", "a") as runs:  # a line each time the page runs
        runs.write("second\\n")
    # --8<-- [end:story]
"""
# The same rules as the real tutorial_code/data_paths.py, in small.
DATA_MODULE = """\
import os
from pathlib import Path

SHIPPED = Path(__file__).with_name("data.csv")

def data_path(path=None):
    return Path(path or os.environ.get("GBM_DATA") or SHIPPED)

def genes_setting():
    genes = [g for g in os.environ.get("GBM_GENES", "").split(",") if g]
    return genes or None

def feature_genes():
    return genes_setting() or ["A", "B"]

def custom_inputs():
    custom = {}
    if data_path().resolve() != SHIPPED.resolve():
        custom["data"] = str(data_path())
    if genes_setting():
        custom["genes"] = ", ".join(feature_genes())
    return custom or None
"""
TINY_CONFIG = f"""\
site_name: Tiny
site_url: https://tiny.example/docs/
repo_url: https://tiny.example/repo
edit_uri: edit/main/docs/
strict: true
nav:
  - Home: index.md
  - First: 01_first.md
  - Second: 02_second.md
  - Schedule: schedule.md
validation:
  omitted_files: warn
  unrecognized_links: warn
  anchors: warn
theme:
  name: material
hooks:
  - {ROOT / "hooks" / "site_hooks.py"}
markdown_extensions:
  - admonition
  - attr_list
  - md_in_html
  - pymdownx.superfences
  - pymdownx.snippets:
      base_path: ["."]
      check_paths: true
"""

# mkdocs-jupyter as the site uses it: it renders each full notebook as a page
# and puts the .ipynb beside it (site/notebooks/<page>/<page>.ipynb). Only the
# tests that read the published notebooks add it: importing it is half of a
# tiny build's CPU time (0.8 of 1.7 s), and most tiny builds are about the
# pages' runs and the build's messages.
NOTEBOOK_PAGES = """\
plugins:
  - mkdocs-jupyter:
      include: ["*.ipynb"]
      ignore: ["*.md", "*-learner.ipynb"]
      execute: false
      ignore_h1_titles: true
      include_source: true
"""


def with_notebook_pages(project: Path) -> Path:
    """Add mkdocs-jupyter to a tiny project's configuration."""
    config = project / "mkdocs.yml"
    config.write_text(config.read_text() + NOTEBOOK_PAGES)
    return project


def fence(module, section):
    return f'```python\n--8<-- "tutorial_code/{module}.py:{section}"\n```\n'


# The frame every tutorial page's front matter gives (hooks/tutorials.py).
FRONT_MATTER = """\
---
teaching: 10
exercises: 5
questions:
  - "What does the code print?"
objectives:
  - "Run a page"
keypoints:
  - "Pages run"
---
"""


@pytest.fixture
def tiny_project(tmp_path, monkeypatch):
    """A throwaway project (two pages, four small modules, no torch) whose
    tutorial_code shadows the real one for the test; it builds with the real
    hooks (`build_site(tiny_project, ...)`)."""
    for folder in ("tutorial_code", "docs"):
        (tmp_path / folder).mkdir()
    files = {
        "tutorial_code/__init__.py": "",
        "tutorial_code/helper.py": HELPER,
        "tutorial_code/first.py": FIRST,
        "tutorial_code/second.py": SECOND,
        "tutorial_code/data_paths.py": DATA_MODULE,
        "tutorial_code/data.csv": "a,b\n1,2\n",
        "requirements.txt": "torch==2.13.0\n",
        "mkdocs.yml": TINY_CONFIG,
        "docs/index.md": "# Tiny\n\nA project for the tests.\n",
        "docs/01_first.md": FRONT_MATTER
        + "# First\n\nSome prose.\n\n"
        + fence("first", "imports")
        + fence("first", "story"),
        "docs/02_second.md": FRONT_MATTER
        + "# Second\n\n"
        + fence("second", "imports")
        + fence("second", "story"),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    for name in ("TUTORIALS_RERUN", "GBM_DATA", "GBM_GENES", "TUTORIALS_EXECUTE"):
        monkeypatch.delenv(name, raising=False)
    saved = {n: m for n, m in sys.modules.items() if n.split(".")[0] == "tutorial_code"}
    forget_tutorial_modules()
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    forget_tutorial_modules()
    sys.modules.update(saved)
