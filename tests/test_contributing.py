"""The contributor's path: `make new-tutorial` gives a page, module and test that
build and pass unchanged; bad names are refused; CONTRIBUTING.md names only
commands and files that exist."""

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TUTORIAL_PAGES, TUTORIAL_STEMS, Job, build_site
from mkdocs.utils.yaml import yaml_load

from hooks.tutorials import ROOT
from tools import new_tutorial

NAME = "expression_tour"
NEXT = new_tutorial.next_number(ROOT)  # the NN the new page gets
BIN = Path(sys.executable).parent
CONTRIBUTING = (ROOT / "CONTRIBUTING.md").read_text()
README = (ROOT / "README.md").read_text()


def copy_of_repo(destination: Path) -> Path:
    """The working tree without the environment, site and git, but with .cache:
    the existing tutorials' cached runs are reused, only the new one runs."""
    ignore = shutil.ignore_patterns(
        ".venv",
        "site",
        ".git",
        "screenshots",
        "__pycache__",
        ".pytest_cache",
        ".ruff_cache",
    )
    shutil.copytree(ROOT, destination, ignore=ignore)
    return destination


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory, page_run):
    """A copy of the repo after `new_tutorial.py NAME`; its strict build and the
    new test file's run are started together (two cores). The copy takes the
    session's cached runs along, so only the new page runs."""
    for stem in TUTORIAL_STEMS:
        page_run(stem)  # saved in .cache/, which the copy takes along
    project = copy_of_repo(tmp_path_factory.mktemp("scaffold") / "repo")
    made = subprocess.run(
        [sys.executable, "tools/new_tutorial.py", NAME],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    build = build_site(project, project / "site")
    tests = Job(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        + [f"tests/test_{NAME}.py"],
        cwd=project,
    )
    return project, made, build, tests


def test_new_tutorial_builds_strict_unchanged(scaffolded):
    project, _, build, _ = scaffolded
    result = build.result()
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    page = next((project / "docs").glob(f"[0-9][0-9]_{NAME}.md")).stem
    built = (project / "site" / page / "index.html").read_text()
    assert 'class="plotly-figure"' in built
    assert "non-smoker" in built  # the printed counts
    assert (project / "site" / "notebooks" / page / f"{page}.ipynb").exists()
    for existing in TUTORIAL_PAGES:  # only the new page ran: the footers say so
        built = (project / "site" / existing.stem / "index.html").read_text()
        assert "(reused from the execution cache)" in built, existing.name


def test_new_tutorials_own_tests_pass_unchanged(scaffolded):
    _, _, _, tests = scaffolded
    result = tests.result()
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"\b4 passed\b", result.stdout), result.stdout


