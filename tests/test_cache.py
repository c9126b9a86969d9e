"""The execution cache: reuse a page's run until one of its inputs changes.

Runs the tiny project of conftest.py (two pages, four small modules, no
torch) so that every case below costs milliseconds.
"""

import json
import os
import textwrap

import pytest
from conftest import HELPER, fence

from hooks import cache
from hooks.engine import Build
from hooks.tutorials import ROOT, forget_tutorial_modules


@pytest.fixture
def project(tiny_project):
    return tiny_project


def run(project, page="01_first"):
    """(reused?, stdout) of one cached run, as a build does it."""
    forget_tutorial_modules()  # as a build does first, so edits are seen
    result, _, reused = cache.cached_run(project / "docs" / f"{page}.md", project)
    return reused, result.stdout


def append(path, text):
    path.write_text(path.read_text() + text)


def entries(project, page="01_first"):
    return sorted((project / cache.CACHE_DIR).glob(f"{page}-*.json"))


def test_first_run_executes_and_second_is_a_hit(project):
    assert run(project) == (False, "double of 21 is 42\n")
    assert run(project) == (True, "double of 21 is 42\n")


def test_editing_page_prose_runs_nothing(project):
    run(project)
    append(project / "docs/01_first.md", "\nMore prose, no new code.\n")
    assert run(project)[0] is True


def test_showing_another_section_reruns(project):
    run(project)
    page = project / "docs/01_first.md"
    page.write_text(page.read_text() + fence("helper", "helper"))
    assert run(project)[0] is False


def test_editing_the_tutorial_module_reruns(project):
    run(project)
    append(project / "tutorial_code/first.py", "\n# a comment is an edit too\n")
    assert run(project)[0] is False


def test_editing_an_imported_helper_reruns_only_the_pages_that_import_it(project):
    run(project, "01_first"), run(project, "02_second")
    (project / "tutorial_code/helper.py").write_text(HELPER.replace("2 * x", "x + x"))
    assert run(project, "01_first")[0] is False
    assert run(project, "02_second")[0] is True


def test_imports_are_followed_through_the_import_graph(project):
    chain = "from tutorial_code.deeper import nothing  # noqa\n"
    (project / "tutorial_code/deeper.py").write_text("nothing = None\n")
    (project / "tutorial_code/helper.py").write_text(chain + HELPER)
    run(project)
    append(project / "tutorial_code/deeper.py", "# changed two imports away\n")
    assert run(project)[0] is False


def test_changing_the_data_reruns(project):
    run(project)
    append(project / "tutorial_code/data.csv", "3,4\n")
    assert run(project)[0] is False


def test_changing_requirements_reruns(project):
    run(project)
    append(project / "requirements.txt", "pandas==3.1.1\n")
    assert run(project)[0] is False


def test_environment_variable_forces_a_rerun(project, monkeypatch):
    run(project)
    monkeypatch.setenv(cache.RERUN_ENV, "1")
    assert run(project)[0] is False


@pytest.mark.parametrize("variable", ["GBM_DATA", "GBM_GENES"])
def test_switching_data_or_genes_back_reuses_the_earlier_run(
    project, monkeypatch, variable
):
    other = project / "real.csv"
    other.write_text("x\n1\n2\n")
    value = str(other) if variable == "GBM_DATA" else "A,C"
    assert run(project, "02_second") == (False, "the data has 2 lines\n")
    monkeypatch.setenv(variable, value)
    assert run(project, "02_second")[0] is False
    monkeypatch.delenv(variable)
    assert run(project, "02_second") == (True, "the data has 2 lines\n")
    monkeypatch.setenv(variable, value)
    assert run(project, "02_second")[0] is True
    assert len(entries(project, "02_second")) == 2


def test_old_entries_are_pruned_least_recently_used_first(project):
    run(project)
    first = entries(project)[0]
    os.utime(first, (1, 1))  # used long ago
    for edit in range(cache.KEEP_PER_PAGE + 1):
        append(project / "tutorial_code/helper.py", f"# edit {edit}\n")
        assert run(project)[0] is False
    assert len(entries(project)) == cache.KEEP_PER_PAGE
    assert first not in entries(project)


