"""The execution cache: reuse a page's run until one of its inputs changes.

Runs a tiny project (two pages, three small modules, no torch) so that every
case below costs milliseconds.
"""

import json
import sys
import textwrap

import pytest

from hooks import cache
from hooks.tutorials import ROOT, forget_tutorial_modules

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
def project(tmp_path, monkeypatch):
    """A throwaway project whose tutorial_code shadows the real one for the test."""
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
    monkeypatch.delenv(cache.RERUN_ENV, raising=False)
    monkeypatch.delenv("GBM_DATA", raising=False)
    saved = {n: m for n, m in sys.modules.items() if n.split(".")[0] == "tutorial_code"}
    forget_tutorial_modules()
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    forget_tutorial_modules()
    sys.modules.update(saved)


def run(project, page="01_first"):
    """(reused?, stdout) of one cached run, as a build does it."""
    forget_tutorial_modules()  # as a build does first, so edits are seen
    result, _, reused = cache.cached_run(project / "docs" / f"{page}.md", project)
    return reused, result.stdout


def append(path, text):
    path.write_text(path.read_text() + text)


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


def test_pointing_at_other_data_reruns(project, monkeypatch):
    run(project)
    other = project / "real.csv"
    other.write_text("x\n1\n")
    monkeypatch.setenv("GBM_DATA", str(other))
    assert run(project)[0] is False


def test_changing_requirements_reruns(project):
    run(project)
    append(project / "requirements.txt", "pandas==3.1.1\n")
    assert run(project)[0] is False


def test_environment_variable_forces_a_rerun(project, monkeypatch):
    run(project)
    monkeypatch.setenv(cache.RERUN_ENV, "1")
    assert run(project)[0] is False


def entry(project):
    return project / cache.CACHE_DIR / "01_first.json"


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
    path = entry(project)
    path.write_text(damage(path.read_text()))
    assert run(project) == (False, "double of 21 is 42\n")
    assert run(project)[0] is True  # and the rebuilt entry is good again


def test_entries_are_written_atomically(project):
    run(project)
    leftovers = list((project / cache.CACHE_DIR).glob("*.tmp"))
    assert not leftovers
    assert json.loads(entry(project).read_text())["body"]["key"]


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
    with pytest.raises(Exception, match="broken"):
        run(project, "02_second")
    assert not (project / cache.CACHE_DIR / "02_second.json").exists()
