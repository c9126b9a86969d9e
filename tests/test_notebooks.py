"""Generated notebooks. The full one is the page's code with the published run's
outputs; the learner one leaves the exercises' solutions out and, run top to
bottom in a cleared kernel from a folder inside the repository, prints and draws
what the published run did (so the solutions change nothing else). Links lead to
the site; JupyterLab starts offline."""

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from conftest import FRONT_MATTER, TUTORIAL_STEMS, page_file
from mkdocs.utils.yaml import yaml_load

from hooks.render import notebooks, site_link
from hooks.tutorials import (
    ROOT,
    Cell,
    PageRun,
    Section,
    figure_payload,
    read_page,
    run_page,
    unexecuted,
)

PLOTLY_MIME = "application/vnd.plotly.v1+json"
SITE_URL = yaml_load((ROOT / "mkdocs.yml").read_text())["site_url"]
SOLUTION_TAG, EXERCISE_TAG, SETUP_TAG = "solution", "exercise", "setup"
LINK = re.compile(r"\]\(([^)\s]+)|\b(?:href|src)=\"([^\"]+)\"")


def tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


def code_cells(notebook, *kinds: str):
    """The code cells shown on the page (or, with kinds, those tagged so)."""
    cells = [c for c in notebook.cells if c.cell_type == "code"]
    if kinds:
        return [c for c in cells if set(kinds) & set(tags(c))]
    return [c for c in cells if not {SETUP_TAG, EXERCISE_TAG} & set(tags(c))]


