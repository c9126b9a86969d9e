"""Shared fixtures: one run of each tutorial page, one strict build per session,
and the slow fresh-interpreter runs started in the background as soon as tests
are collected, so that on two cores they overlap with the in-process tests."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from hooks.cache import RERUN_ENV
from hooks.tutorials import (
    ROOT,
    forget_tutorial_modules,
    is_tutorial,
    page_as_script,
    run_page,
)

MKDOCS = Path(sys.executable).with_name("mkdocs")
DOCS = ROOT / "docs"
TUTORIAL_PAGES = sorted(p for p in DOCS.glob("[0-9][0-9]_*.md") if is_tutorial(p))


def stem_of(page: Path) -> str:
    """docs/05_autoencoders.md -> autoencoders"""
    return page.stem.split("_", 1)[1]


TUTORIAL_STEMS = [stem_of(p) for p in TUTORIAL_PAGES]


def page_file(stem: str) -> Path:
    """docs/NN_<stem>.md for a tutorial stem."""
    matches = sorted(DOCS.glob(f"[0-9][0-9]_{stem}.md"))
    assert matches, f"no page docs/NN_{stem}.md"
    return matches[0]


@pytest.fixture(scope="session")
def page_run():
    """page_run(stem) -> the PageRun the build makes for docs/NN_<stem>.md."""
    runs = {}

    def get(stem: str):
        if stem not in runs:
            runs[stem] = run_page(page_file(stem))
        return runs[stem]

    return get


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
    # --8<-- [end:story]
"""
SECOND = """\
def main():
    # --8<-- [start:story]
    print("no helper here")
    # --8<-- [end:story]
"""
# The cache asks the tutorials where their data lives, as the real data_paths does.
DATA_MODULE = """\
import os
from pathlib import Path

def data_path(path=None):
    shipped = Path(__file__).with_name("data.csv")
    return Path(path or os.environ.get("GBM_DATA") or shipped)
"""


def fence(module, section):
    return f'```python\n--8<-- "tutorial_code/{module}.py:{section}"\n```\n'


