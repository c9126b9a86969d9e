"""Generated notebooks: same code as the page, run top to bottom in a fresh kernel,
and published by mkdocs-jupyter with the build's outputs, offline."""

import json
import re

import nbformat
import pytest
from conftest import TUTORIAL_STEMS, page_file

from hooks.notebooks import page_notebook
from hooks.tutorials import Cell, PageRun, Section, page_sections, unexecuted_run

PLOTLY_MIME = "application/vnd.plotly.v1+json"


def code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


@pytest.mark.parametrize("stem", TUTORIAL_STEMS)
def test_notebook_holds_exactly_the_code_the_page_shows(stem):
    page = page_file(stem)
    notebook = page_notebook(page.read_text(), unexecuted_run(page))
    shown = [s.code.rstrip("\n") for s in page_sections(page.read_text())]
    assert [cell.source for cell in code_cells(notebook)] == shown
    nbformat.validate(notebook)


@pytest.mark.parametrize("stem", TUTORIAL_STEMS)
def test_generated_notebook_runs_top_to_bottom_in_a_fresh_kernel(
    executed_notebook, page_run, stem
):
    _, path = executed_notebook(stem)
    assert path.suffix == ".ipynb", path.read_text()[-3000:]
    notebook = nbformat.read(path, as_version=4)
    run = page_run(stem)
    cells = code_cells(notebook)
    assert len(cells) == len(run.cells)
    for cell, expected in zip(cells, run.cells, strict=True):
        printed = "".join(
            o.get("text", "") for o in cell.outputs if o.output_type == "stream"
        )
        assert printed == expected.stdout, cell.source[:80]
        drawn = [o for o in cell.outputs if PLOTLY_MIME in o.get("data", {})]
        assert len(drawn) == len(expected.figures), cell.source[:80]
        assert not [o for o in cell.outputs if o.output_type == "error"]


@pytest.mark.parametrize("stem", TUTORIAL_STEMS)
def test_published_notebook_shows_the_builds_outputs_offline(
    built_site, page_run, stem
):
    site, result = built_site
    assert result.returncode == 0, result.stderr
    name = page_file(stem).stem
    html = (site / "notebooks" / name / "index.html").read_text()
    download = site / "notebooks" / name / f"{name}.ipynb"
    assert download.exists(), "the .ipynb is offered for download next to its page"
    published = nbformat.read(download, as_version=4)
    run = page_run(stem)
    printed = [
        "".join(o.get("text", "") for o in c.outputs if o.output_type == "stream")
        for c in code_cells(published)
    ]
    assert printed == [cell.stdout for cell in run.cells]
    # Figures are drawn by the site's shared plotly.js, not embedded copies of it.
    figures = [
        json.loads(s.replace("<\\/", "</"))
        for s in re.findall(
            r'<script[^>]*class="plotly-data"[^>]*>(.*?)</script>', html
        )
    ]
    assert figures == run.figures
    assert "javascripts/figures.js" in html  # loads the site's one plotly.min.js
    assert "Plotly.register" not in html and len(html) < 2_000_000
    assert not re.search(r'<script[^>]+src="(https?:)?//', html)
    assert "mathjax@" not in html and "cdnjs" not in html
    # The tutorial page links to its notebook and the download.
    page_html = (site / name / "index.html").read_text()
    assert f"../notebooks/{name}/" in page_html
    assert f"notebooks/{name}/{name}.ipynb" in page_html


def test_solution_cells_are_tagged_and_a_note_comes_first():
    sections = [
        Section("tutorial_code/x.py", "story", "x = 1\n", 1),
        Section("tutorial_code/x.py", "solution_double", "ex_y = 2 * x\n", 4),
    ]
    markdown = "# X\n\n" + "".join(
        f'```python\n--8<-- "tutorial_code/x.py:{s.name}"\n```\n' for s in sections
    )
    run = PageRun("x.md", [Cell(s) for s in sections], {}, 0.0)
    notebook = page_notebook(markdown, run, note='!!! warning "Other data"\n    Hm.')
    assert notebook.cells[0].source.startswith("> **Other data**")
    tags = [cell.metadata.get("tags", []) for cell in code_cells(notebook)]
    assert tags == [[], ["solution"]]