@pytest.mark.parametrize("where", ["missing", "directory", "unreadable"])
def test_a_data_path_that_cannot_be_read_still_gets_a_key(project, monkeypatch, where):
    path = {
        "missing": project / "nowhere.csv",
        "directory": project / "docs",
        "unreadable": project / "secret.csv",
    }[where]
    if where == "unreadable":
        if os.geteuid() == 0:
            pytest.skip("root reads any file")
        path.write_text("a\n")
        path.chmod(0)
    monkeypatch.setenv("GBM_DATA", str(path))
    inputs = cache.read_inputs(project)
    assert inputs.data_digest.startswith("<unreadable")
    assert inputs.custom
    # The run itself then fails in the tutorial code, where the loader explains.
    with pytest.raises(Exception, match="second.py:7"):
        run(project, "02_second")


@pytest.mark.parametrize("genes", ["EGFR,,PTEN", "EGFR,EGFR", "EGFR"])
def test_a_malformed_gene_list_still_gets_a_key(monkeypatch, genes):
    """The build goes on to the first page, which stops with the tutorials'
    own message about GBM_GENES (tested in test_site)."""
    monkeypatch.setenv("GBM_GENES", genes)
    inputs = cache.read_inputs(ROOT)
    assert inputs.genes == ("<malformed>",) and inputs.custom
    monkeypatch.delenv("GBM_GENES")
    assert cache.read_inputs(ROOT).digest != inputs.digest


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],  # a partial write
        lambda text: "not json at all",
        lambda text: text.replace("double of 21 is 42", "double of 21 is 41"),  # edited
        lambda text: json.dumps({"body": json.loads(text)["body"]}),  # no checksum
    ],
    ids=["truncated", "garbage", "tampered", "no-checksum"],
)
def test_a_damaged_entry_is_rebuilt_never_served(project, damage):
    run(project)
    (path,) = entries(project)
    path.write_text(damage(path.read_text()))
    assert run(project) == (False, "double of 21 is 42\n")
    assert run(project)[0] is True  # and the rebuilt entry is good again


def test_entries_are_written_atomically(project):
    run(project)
    leftovers = list((project / cache.CACHE_DIR).glob("*.tmp"))
    assert not leftovers
    (path,) = entries(project)
    assert json.loads(path.read_text())["body"]["key"]


def test_cache_key_covers_the_import_closure(project):
    modules = cache.import_closure({project / "tutorial_code/first.py"}, project)
    names = sorted(p.name for p in modules)
    assert names == ["first.py", "helper.py"]


def test_the_cache_folder_is_git_ignored():
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert ".cache/" in ignored


def test_a_tutorial_failure_is_not_cached(project):
    bad = textwrap.dedent(
        """\
        def main():
            # --8<-- [start:story]
            raise ValueError("broken")
            # --8<-- [end:story]
        """
    )
    (project / "tutorial_code/second.py").write_text(bad)
    (project / "docs/02_second.md").write_text(fence("second", "story"))
    with pytest.raises(Exception, match="broken"):
        run(project, "02_second")
    assert not entries(project, "02_second")


# ------------------------------------------------------------ fill-ins and checks

COUNTED = """\
def main():
    # --8<-- [start:story]
    with open("runs.txt", "a") as runs:  # one line each time the page runs
        runs.write("ran\\n")
    answer = 42
    # --8<-- [end:story]
"""


def test_a_checks_expression_is_part_of_the_key_and_the_prose_around_it_is_not(
    project, monkeypatch
):
    """Reuse measured as no page ran: the page's code counts its runs."""
    monkeypatch.setenv("TUTORIALS_WORKERS", "0")
    (project / "tutorial_code/counted.py").write_text(COUNTED)
    page = project / "docs/03_counted.md"
    prose = "The answer is {{ answer }}. It is even. <!-- check: answer % 2 == 0 -->\n"
    page.write_text(fence("counted", "story") + prose)

    def build():
        forget_tutorial_modules()
        job = Build(project, [page]).result(page)
        runs = (project / "runs.txt").read_text().count("ran")
        return runs, [(r.text, r.passed) for r in job.run.results]

    assert build() == (1, [("42", True), ("", True)])
    assert build() == (1, [("42", True), ("", True)])  # reused, results and all
    page.write_text(page.read_text().replace("It is even.", "It is an even number."))
    assert build()[0] == 1
    page.write_text(page.read_text().replace("answer % 2 == 0", "answer % 3 == 0"))
    assert build() == (2, [("42", True), ("", True)])
    page.write_text(page.read_text().replace("{{ answer }}", "{{ answer:.1f }}"))
    assert build() == (3, [("42.0", True), ("", True)])
