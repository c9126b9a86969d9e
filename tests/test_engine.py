"""One build's pages (hooks/engine.py): stale pages run in worker processes,
fresh ones are reused without starting any, and failures say what to do.

Uses the tiny project of conftest.py: no torch, so a worker starts at once.
"""

import textwrap

import pytest
from conftest import fence

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
        "# Second\n\n" + fence("second", "story")
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
        assert (cold._pool is not None) == (workers != "0")
    finally:
        cold.close()
    assert len(list((tiny_project / CACHE_DIR).glob("*.json"))) == 2
    warm = Build(tiny_project, pages(tiny_project))
    assert warm._pool is None
    assert stdout_of(warm) == EXPECTED
    assert all(job.reused for job in warm.jobs.values())


def test_execution_off_runs_nothing(tiny_project, monkeypatch):
    monkeypatch.setenv(engine.EXECUTE_ENV, "0")
    build = Build(tiny_project, pages(tiny_project))
    assert build._pool is None
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
