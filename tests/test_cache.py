"""The execution cache, as a contributor sees it: a page's run is reused until
one of its inputs changes. Reuse is measured as "no page ran": the tiny
project's pages (conftest.py) write a line to runs.txt each time they run.

Builds run in this process (TUTORIALS_WORKERS=0): each case costs milliseconds.
"""

import os

import pytest
from conftest import HELPER, fence, runs_of

from hooks.engine import CACHE_DIR, Build
from hooks.tutorials import ROOT, TutorialError


@pytest.fixture
def project(tiny_project, monkeypatch):
    monkeypatch.setenv("TUTORIALS_WORKERS", "0")
    return tiny_project


def build(project) -> dict[str, str]:
    """What each page printed in a build of the project."""
    pages = sorted((project / "docs").glob("0*.md"))
    jobs = Build(project, pages)
    return {page.stem: jobs.result(page).run.stdout for page in pages}


def ran(project, before: list[str]) -> list[str]:
    """The pages whose code ran since `before` was read."""
    return sorted(runs_of(project)[len(before) :])


def append(path, text):
    path.write_text(path.read_text() + text)


def rebuild_after(project, change) -> list[str]:
    """Build, make a change, build again: the pages that ran the second time."""
    build(project)
    before = runs_of(project)
    change()
    build(project)
    return ran(project, before)


def test_a_second_build_runs_nothing_and_shows_the_same(project):
    first = build(project)
    assert sorted(runs_of(project)) == ["first", "second"]
    assert build(project) == first
    assert len(runs_of(project)) == 2


def test_editing_page_prose_runs_nothing(project):
    page = project / "docs/01_first.md"
    assert rebuild_after(project, lambda: append(page, "\nMore prose.\n")) == []


def test_showing_another_section_runs_that_page(project):
    page = project / "docs/01_first.md"
    change = lambda: append(page, fence("helper", "helper"))  # noqa: E731
    assert rebuild_after(project, change) == ["first"]


def test_editing_a_module_runs_only_the_pages_that_import_it(project):
    helper = project / "tutorial_code/helper.py"
    change = lambda: helper.write_text(HELPER.replace("2 * x", "x + x"))  # noqa: E731
    assert rebuild_after(project, change) == ["first"]


def test_imports_are_followed_through_the_import_graph(project):
    (project / "tutorial_code/deeper.py").write_text("nothing = None\n")
    chain = "from tutorial_code.deeper import nothing  # noqa\n"
    (project / "tutorial_code/helper.py").write_text(chain + HELPER)
    deeper = project / "tutorial_code/deeper.py"
    change = lambda: append(deeper, "# two imports away\n")  # noqa: E731
    assert rebuild_after(project, change) == ["first"]


@pytest.mark.parametrize("changed", ["tutorial_code/data.csv", "requirements.txt"])
def test_changing_the_data_or_the_requirements_runs_every_page(project, changed):
    change = lambda: append(project / changed, "3,4\n")  # noqa: E731
    assert rebuild_after(project, change) == ["first", "second"]


def test_tutorials_rerun_runs_every_page(project, monkeypatch):
    change = lambda: monkeypatch.setenv("TUTORIALS_RERUN", "1")  # noqa: E731
    assert rebuild_after(project, change) == ["first", "second"]


@pytest.mark.parametrize("variable", ["GBM_DATA", "GBM_GENES"])
def test_switching_data_or_genes_back_runs_nothing(project, monkeypatch, variable):
    other = project / "real.csv"
    other.write_text("x\n1\n2\n")
    value = str(other) if variable == "GBM_DATA" else "A,C"
    shipped = build(project)
    monkeypatch.setenv(variable, value)
    changed = build(project)
    before = runs_of(project)
    monkeypatch.delenv(variable)
    assert build(project) == shipped
    monkeypatch.setenv(variable, value)
    assert build(project) == changed
    assert ran(project, before) == []


def test_a_damaged_cache_is_rebuilt_never_served(project):
    first = build(project)
    for number, entry in enumerate(sorted((project / CACHE_DIR).iterdir())):
        text = entry.read_text()
        entry.write_text(text[: len(text) // 2] if number % 2 else "not json")
    before = runs_of(project)
    assert build(project) == first
    assert ran(project, before) == ["first", "second"]
    assert build(project) == first and len(runs_of(project)) == len(before) + 2


@pytest.mark.parametrize("where", ["missing", "directory"])
def test_data_that_cannot_be_read_stops_in_the_tutorials_code(
    project, monkeypatch, where
):
    """It still gets a key: the page runs, and the tutorials' loader explains."""
    path = project / "nowhere.csv" if where == "missing" else project / "docs"
    monkeypatch.setenv("GBM_DATA", str(path))
    with pytest.raises(TutorialError, match="second.py:7"):
        build(project)


def test_a_checks_expression_is_part_of_the_key_and_the_prose_around_it_is_not(
    project,
):
    page = project / "docs/01_first.md"
    append(
        page,
        "The answer is {{ double(21) }}. Even. <!-- check: double(21) % 2 == 0 -->\n",
    )

    def results():
        job = Build(project, [page]).result(page)
        return [(r.text, r.passed) for r in job.run.results]

    assert results() == [("42", True), ("", True)]
    before = runs_of(project)
    assert results() == [("42", True), ("", True)]  # reused, results and all
    page.write_text(page.read_text().replace("Even.", "An even number."))
    assert results() == [("42", True), ("", True)] and ran(project, before) == []
    page.write_text(page.read_text().replace("% 2 == 0", "% 3 == 0"))
    assert results() == [("42", True), ("", True)] and ran(project, before) == ["first"]
    page.write_text(
        page.read_text().replace("{{ double(21) }}", "{{ double(21):.1f }}")
    )
    assert results() == [("42.0", True), ("", True)]
    assert ran(project, before) == ["first", "first"]


def test_the_cache_folder_is_git_ignored():
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert ".cache/" in ignored
    assert os.fspath(CACHE_DIR).startswith(".cache")