@pytest.fixture
def tiny_project(tmp_path, monkeypatch):
    """A throwaway project (two pages, three small modules, no torch) whose
    tutorial_code shadows the real one for the test."""
    (tmp_path / "tutorial_code").mkdir()
    (tmp_path / "docs").mkdir()
    (tmp_path / "hooks").mkdir()
    files = {
        "tutorial_code/__init__.py": "",
        "tutorial_code/helper.py": HELPER,
        "tutorial_code/first.py": FIRST,
        "tutorial_code/second.py": SECOND,
        "tutorial_code/data_paths.py": DATA_MODULE,
        "tutorial_code/data.csv": "a,b\n1,2\n",
        "requirements.txt": "torch==2.13.0\n",
        "hooks/tutorials.py": (ROOT / "hooks" / "tutorials.py").read_text(),
        "docs/01_first.md": "# First\n\nSome prose.\n\n"
        + fence("first", "imports")
        + fence("first", "story"),
        "docs/02_second.md": "# Second\n\n" + fence("second", "story"),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    monkeypatch.delenv(RERUN_ENV, raising=False)
    monkeypatch.delenv("GBM_DATA", raising=False)
    saved = {n: m for n, m in sys.modules.items() if n.split(".")[0] == "tutorial_code"}
    forget_tutorial_modules()
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    forget_tutorial_modules()
    sys.modules.update(saved)


# ------------------------------------------------------------------ background jobs


class Job:
    """A subprocess started now and awaited later, its output kept in files."""

    def __init__(self, args, cwd=ROOT, env=None, stdin_text=None):
        self.dir = Path(tempfile.mkdtemp(prefix="job-"))
        self.out = open(self.dir / "stdout", "w+")  # noqa: SIM115 (closed in result)
        self.err = open(self.dir / "stderr", "w+")  # noqa: SIM115
        self.args = [str(a) for a in args]
        self.proc = subprocess.Popen(
            self.args,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
            stdout=self.out,
            stderr=self.err,
            text=True,
        )
        if stdin_text is not None:
            self.proc.stdin.write(stdin_text)
            self.proc.stdin.close()
        self._result = None

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


def build_site(project: Path, site_dir: Path, rerun: bool = False) -> Job:
    """Start `mkdocs build --strict` of a project; rerun=True ignores the cache."""
    env = {"NO_MKDOCS_2_WARNING": "1", "TUTORIALS_RERUN": "1" if rerun else "0"}
    return Job([MKDOCS, "build", "--strict", "--site-dir", site_dir], project, env)


# Figures are recorded, not shown, exactly as the build does it.
FIGURE_CAPTURE = """\
import atexit, json, sys
from hooks.tutorials import captured_figures
_figures = []
_capture = captured_figures(_figures)  # keep a reference: collecting it would undo it
_capture.__enter__()
def _save():
    with open(sys.argv[1], "w") as f:
        json.dump(_figures, f)
atexit.register(_save)
"""


def page_script_job(page: Path, figures_file: Path) -> Job:
    """The page's code, in page order, fed to a fresh interpreter in the repo root."""
    script = FIGURE_CAPTURE + page_as_script(page.read_text())
    return Job([sys.executable, "-W", "error", "-", figures_file], stdin_text=script)


NOTEBOOK_RUNNER = Path(__file__).with_name("run_notebook.py")


def notebook_job(page: Path, workdir: Path) -> Job:
    """The page's generated notebook, executed top to bottom in a fresh kernel."""
    return Job([sys.executable, NOTEBOOK_RUNNER, page, workdir])


_jobs: dict = {}


def _wanted(items, fixture: str) -> bool:
    return any(fixture in getattr(item, "fixturenames", ()) for item in items)


def pytest_collection_finish(session):
    """Start the slow, independent runs the collected tests will need."""
    items = session.items
    work = Path(tempfile.mkdtemp(prefix="omics-tests-"))
    if _wanted(items, "built_site"):
        _jobs["site"] = (work / "site", build_site(ROOT, work / "site", rerun=True))
    if _wanted(items, "page_as_shown"):
        for page in TUTORIAL_PAGES:
            figures = work / f"{page.stem}-figures.json"
            _jobs[("script", stem_of(page))] = (figures, page_script_job(page, figures))
    if _wanted(items, "executed_notebook"):
        for page in TUTORIAL_PAGES:
            out = work / "notebooks"
            _jobs[("notebook", stem_of(page))] = (out, notebook_job(page, out))


def _job(key, start):
    if key not in _jobs:  # e.g. a single test run by node id: start it now
        _jobs[key] = start()
    return _jobs[key]


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    """The site built once with `mkdocs build --strict` and a real run of every
    tutorial: (site dir, CompletedProcess)."""

    def start():
        site = tmp_path_factory.mktemp("built") / "site"
        return site, build_site(ROOT, site, rerun=True)

    site, job = _job("site", start)
    return site, job.result()


@pytest.fixture(scope="session")
def page_as_shown(tmp_path_factory):
    """page_as_shown(stem) -> (CompletedProcess, figures) of the page's code run as
    one script by a fresh interpreter from the repo root."""

    def get(stem):
        def start():
            figures = tmp_path_factory.mktemp("script") / "figures.json"
            return figures, page_script_job(page_file(stem), figures)

        figures_file, job = _job(("script", stem), start)
        result = job.result()
        if result.returncode != 0:
            return result, None
        return result, json.loads(figures_file.read_text())

    return get


@pytest.fixture(scope="session")
def executed_notebook(tmp_path_factory):
    """executed_notebook(stem) -> (CompletedProcess, executed notebook path)."""

    def get(stem):
        def start():
            out = tmp_path_factory.mktemp("notebooks")
            return out, notebook_job(page_file(stem), out)

        out, job = _job(("notebook", stem), start)
        return job.result(), out / f"{page_file(stem).stem}.ipynb"

    return get


def pytest_sessionfinish(session):
    for value in _jobs.values():
        job = value[1]
        if job.proc.poll() is None:
            job.proc.kill()
