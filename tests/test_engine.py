"""One build's pages (hooks/engine.py): stale pages run in worker processes,
fresh ones are reused without starting any, and failures say what to do.

Uses the tiny project of conftest.py: no torch, so a worker starts at once.
"""

import os
import subprocess
import sys
import textwrap

import nbformat
import pytest
from conftest import FRONT_MATTER, fence

from hooks import engine
from hooks.cache import CACHE_DIR
from hooks.engine import Build
from hooks.tutorials import ROOT, TutorialError


def pages(project):
    return sorted((project / "docs").glob("0*.md"))


def stdout_of(build):
    return {page.stem: build.result(page).run.stdout for page in build.jobs}


def break_second_page(project, body):
    """Make docs/02_second.md run `body` (code) as its only section."""
    code = textwrap.indent(textwrap.dedent(body), " " * 4)
    (project / "docs/02_second.md").write_text(
        FRONT_MATTER + "# Second\n\n" + fence("second", "story")
    )
    (project / "tutorial_code/second.py").write_text(
        "def main():\n    # --8<-- [start:story]\n"
        + code
        + "    # --8<-- [end:story]\n"
    )


EXPECTED = {"01_first": "double of 21 is 42\n", "02_second": "the data has 2 lines\n"}


@pytest.mark.parametrize("workers", ["0", "2"], ids=["in-process", "two-workers"])
def test_stale_pages_run_and_a_warm_build_starts_no_process(
    tiny_project, monkeypatch, workers
):
    monkeypatch.setenv(engine.WORKERS_ENV, workers)
    cold = Build(tiny_project, pages(tiny_project))
    try:
        assert stdout_of(cold) == EXPECTED
        assert bool(cold._threads) == (workers != "0")
    finally:
        cold.close()
    assert len(list((tiny_project / CACHE_DIR).glob("*.json"))) == 2
    warm = Build(tiny_project, pages(tiny_project))
    assert not warm._threads
    assert stdout_of(warm) == EXPECTED
    assert all(job.reused for job in warm.jobs.values())


def test_execution_off_runs_nothing(tiny_project, monkeypatch):
    monkeypatch.setenv(engine.EXECUTE_ENV, "0")
    build = Build(tiny_project, pages(tiny_project))
    assert not build._threads
    assert all(job.run.stdout == "" for job in build.jobs.values())
    assert build.notebook_dir.name == "unexecuted"


def test_a_failing_page_names_module_and_line(tiny_project, monkeypatch):
    monkeypatch.setenv(engine.WORKERS_ENV, "2")
    break_second_page(tiny_project, 'x = 1\nraise ValueError("broken in a worker")\n')
    build = Build(tiny_project, pages(tiny_project))
    try:
        assert build.result(pages(tiny_project)[0]).run.stdout == EXPECTED["01_first"]
        with pytest.raises(TutorialError) as failure:
            build.result(pages(tiny_project)[1])
    finally:
        build.close(cancel=True)
    assert "tutorial_code/second.py:4: ValueError: broken in a worker" in str(
        failure.value
    )


def test_a_crash_in_native_code_is_explained(tiny_project, monkeypatch):
    monkeypatch.setenv(engine.WORKERS_ENV, "1")
    break_second_page(tiny_project, "import os\nos.abort()\n")
    build = Build(tiny_project, pages(tiny_project)[1:])
    try:
        with pytest.raises(TutorialError) as failure:
            build.result(pages(tiny_project)[1])
    finally:
        build.close(cancel=True)
    message = str(failure.value)
    assert "02_second.md" in message and "crash in native code" in message
    assert "TUTORIALS_WORKERS=0" in message


def test_worker_count_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(engine.WORKERS_ENV, "3")
    assert engine.worker_count() == 3
    monkeypatch.setenv(engine.WORKERS_ENV, "two")
    with pytest.raises(TutorialError, match="TUTORIALS_WORKERS='two' is not a number"):
        engine.worker_count()
    monkeypatch.delenv(engine.WORKERS_ENV)
    assert 1 <= engine.worker_count() <= engine.MAX_DEFAULT_WORKERS


def test_workers_preload_the_tutorials_libraries_but_not_their_code():
    preload = engine.third_party_imports(ROOT)
    assert {"torch", "pandas"} <= set(preload)
    assert not [n for n in preload if n.split(".")[0] in ("tutorial_code", "os", "csv")]


def test_the_notebooks_command_writes_both_notebooks_of_each_page_without_mkdocs(
    tiny_project, tmp_path
):
    """`python -m hooks.engine notebooks DIR` (make lab) runs the stale pages in
    worker processes and writes every page's full and learner notebook, with
    MkDocs made impossible to import."""
    blocker = tmp_path / "blocker" / "mkdocs"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('no MkDocs here')\n")
    out = tmp_path / "notebooks"
    result = subprocess.run(
        [sys.executable, "-m", "hooks.engine", "notebooks", out]
        + ["--root", tiny_project],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(blocker.parent), engine.WORKERS_ENV: "2"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "01_first-learner.ipynb",
        "01_first.ipynb",
        "02_second-learner.ipynb",
        "02_second.ipynb",
    ]
    full = nbformat.read(out / "01_first.ipynb", as_version=4)
    outputs = [o for c in full.cells if c.cell_type == "code" for o in c.outputs]
    assert {"text": "double of 21 is 42\n"}.items() <= outputs[0].items()
    assert len(list((tiny_project / CACHE_DIR).glob("*.json"))) == 2  # cached


def test_the_notebooks_command_names_a_page_without_its_frame(tiny_project, tmp_path):
    page = tiny_project / "docs" / "01_first.md"
    page.write_text(page.read_text().split("---\n", 2)[2])
    result = subprocess.run(
        [sys.executable, "-m", "hooks.engine", "notebooks", tmp_path / "out"]
        + ["--root", tiny_project],
        cwd=ROOT,
        env={**os.environ, engine.WORKERS_ENV: "0"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "docs/01_first.md: the front matter lacks teaching" in result.stderr
