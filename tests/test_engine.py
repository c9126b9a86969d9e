"""One build's pages (hooks/engine.py): stale pages run in worker processes,
fresh ones are reused without starting any, and failures say what to do.

Uses the tiny project of conftest.py: no torch, so a worker starts at once.
"""

import html
import os
import subprocess
import sys
import textwrap

import nbformat
import pytest
from conftest import FRONT_MATTER, build_site, fence

from hooks import engine
from hooks.cache import CACHE_DIR
from hooks.engine import Build
from hooks.page_output import bind_results
from hooks.tutorials import ROOT, TutorialError, run_page


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


# ------------------------------------------------------------ results bound to the run

RESULTS = (
    "\nDoubling 21 gives {{ double(21) }}, or {{ double(21) / 100:.0% }} of a "
    "hundred, {{ 'twice'!r }} as much.\n\nThe double of 21 is even. "
    "<!-- check: double(21) % 2 == 0 -->\n"
)
FALSE_CHECK = "Doubling makes 21 odd. <!-- check: double(21) % 2 == 1 --> So it is.\n"


def with_prose(project, prose, page="01_first"):
    """Append prose after the page's last code block."""
    path = project / "docs" / f"{page}.md"
    path.write_text(path.read_text() + prose)
    return path


def notebook_text(site, page="01_first", learner=False):
    suffix = "-learner" if learner else ""
    notebook = nbformat.read(
        site / "notebooks" / page / f"{page}{suffix}.ipynb", as_version=4
    )
    return "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")


def test_fill_ins_show_their_values_on_the_page_and_in_both_notebooks(tiny_project):
    with_prose(tiny_project, RESULTS)
    site = tiny_project / "site"
    result = build_site(tiny_project, site).result()
    assert result.returncode == 0, result.stderr
    shown = "Doubling 21 gives 42, or 42% of a hundred, 'twice' as much."
    page = (site / "01_first" / "index.html").read_text()
    assert html.unescape(shown) in html.unescape(page)
    assert "The double of 21 is even." in page
    assert "{{" not in page and "check:" not in page and "result-not-so" not in page
    for learner in (False, True):
        text = notebook_text(site, learner=learner)
        assert shown in text and "check:" not in text


def test_a_false_check_stops_a_build_on_the_shipped_data_and_is_marked_on_other_data(
    tiny_project,
):
    with_prose(tiny_project, FALSE_CHECK)
    other = tiny_project / "other.csv"
    other.write_text("a\n1\n")
    shipped = build_site(tiny_project, tiny_project / "site-shipped")
    on_other = build_site(
        tiny_project, tiny_project / "site-other", env={"GBM_DATA": str(other)}
    )
    failed = shipped.result()
    assert failed.returncode != 0
    message = failed.stdout + failed.stderr
    assert "docs/01_first.md" in message
    assert '"Doubling makes 21 odd."' in message
    assert "check: double(21) % 2 == 1 is false" in message
    assert "Traceback" not in message, message

    built = on_other.result()
    assert built.returncode == 0, built.stderr
    site = tiny_project / "site-other"
    page = html.unescape((site / "01_first" / "index.html").read_text())
    # Right where the comment was: after its sentence, before the next one.
    assert (
        'Doubling makes 21 odd. <span class="result-not-so" title="check: '
        "double(21) % 2 == 1\">⚠ not so on this build's data</span> So it is"
    ) in page
    assert "is marked <strong>⚠ not so on this build's data</strong>" in page
    assert "01_first.md: marked not so on this build's data: " in built.stderr
    assert '"Doubling makes 21 odd."' in built.stderr
    for learner in (False, True):
        text = notebook_text(site, learner=learner)
        assert "Doubling makes 21 odd. **⚠ not so on this build's data** So it" in text


def test_a_fill_in_or_check_before_the_first_code_block_is_an_error_naming_the_page(
    tiny_project, monkeypatch
):
    monkeypatch.setenv(engine.WORKERS_ENV, "0")
    page = tiny_project / "docs" / "02_second.md"
    page.write_text(
        page.read_text().replace("# Second\n", "# Second\n\nIt has {{ n }} lines.\n")
    )
    build = Build(tiny_project, pages(tiny_project))
    assert build.result(pages(tiny_project)[0]).run.stdout == EXPECTED["01_first"]
    with pytest.raises(TutorialError) as failure:
        build.result(page)
    message = str(failure.value)
    assert "docs/02_second.md:" in message
    assert "the fill-in 'n' comes before the page's first code block" in message


def test_a_page_run_lists_its_checks_and_fill_ins_on_any_data(
    tiny_project, monkeypatch
):
    """What a test needs without MkDocs: run_page on other data, its failed checks."""
    page = with_prose(
        tiny_project,
        "The table has two lines. "
        "<!-- check: len(data_path().read_text().splitlines()) == 2 -->\n"
        "Its first line is {{ data_path().read_text().splitlines()[0]!r }}; its "
        "tenth {{ data_path().read_text().splitlines()[9] }}.\n",
        page="02_second",
    )
    shipped = run_page(page, tiny_project)
    assert [(c.sentence, c.passed) for c in shipped.checks] == [
        ("The table has two lines.", True)
    ]
    first, tenth = shipped.fill_ins
    assert (first.text, first.passed) == ("'a,b'", True)
    assert not tenth.passed and tenth.error == "IndexError: list index out of range"
    assert shipped.not_so == [tenth]

    other = tiny_project / "other.csv"
    other.write_text("x\n1\n2\n")
    monkeypatch.setenv("GBM_DATA", str(other))
    (check,) = run_page(page, tiny_project).checks
    assert (check.page, check.sentence, check.passed) == (
        "docs/02_second.md",
        "The table has two lines.",
        False,
    )
    assert check.expression == "len(data_path().read_text().splitlines()) == 2"


def test_with_execution_off_fill_ins_show_a_placeholder_and_checks_nothing(
    tiny_project, monkeypatch
):
    monkeypatch.setenv(engine.EXECUTE_ENV, "0")
    page = with_prose(tiny_project, RESULTS + FALSE_CHECK)
    run = Build(tiny_project, pages(tiny_project)).result(page).run
    shown = bind_results(page.read_text(), run)
    assert "Doubling 21 gives …, or … of a hundred, … as much." in shown
    assert "check:" not in shown and "result-not-so" not in shown