def printed(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def drawn(cell) -> list[dict]:
    return [
        o["data"][PLOTLY_MIME] for o in cell.outputs if PLOTLY_MIME in o.get("data", {})
    ]


def solutions_with_code(markdown: str) -> int:
    """How many `??? solution` blocks of a page show code."""
    count = 0
    for block in re.split(r"^\?\?\? solution", markdown, flags=re.M)[1:]:
        body = re.split(r"^\S", block.split("\n", 1)[1], maxsplit=1, flags=re.M)[0]
        count += "--8<--" in body
    return count


# ------------------------------------------------------------ made from the page


@pytest.mark.parametrize("stem", TUTORIAL_STEMS)
def test_full_notebook_holds_the_pages_code_and_the_learner_one_no_solution(stem):
    page = read_page(page_file(stem))
    full, learner = notebooks(page, unexecuted(page), SITE_URL, "")
    sections = page.sections
    assert [c.source for c in code_cells(full)] == [
        s.code.rstrip("\n") for s in sections
    ]
    # A solution's code is in its solution block, and only a solution's.
    in_blocks = [SOLUTION_TAG in tags(c) for c in code_cells(full)]
    assert in_blocks == [s.solution for s in sections]
    assert [c.source for c in code_cells(learner)] == [
        s.code.rstrip("\n") for s in sections if not s.solution
    ]
    assert not [c for c in learner.cells if SOLUTION_TAG in tags(c)]
    assert "**Solution**" not in json.dumps([c.source for c in learner.cells])
    empty = code_cells(learner, EXERCISE_TAG)
    assert len(empty) == solutions_with_code(page.path.read_text())
    for cell in empty:  # right after the exercise it is for
        before = learner.cells[learner.cells.index(cell) - 1]
        assert cell.source == "" and "**Exercise" in before.source
    for notebook in (full, learner):
        nbformat.validate(notebook)
        assert tags(code_cells(notebook, SETUP_TAG)[0]) == [SETUP_TAG]
        assert notebook.cells[1] is code_cells(notebook, SETUP_TAG)[0]


PAGE = (
    FRONT_MATTER
    + """\
# X

Intro, see [the glossary](glossary.md#relu).

```python
--8<-- "tutorial_code/x.py:story"
```

!!! exercise "Exercise 1: double"
    Double x.

??? solution "Solution"
    Multiply by two:

    ```python
    --8<-- "tutorial_code/x.py:solution_double"
    ```

    It prints the double.

After the first exercise.

!!! exercise "Exercise 2: think"
    Think.

??? solution "Solution"
    Nothing to run here.

The end.
"""
)


MODULE = """\
def main():
    # --8<-- [start:story]
    x = 1
    print(x)
    # --8<-- [end:story]
    # --8<-- [start:solution_double]
    print(2 * x)
    # --8<-- [end:solution_double]
"""


@pytest.fixture
def small_page(tmp_path):
    """A page with two exercises, one solved with code, and its run."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "tutorial_code").mkdir()
    (tmp_path / "tutorial_code" / "x.py").write_text(MODULE)
    (tmp_path / "docs" / "01_x.md").write_text(PAGE)
    page = read_page(tmp_path / "docs" / "01_x.md", tmp_path)
    return page, run_page(page, tmp_path)


def texts(notebook, kind="markdown") -> str:
    return "\n".join(c.source for c in notebook.cells if c.cell_type == kind)


def test_the_learner_notebook_leaves_out_each_solution_whole(small_page):
    """The full notebook holds every solution, its prose and its code with its
    output; the learner notebook leaves each out whole, prose and code, keeps
    everything else, and has an empty cell right after an exercise whose
    solution had code."""
    full, learner = notebooks(*small_page, "https://site.example/", "")
    solution = [c for c in full.cells if SOLUTION_TAG in tags(c)]
    assert [printed(c) for c in solution if c.cell_type == "code"] == ["2\n"]
    for gone in ("Multiply by two", "It prints the double", "Nothing to run"):
        assert gone in texts(full) and gone not in texts(learner)
    assert "2 * x" in texts(full, "code") and "2 * x" not in texts(learner, "code")
    for kept in ("Double x.", "After the first exercise.", "Think.", "The end."):
        assert kept in texts(learner)
    (empty,) = code_cells(learner, EXERCISE_TAG)
    assert "Exercise 1" in learner.cells[learner.cells.index(empty) - 1].source
    assert not code_cells(full, EXERCISE_TAG)


def test_notebooks_carry_the_frame_and_not_the_yaml(small_page):
    for notebook in notebooks(*small_page, "https://site.example/", ""):
        text = "\n".join(c.source for c in notebook.cells)
        assert "teaching: 10" not in text
        top = next(c.source for c in notebook.cells if c.source.startswith("# X"))
        assert "**Teaching:** 10 min · **Exercises:** 5 min" in top
        assert "What does the code print?" in top and "Run a page" in top
        assert "> **Key points**" in notebook.cells[-1].source
        assert "Pages run" in notebook.cells[-1].source


def test_links_become_addresses_on_the_site():
    site = "https://site.example/course/"
    on = "02_tensors.md"
    assert site_link("03_lr.md#loop", on, site) == site + "03_lr/#loop"
    assert site_link("glossary.md#relu", on, site) == site + "glossary/#relu"
    assert site_link("img/a.svg", on, site) == site + "img/a.svg"
    assert site_link("#seeds", on, site) == site + "02_tensors/#seeds"
    assert site_link("index.md", on, site) == site
    assert site_link("https://pytorch.org", on, site) == "https://pytorch.org"


def test_the_setup_cell_explains_a_notebook_outside_a_clone(
    small_page, tmp_path_factory
):
    full, _ = notebooks(*small_page, "https://site.example/", "")
    setup = code_cells(full, SETUP_TAG)[0].source
    outside = tmp_path_factory.mktemp("somewhere")  # no clone above it
    result = subprocess.run(
        [sys.executable, "-c", setup], cwd=outside, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "inside a clone of the course repository" in result.stderr
    assert "https://site.example/" in result.stderr


# ------------------------------------------------------------ run #2: the kernel


def mismatches(learner, run: PageRun) -> list[str]:
    """Where an executed learner notebook differs from the published run: a
    cell that failed, or a section that printed or drew something else."""
    problems = [
        f"cell {c.id} failed"
        for c in learner.cells
        if c.cell_type == "code" and [o for o in c.outputs if o.output_type == "error"]
    ]
    expected = [cell for cell in run.cells if not cell.section.solution]
    cells = code_cells(learner)
    if len(cells) != len(expected):
        return [*problems, f"{len(cells)} code cells for {len(expected)} sections"]
    for cell, want in zip(cells, expected, strict=True):
        figures = [figure_payload(f) for f in drawn(cell)]
        for figure in figures:
            figure.pop("config", None)
        if printed(cell) != want.stdout:
            problems.append(f"{want.section.name}: printed something else")
        if figures != want.figures:
            problems.append(f"{want.section.name}: drew something else")
    return problems


def test_a_solution_that_changes_a_later_output_is_caught():
    story = Section("tutorial_code/x.py", "story", "y = 2\n", 1)
    leak = Section("tutorial_code/x.py", "solution_leak", "y = 10\n", 2)
    later = Section("tutorial_code/x.py", "later", "print(y)\n", 3)
    published = PageRun("x.md", [Cell(story), Cell(leak), Cell(later, "10\n")], {}, 0)
    learner = nbformat.v4.new_notebook()
    learner.cells = [nbformat.v4.new_code_cell(s.code) for s in (story, later)]
    learner.cells[1].outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="2\n")
    ]
    assert mismatches(learner, published) == ["later: printed something else"]


def test_the_kernel_forgets_one_notebook_before_the_next(tmp_path):
    """The learner notebooks share a kernel (tests/run_notebook.py), cleared
    between them: a name or a course module one notebook left is gone."""
    from run_notebook import KernelManager, clear, run_cells

    def notebook(code):
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])

    first = notebook(f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n")
    first.cells[0].source += "import tutorial_code.data_paths\nleft_over = 1\n"
    second = notebook(
        "import sys\n"
        "print('left_over' in dir(), 'tutorial_code.data_paths' in sys.modules)"
    )
    kernel = KernelManager(kernel_name="python3")
    kernel.start_kernel(cwd=str(tmp_path))
    try:
        run_cells(kernel, first)
        clear(kernel, tmp_path)
        run_cells(kernel, second)
    finally:
        kernel.shutdown_kernel(now=True)
    assert printed(second.cells[0]) == "False False\n"


@pytest.mark.parametrize("stem", TUTORIAL_STEMS)
def test_learner_notebook_run_from_a_subfolder_shows_what_the_page_shows(
    executed_notebook, page_run, stem
):
    _, path = executed_notebook(stem)
    assert path.suffix == ".ipynb", path.read_text()[-3000:]
    learner = nbformat.read(path, as_version=4)
    assert not mismatches(learner, page_run(stem))


# ------------------------------------------------------------ run #1: published


@pytest.mark.parametrize("stem", TUTORIAL_STEMS)
def test_published_notebooks_are_the_run_the_tests_read(built_site, page_run, stem):
    site, result = built_site
    assert result.returncode == 0, result.stderr
    name = page_file(stem).stem
    folder = site / "notebooks" / name
    run = page_run(stem)
    full = nbformat.read(folder / f"{name}.ipynb", as_version=4)
    cells = code_cells(full)
    assert [c.source for c in cells] == [c.section.code.rstrip("\n") for c in run.cells]
    assert [printed(c) for c in cells] == [c.stdout for c in run.cells]
    assert [drawn(c) for c in cells] == [c.figures for c in run.cells]
    learner = nbformat.read(folder / f"{name}-learner.ipynb", as_version=4)
    assert len(code_cells(learner)) == len(
        [c for c in run.cells if not c.section.solution]
    )
    # The learner notebook is a download, not a page of the site.
    assert not list(site.glob(f"**/{name}-learner/index.html"))
    # Figures are drawn by the site's shared plotly.js, not embedded copies of it.
    html = (folder / "index.html").read_text()
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


@pytest.mark.parametrize("stem", TUTORIAL_STEMS)
def test_a_notebook_page_defines_the_theme_properties_it_reads_and_no_others(
    built_site, stem
):
    site, _ = built_site
    name = page_file(stem).stem
    html = (site / "notebooks" / name / "index.html").read_text()
    css = "".join(re.findall(r"<style[^>]*>(.*?)</style>", html, re.S))
    defined = set(re.findall(r"(--[\w-]+)\s*:", css))
    read = set(re.findall(r"var\(\s*(--[\w-]+)", html))
    assert defined and defined <= read
    # JupyterLab's own properties (the site's theme defines the --md- ones).
    assert {p for p in read if p.startswith("--jp-")} <= defined
    assert "base64" not in css  # the theme's icons, which no static page shows


def site_file(site: Path, url: str) -> tuple[Path, str]:
    """The built file an address on the published site is, and its anchor."""
    path, _, anchor = url.removeprefix(SITE_URL).partition("#")
    file = site / path
    return (file / "index.html" if path == "" or path.endswith("/") else file), anchor


@pytest.mark.parametrize("stem", TUTORIAL_STEMS)
def test_every_link_in_a_notebook_is_an_address_on_the_site_that_exists(
    built_site, stem
):
    site, _ = built_site
    name = page_file(stem).stem
    folder = site / "notebooks" / name
    for notebook_file in (f"{name}.ipynb", f"{name}-learner.ipynb"):
        notebook = nbformat.read(folder / notebook_file, as_version=4)
        links = [
            a or b
            for cell in notebook.cells
            if cell.cell_type == "markdown"
            for a, b in LINK.findall(cell.source)
        ]
        assert links, notebook_file
        for url in links:
            assert re.match(r"(https?|mailto):", url), f"{notebook_file}: {url}"
            if url.startswith(SITE_URL):
                file, anchor = site_file(site, url)
                assert file.is_file(), f"{notebook_file}: {url}"
                if anchor:
                    assert f'id="{anchor}"' in file.read_text(), url
    # On the site, the rendered notebook links within the site (offline too).
    html = (folder / "index.html").read_text()
    assert not re.findall(rf'<(?:a|img)\b[^>]*(?:href|src)="{SITE_URL}', html)


# ------------------------------------------------------------ make lab


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


def test_jupyterlab_starts_with_the_projects_settings_and_answers(tmp_path):
    """`make lab`'s server, briefly: it serves /lab and, as its settings ask,
    offers no extension installs, fetches no news and checks no updates."""
    port, token = free_port(), secrets.token_hex(8)
    jupyter = Path(sys.executable).with_name("jupyter")
    log = open(tmp_path / "lab.log", "w+")  # noqa: SIM115 (closed below)
    server = subprocess.Popen(
        [jupyter, "lab", f"--config={ROOT / 'tools' / 'jupyter_lab_config.py'}"]
        + ["--no-browser", f"--port={port}", "--ServerApp.port_retries=0"]
        + [f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}"],
        cwd=tmp_path,
        env={**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, status, page = time.monotonic() + 60, None, ""
        while status is None and time.monotonic() < deadline:
            assert server.poll() is None, log.seek(0) or log.read()
            try:
                status, page = get(f"{base}/lab?token={token}")
            except OSError:
                time.sleep(0.5)
        assert status == 200, log.seek(0) or log.read()
        assert '"name": "read-only"' in page  # the extension manager
        assert json.loads(get(f"{base}/lab/api/news?token={token}")[1]) == {"news": []}
        update = json.loads(get(f"{base}/lab/api/update?token={token}")[1])
        assert update == {"notification": None}
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