def test_new_tutorial_follows_the_house_rules(scaffolded):
    project, made, _, _ = scaffolded
    page = next((project / "docs").glob(f"[0-9][0-9]_{NAME}.md"))
    module = project / "tutorial_code" / f"{NAME}.py"
    test = project / "tests" / f"test_{NAME}.py"
    assert page.name == f"{NEXT}_{NAME}.md"  # the next free number
    assert str(page.relative_to(project)) in made.stdout
    text = page.read_text()
    fences = re.findall(r"```python\n(.*?)\n```", text, re.DOTALL)
    assert fences[0] == f'--8<-- "tutorial_code/{NAME}.py:imports"'
    assert all(re.fullmatch(r'--8<-- "tutorial_code/\w+\.py:\w+"', f) for f in fences)
    for claim in re.findall(r"<!--\s*claim:\s*(\w+)\s*-->", text):
        assert f"def test_claim_{claim}(" in test.read_text()
    code = module.read_text()
    tree = ast.parse(code)
    main = next(n for n in tree.body if getattr(n, "name", "") == "main")
    shows = [
        n.lineno
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "show"
    ]
    assert shows and all(main.lineno < line <= main.end_lineno for line in shows)
    assert code.rstrip().endswith("run_as_script(main)")
    code_files = [str(module), str(test)]
    for check in (
        [BIN / "ruff", "check", *code_files],
        [BIN / "ruff", "format", "--check", *code_files],
        [BIN / "codespell", str(page), *code_files],
    ):
        result = subprocess.run(check, cwd=project, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------ the scaffold, in-process


@pytest.fixture
def skeleton(tmp_path):
    """Just the files the scaffold reads: mkdocs.yml and the names in docs/,
    tutorial_code/ and tests/."""
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    for folder, pattern in (
        ("docs", "*.md"),
        ("tutorial_code", "*.py"),
        ("tests", "test_*.py"),
    ):
        (tmp_path / folder).mkdir()
        for path in (ROOT / folder).glob(pattern):
            (tmp_path / folder / path.name).write_text("")
    (tmp_path / "tutorial_code" / "data").mkdir()
    return tmp_path


def snapshot(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_nav_gets_the_page_after_the_last_tutorial_and_nothing_else(skeleton):
    before = yaml_load((skeleton / "mkdocs.yml").read_text())["nav"]
    assert (
        new_tutorial.main(
            [NAME, "--title", "A tour: one gene", "--root", str(skeleton)]
        )
        == 0
    )
    nav = yaml_load((skeleton / "mkdocs.yml").read_text())["nav"]
    last = max(i for i, e in enumerate(before) if re.match(r"\d\d_", *e.values()))
    assert nav == [*before[: last + 1], {"A tour: one gene": f"{NEXT}_{NAME}.md"}] + [
        *before[last + 1 :]
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "expression tour",
            "contains spaces; use lowercase words joined by underscores",
        ),
        ("ExpressionTour", "has capitals; names are lowercase: expressiontour"),
        ("2nd_tour", "is not a module name"),
        ("expression-tour", "is not a module name"),
        ("class", "is a Python keyword"),
        ("classifier", "already exists (docs/04_classifier.md"),
        ("make_synthetic_gbm", "already exists (tutorial_code/make_synthetic_gbm.py"),
        ("data", "already exists (tutorial_code/data"),
        ("", "give the tutorial a name: make new-tutorial NAME=my_topic"),
    ],
)
def test_bad_names_are_refused_and_create_nothing(skeleton, capsys, name, message):
    before = snapshot(skeleton)
    assert new_tutorial.main([name, "--root", str(skeleton)]) != 0
    assert message in capsys.readouterr().err
    assert snapshot(skeleton) == before


def test_make_new_tutorial_runs_the_scaffold():
    dry_run = subprocess.run(
        ["make", "-n", "new-tutorial", f"NAME={NAME}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert dry_run.returncode == 0, dry_run.stderr
    assert f"tools/new_tutorial.py {NAME}" in dry_run.stdout.replace('"', "")


# ------------------------------------------------------------ CONTRIBUTING.md


def make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text()
    return set(re.findall(r"^([\w-]+):", makefile, re.MULTILINE))


def test_readme_links_the_contributor_guide():
    assert "](CONTRIBUTING.md)" in README


def test_guides_name_only_make_targets_that_exist():
    for text in (CONTRIBUTING, README):
        used = set(re.findall(r"\bmake ([a-z][\w-]*)", text))
        assert used, "no make command found"
        assert used <= make_targets(), used - make_targets()


def test_guide_names_only_files_that_exist():
    """Paths in backticks: real ones must exist (patterns like <stem> are skipped)."""
    named = re.findall(
        r"`((?:docs|tutorial_code|tests|hooks|tools|\.github)/[^`\s]*)`", CONTRIBUTING
    )
    named += re.findall(r"`([\w.-]+\.(?:md|yml|toml|txt|yaml))`", CONTRIBUTING)
    concrete = [p for p in named if not re.search(r"[<>*]|NN", p)]
    assert concrete, "the guide names no files"
    missing = [p for p in concrete if not (ROOT / p.split(":")[0]).exists()]
    assert not missing, missing


def test_guide_walks_through_every_contributors_path():
    headings = " / ".join(re.findall(r"^#+ (.+)$", CONTRIBUTING, re.MULTILINE)).lower()
    for topic in ("typo", "code", "figure", "new tutorial", "preview", "ci"):
        assert topic in headings, f"no section about {topic!r}: {headings}"
    assert ".venv/bin/python -m pytest tests/test_" in CONTRIBUTING
    assert "make new-tutorial NAME=" in CONTRIBUTING
