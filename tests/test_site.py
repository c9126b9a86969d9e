"""The site as a whole: strict build, code drawn only from tutorial_code, pages that
run as shown, deterministic results, and a build that stops when a tutorial fails."""

import html
import json
import re
import shutil
import subprocess
import sys

import pytest
from conftest import TUTORIAL_STEMS, build_site, page_file

from hooks.tutorials import (
    ROOT,
    Section,
    TutorialError,
    run_cell,
)

DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
PYTHON_FENCE = re.compile(r"^([ \t]*)(`{3,}|~{3,})[ \t]*(py|python|python3|pycon)\b.*$")
CLAIM = re.compile(r"<!--\s*claim:\s*(\w+)\s*-->")


def test_tutorial_pages_exist():
    assert {"gbm_data", "classifier", "autoencoders"} <= set(TUTORIAL_STEMS)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_python_code_on_pages_comes_from_tutorial_code(page):
    """A Python fence may hold only one snippet line naming a tutorial_code section."""
    lines = page.read_text().splitlines()
    for number, line in enumerate(lines):
        opening = PYTHON_FENCE.match(line)
        if not opening:
            continue
        indent, fence = opening[1], opening[2]
        body = []
        for inner in lines[number + 1 :]:
            if inner.strip() == fence:
                break
            body.append(inner)
        assert len(body) == 1 and re.fullmatch(
            rf'{indent}--8<-- "tutorial_code/[\w/]+\.py:[\w.-]+"', body[0]
        ), (
            f"{page.name}:{number + 1}: hand-written Python fence; "
            "draw it from tutorial_code"
        )


def test_every_module_section_shown_exists_and_pairs_by_stem():
    """Page docs/NN_<stem>.md pairs with tutorial_code/<stem>.py and its test."""
    for stem in TUTORIAL_STEMS:
        assert (ROOT / "tutorial_code" / f"{stem}.py").exists()
        assert (ROOT / "tests" / f"test_{stem}.py").exists()


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_claim_on_a_page_has_a_test(page):
    """Prose claims about results are marked <!-- claim: name --> and tested."""
    claims = CLAIM.findall(page.read_text())
    if not claims:
        return
    stem = page.stem.split("_", 1)[1]
    test_source = (ROOT / "tests" / f"test_{stem}.py").read_text()
    missing = [c for c in claims if f"def test_claim_{c}(" not in test_source]
    assert not missing, f"claims without a test in tests/test_{stem}.py: {missing}"


def test_strict_build_passes_without_warnings(built_site):
    site, result = built_site
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    for stem in TUTORIAL_STEMS:
        assert (site / page_file(stem).stem / "index.html").exists()


def test_built_site_carries_its_own_mathjax_and_plotly(built_site):
    site, _ = built_site
    assert (site / "assets/vendor/plotly.min.js").stat().st_size > 1_000_000
    assert (site / "assets/vendor/mathjax/tex-chtml.js").exists()
    assert any(
        (site / "assets/vendor/mathjax/output/chtml/fonts/woff-v2").glob("*.woff")
    )
    for page in site.rglob("*.html"):
        text = page.read_text()
        # What a browser fetches: scripts, images, stylesheets and icons (a
        # canonical <link> only names the page, it loads nothing).
        remote = re.findall(
            r'<(?:script|img)[^>]+src="((?:https?:)?//[^"]+)"'
            r'|<link[^>]+rel="(?:stylesheet|preload|modulepreload|icon)"[^>]+'
            r'href="((?:https?:)?//[^"]+)"',
            text,
        )
        assert not remote, f"{page}: loads from another host: {remote}"
        assert "fonts.googleapis" not in text


@pytest.mark.parametrize("stem", TUTORIAL_STEMS)
def test_build_shows_exactly_what_the_run_produced(built_site, page_run, stem):
    """The published outputs and figure data equal an independent run's."""
    site, _ = built_site
    built = (site / page_file(stem).stem / "index.html").read_text()
    run = page_run(stem)
    for cell in run.cells:
        for line in cell.stdout.strip().splitlines():
            assert html.escape(line.strip(), quote=False) in built, line
    shown = [
        json.loads(s.replace("<\\/", "</"))
        for s in re.findall(
            r'<script[^>]*class="plotly-data"[^>]*>(.*?)</script>', built
        )
    ]
    assert shown == run.figures


@pytest.mark.parametrize("stem", TUTORIAL_STEMS)
def test_page_code_as_shown_runs_fresh_and_reproduces_the_page(
    page_as_shown, page_run, stem
):
    """The page's code, in page order, run by a fresh interpreter from the repo root,
    prints the same output and draws the same figures as the build."""
    result, figures = page_as_shown(stem)
    assert result.returncode == 0, result.stderr
    run = page_run(stem)
    assert result.stdout == run.stdout
    assert figures == run.figures


def test_tutorial_modules_import_without_printing_or_warning():
    """Importing a tutorial module defines things; only main() tells the story."""
    modules = sorted(p.stem for p in (ROOT / "tutorial_code").glob("*.py"))
    imports = "; ".join(f"import tutorial_code.{m}" for m in modules if m != "__init__")
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", imports],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def test_a_warning_in_a_tutorial_is_an_error():
    section = Section(
        "tutorial_code/x.py", "demo", "import warnings\nwarnings.warn('x')\n", 1
    )
    with pytest.raises(TutorialError, match="UserWarning"):
        run_cell(section, {})


BROKEN_LINE = 'raise RuntimeError("deliberately broken for the test")'


def test_failing_tutorial_stops_the_build_naming_module_and_line(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(
        ROOT,
        project,
        ignore=shutil.ignore_patterns(".venv", "site", ".git", ".cache", "__pycache__"),
    )
    module = project / "tutorial_code" / "classifier.py"
    lines = module.read_text().splitlines()
    # Break the first section the classifier page runs after its imports.
    start = next(i for i, line in enumerate(lines) if "def main" in line)
    mark = next(i for i in range(start, len(lines)) if "[start:" in lines[i])
    indent = re.match(r"\s*", lines[mark + 1])[0]
    lines.insert(mark + 1, indent + BROKEN_LINE)
    module.write_text("\n".join(lines) + "\n")
    broken_line_number = mark + 2

    site = project / "site"
    stale = site / page_file("classifier").stem / "index.html"
    stale.parent.mkdir(parents=True)
    stale.write_text("stale page from an earlier build")

    result = build_site(project, site).result()
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert f"tutorial_code/classifier.py:{broken_line_number}" in message, message
    assert "deliberately broken" in message
    assert not stale.exists(), "a failed build must not leave an old page to publish"


def test_section_names_are_unique_per_module():
    for module in (ROOT / "tutorial_code").glob("*.py"):
        names = re.findall(r"#\s*--8<--\s*\[start:([\w.-]+)\]", module.read_text())
        dupes = {n for n in names if names.count(n) > 1}
        assert not dupes, f"{module.name}: duplicate sections {dupes}"
