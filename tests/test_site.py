"""The site as a whole: strict build, code drawn only from tutorial_code, the
published runs, navigation, and builds that stop when a tutorial fails."""

import html
import json
import os
import re
import subprocess
import sys

import pytest
import yaml
from browser import BATCHING
from conftest import (
    TUTORIAL_PAGES,
    TUTORIAL_STEMS,
    build_site,
    page_file,
    runs_of,
    with_notebook_pages,
)
from mkdocs.utils.yaml import yaml_load

from hooks.tutorials import (
    ROOT,
    FrameError,
    Section,
    TutorialError,
    read_frame,
    read_page,
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
    assert (site / "assets/vendor/mathjax/startup.js").exists()
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


def test_a_solution_runs_in_the_page_namespace_as_in_a_kernel():
    """What a solution defines, later cells see, as in a notebook; that it
    changes nothing they show is checked by running the learner notebook."""
    namespace = {"x": 1}
    solution = Section("tutorial_code/x.py", "solution_ex", "ex_y = x + 1\n", 1)
    run_cell(solution, namespace)
    later = Section("tutorial_code/x.py", "story", "print(ex_y)\n", 2)
    assert run_cell(later, namespace).stdout == "2\n"


def test_only_openblas_spurious_matmul_flag_from_scikit_learn_is_ignored():
    spurious = (
        "import warnings\nwarnings.warn_explicit('invalid value encountered in "
        "matmul', RuntimeWarning, 'x.py', 1, module='sklearn.linear_model.x')\n"
    )
    run_cell(Section("tutorial_code/x.py", "demo", spurious, 1), {})
    ours = "import numpy as np\nnp.array([np.inf]) @ np.array([0.0])\n"
    with pytest.raises(TutorialError, match="invalid value encountered in matmul"):
        run_cell(Section("tutorial_code/x.py", "demo", ours, 1), {})


def test_a_warning_in_a_tutorial_is_an_error():
    section = Section(
        "tutorial_code/x.py", "demo", "import warnings\nwarnings.warn('x')\n", 1
    )
    with pytest.raises(TutorialError, match="UserWarning"):
        run_cell(section, {})


def test_the_build_publishes_the_runs_the_tests_read(built_site):
    """The session's build reused every run page_run saved (each page's footer
    says so): no page ran twice."""
    site, _ = built_site
    for page in TUTORIAL_PAGES:
        footer = (site / page.stem / "index.html").read_text().split("tutorial-footer")
        assert "(reused from the execution cache)" in footer[-1], page.name


def test_the_site_builds_strictly_with_properdocs_too(built_site, properdocs_site):
    """ProperDocs (the drop-in fork of MkDocs 1.x) builds the same site from
    the same cached runs: every page and notebook page says the same."""
    mkdocs, _ = built_site
    site, result = properdocs_site
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    pages = sorted(p.relative_to(mkdocs) for p in mkdocs.rglob("*.html"))
    assert pages == sorted(p.relative_to(site) for p in site.rglob("*.html"))
    for page in TUTORIAL_PAGES:
        for built in (f"{page.stem}/index.html", f"notebooks/{page.stem}/index.html"):
            assert article((site / built).read_text()) == article(
                (mkdocs / built).read_text()
            ), built


def test_notebooks_come_last_in_the_nav_and_say_they_are_notebooks(built_site):
    site, _ = built_site
    home = (site / "index.html").read_text()
    nav = re.findall(
        r'<a href="([^"#]*)"\s+class="md-nav__link[^"]*"[^>]*>\s*'
        r'<span class="md-ellipsis">\s*([^<]+?)\s*<',
        home,
    )
    notebooks = [
        (f"notebooks/{page.stem}/", f"{title(page)} (notebook)")
        for page in TUTORIAL_PAGES
    ]
    assert nav[-len(notebooks) :] == notebooks, nav
    for page in TUTORIAL_PAGES:
        built = (site / "notebooks" / page.stem / "index.html").read_text()
        assert f"<title>{title(page)} (notebook) - " in built


def test_search_finds_each_tutorial_page_once_not_again_as_its_notebook(built_site):
    site, _ = built_site
    index = json.loads((site / "search" / "search_index.json").read_text())
    pages = {entry["location"].split("#")[0] for entry in index["docs"]}
    assert {f"{page.stem}/" for page in TUTORIAL_PAGES} <= pages
    assert not [page for page in pages if page.startswith("notebooks/")]


def title(page):
    """The page's title in the nav of mkdocs.yml."""
    nav = yaml_load((ROOT / "mkdocs.yml").read_text())["nav"]
    return next(t for entry in nav for t, uri in entry.items() if uri == page.name)


@pytest.mark.parametrize("page", TUTORIAL_PAGES, ids=lambda p: p.name)
def test_previous_and_next_of_a_tutorial_never_lead_to_a_notebook(built_site, page):
    site, _ = built_site
    built = (site / page.stem / "index.html").read_text()
    footer = re.findall(r'class="md-footer__link[^"]*"[^>]*href="([^"]+)"', built)
    footer += re.findall(r'href="([^"]+)"[^>]*class="md-footer__link', built)
    assert footer and not [url for url in footer if "notebooks/" in url]


# ------------------------------------------------------------ builds of a tiny project


def busy_processes_wanted() -> int:
    """How many busy processes would leave no core idle: none when the
    machine is loaded already (as it is during the whole test session, with
    the background jobs), one per core when it is idle."""
    cores = len(os.sched_getaffinity(0))
    return max(0, cores - int(os.getloadavg()[0]))


def test_failing_tutorial_stops_the_build_naming_module_and_line(tiny_project):
    """Every time, and under load: four failing builds at once, every core
    kept busy (by busy processes if nothing else loads them). Aborting once
    raced the worker pool's own thread and printed a traceback under load."""
    module = tiny_project / "tutorial_code" / "first.py"
    module.write_text(
        module.read_text().replace(
            '    print("double',
            '    raise RuntimeError("deliberately broken")\n    print("double',
        )
    )
    sites = [tiny_project / f"site-{n}" for n in range(4)]
    stale = sites[0] / "01_first" / "index.html"
    stale.parent.mkdir(parents=True)
    stale.write_text("stale page from an earlier build")

    busy = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
        for _ in range(busy_processes_wanted())
    ]
    try:
        results = [job.result() for job in [build_site(tiny_project, s) for s in sites]]
    finally:
        for process in busy:
            process.kill()
            process.wait()
    for result in results:
        assert result.returncode != 0
        message = result.stdout + result.stderr
        assert "tutorial_code/first.py:7: RuntimeError: deliberately broken" in message
        assert "Traceback" not in message, message
    assert not stale.exists(), "a failed build must not leave an old page to publish"


def test_unusable_data_stops_the_build_with_the_tutorials_message_then_good_data_reuses(
    tiny_project,
):
    first = build_site(tiny_project, tiny_project / "site").result()
    assert first.returncode == 0, first.stderr
    unusable = {
        data: build_site(tiny_project, tmp_site, env={"GBM_DATA": str(data)})
        for data, tmp_site in (
            (tiny_project / "nowhere.csv", tiny_project / "site-missing"),
            (tiny_project / "docs", tiny_project / "site-directory"),
        )
    }
    for data, job in unusable.items():
        failed = job.result()
        assert failed.returncode != 0, data
        assert "tutorial_code/second.py:7" in failed.stderr, failed.stderr
        assert "Traceback" not in failed.stderr
    before = runs_of(tiny_project)
    again = build_site(tiny_project, tiny_project / "site").result()
    assert again.returncode == 0, again.stderr
    assert runs_of(tiny_project) == before  # the first build's runs, reused


def test_a_malformed_gene_list_stops_the_build_with_the_tutorials_message(tmp_path):
    result = build_site(ROOT, tmp_path / "site", env={"GBM_GENES": "EGFR"}).result()
    assert result.returncode != 0
    assert "GBM_GENES) names one gene: the tutorials need at least two" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr


def test_two_builds_on_other_data_at_once_both_succeed_and_say_so(tiny_project):
    with_notebook_pages(tiny_project)
    tables = {}
    for name, rows in (("small", 1), ("large", 5)):
        tables[name] = tiny_project / f"{name}.csv"
        tables[name].write_text("a\n" + "1\n" * rows)
    jobs = {
        name: build_site(
            tiny_project, tiny_project / f"site-{name}", env={"GBM_DATA": str(path)}
        )
        for name, path in tables.items()
    }
    for name, job in jobs.items():
        result = job.result()
        assert result.returncode == 0, result.stderr
        site = tiny_project / f"site-{name}"
        page = (site / "02_second" / "index.html").read_text()
        lines = len(tables[name].read_text().splitlines())
        assert f"the data has {lines} lines" in page
        assert "Built on other data" in page and str(tables[name]) in page
        notebook = (site / "notebooks/02_second/02_second.ipynb").read_text()
        assert f"the data has {lines} lines" in notebook
        assert "Built on other data" in notebook


def test_a_broken_link_or_anchor_fails_the_strict_build(tiny_project):
    page = tiny_project / "docs" / "index.md"
    page.write_text(page.read_text() + "\nSee [first](01_first.md#no-such-heading).\n")
    result = build_site(tiny_project, tiny_project / "site").result()
    assert result.returncode != 0
    assert "no-such-heading" in result.stderr


def test_section_names_are_unique_per_module():
    for module in (ROOT / "tutorial_code").glob("*.py"):
        names = re.findall(r"#\s*--8<--\s*\[start:([\w.-]+)\]", module.read_text())
        dupes = {n for n in names if names.count(n) > 1}
        assert not dupes, f"{module.name}: duplicate sections {dupes}"


# ------------------------------------------------------------ the frame and schedule


def front_matter(page):
    return yaml.safe_load(page.read_text().split("---\n", 2)[1])


def article(built: str) -> str:
    return built.split('<article class="md-content__inner', 1)[1].split("</article>")[0]


def text_of(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


@pytest.mark.parametrize("page", TUTORIAL_PAGES, ids=lambda p: p.name)
def test_a_tutorial_page_opens_with_its_overview_and_ends_with_its_key_points(
    built_site, page
):
    site, _ = built_site
    meta = front_matter(page)
    body = article((site / page.stem / "index.html").read_text())
    boxes = re.findall(r'<div class="admonition (\w+)">(.*?)</div>', body, re.S)
    kinds = [kind for kind, _ in boxes]
    overview = text_of(boxes[kinds.index("abstract")][1])
    minutes = f"Teaching: {meta['teaching']} min · Exercises: {meta['exercises']} min"
    assert minutes in overview
    for item in meta["questions"] + meta["objectives"]:
        assert text_of(markdown_text(item)) in overview, item
    assert body.index('class="admonition abstract"') < body.index("<h2")
    key_points = body.rsplit('<div class="admonition success">', 1)[1]
    assert body.rindex("<h2") < body.rindex('<div class="admonition success">')
    for item in meta["keypoints"]:
        assert text_of(markdown_text(item)) in text_of(key_points), item


def markdown_text(item: str) -> str:
    """The words of a front-matter item as the page shows them."""
    item = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", item)
    return re.sub(r"`([^`]*)`", r"\1", item)


def test_a_tutorial_page_without_its_frame_stops_the_build_naming_it(tiny_project):
    page = tiny_project / "docs" / "02_second.md"
    page.write_text(page.read_text().replace('keypoints:\n  - "Pages run"\n', ""))
    result = build_site(tiny_project, tiny_project / "site").result()
    assert result.returncode != 0
    assert "docs/02_second.md: the front matter lacks keypoints" in result.stderr
    assert "Traceback" not in result.stderr


def test_schedule_lists_each_tutorial_with_its_minutes_and_start(built_site):
    site, _ = built_site
    built = (site / "schedule" / "index.html").read_text()
    rows = re.findall(r"<tr>\s*(.*?)\s*</tr>", article(built), re.S)[1:]
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows]
    start = 0
    for page, row in zip(TUTORIAL_PAGES, cells, strict=False):
        meta = front_matter(page)
        assert row[0] == f"{start // 60}:{start % 60:02d}"
        assert f'href="../{page.stem}/"' in row[1] and text_of(row[1]) == title(page)
        assert [int(row[2]), int(row[3])] == [meta["teaching"], meta["exercises"]]
        start += meta["teaching"] + meta["exercises"]
    assert len(cells) == len(TUTORIAL_PAGES) + 1  # and the totals
    total = cells[-1]
    assert total[0] == f"{start // 60}:{start % 60:02d}"
    teaching = sum(front_matter(p)["teaching"] for p in TUTORIAL_PAGES)
    assert int(total[2]) == teaching
    assert int(total[3]) == start - teaching


def test_schedule_sits_among_the_reference_pages(built_site):
    site, _ = built_site
    home = (site / "index.html").read_text()
    nav = re.findall(r'<span class="md-ellipsis">\s*([^<]+?)\s*<', home)
    assert nav.index("Glossary") < nav.index("Schedule")
    assert nav.index("Schedule") < nav.index("How this site is built")


def solution_blocks(built: str) -> list[str]:
    """The HTML inside each <details class="solution">, nested blocks included."""
    blocks = []
    for start in re.finditer(r'<details class="solution"', built):
        depth, position = 0, start.start()
        for tag in re.finditer(r"<(/?)details\b", built[position:]):
            depth += -1 if tag[1] else 1
            if depth == 0:
                blocks.append(built[position : position + tag.end()])
                break
    return blocks


@pytest.mark.parametrize("stem", TUTORIAL_STEMS)
def test_each_solutions_outputs_and_figures_are_inside_its_block(
    built_site, page_run, stem
):
    site, _ = built_site
    built = (site / page_file(stem).stem / "index.html").read_text()
    inside = "".join(solution_blocks(built))
    solutions = [c for c in page_run(stem).cells if c.section.solution]
    for cell in solutions:
        for line in cell.stdout.strip().splitlines():
            assert html.escape(line.strip(), quote=False) in inside, line
    shown = inside.count('class="plotly-data"')
    assert shown == sum(len(c.figures) for c in solutions)


@pytest.mark.parametrize(
    ("front", "message"),
    [
        (
            "teaching: 5\n",
            "the front matter lacks exercises, questions, objectives, keypoints",
        ),
        (
            "teaching: soon\nexercises: 5\nquestions: [a]\nobjectives: [b]\n"
            "keypoints: [c]\n",
            "'teaching' in the front matter is 'soon'",
        ),
        (
            "teaching: 5\nexercises: 5\nquestions: a question\nobjectives: [b]\n"
            "keypoints: [c]\n",
            "'questions' in the front matter is 'a question'; give a list of text",
        ),
        (
            "questions:\n  - What: is: this\n",
            "the front matter is not valid YAML at line 3 of the page",
        ),
    ],
)
def test_a_bad_frame_is_named_with_its_page_and_key(front, message):
    with pytest.raises(FrameError, match=re.escape(f"docs/01_x.md: {message}")):
        read_frame(f"---\n{front}---\n# X\n", "docs/01_x.md")


# ------------------------------------------------------------------ every tutorial page


@pytest.mark.parametrize("stem", TUTORIAL_STEMS)
def test_page_has_three_exercises_each_followed_by_a_solution(stem):
    lines = page_file(stem).read_text().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("!!! exercise")]
    assert len(starts) >= 3, f"{stem}: fewer than three exercises"
    for i in starts:
        following = next(line for line in lines[i + 1 :] if line and line[0] != " ")
        assert following.startswith('??? solution "Solution"'), lines[i]


@pytest.mark.parametrize("stem", TUTORIAL_STEMS)
def test_shown_code_fits_the_page_without_scrolling(stem):
    """76 characters fit the code column of a desktop page."""
    for section in read_page(page_file(stem)).sections:
        for line in section.code.splitlines():
            assert len(line) <= 76, (section.module, section.name, line)


@pytest.mark.parametrize("stem", TUTORIAL_STEMS)
def test_every_fill_in_and_check_on_a_page_holds_and_leaves_no_braces(
    built_site, page_run, stem
):
    """On the shipped data every expression evaluates (so parses) and every
    check holds; the built prose keeps no {{, }} or check comment."""
    run = page_run(stem)
    assert not [(r.sentence, r.expression, r.error) for r in run.not_so]
    site, _ = built_site
    built = article((site / page_file(stem).stem / "index.html").read_text())
    code_and_math = (
        r'<(pre|code|script)\b.*?</\1>|<(span|div) class="arithmatex">.*?</\2>'
    )
    prose = re.sub(code_and_math, "", built, flags=re.S)
    stray = re.search(r"\{\{|\}\}|<!--\s*check:", prose)
    assert not stray, prose[stray.start() - 200 : stray.end() + 200]


@pytest.mark.parametrize("stem", TUTORIAL_STEMS)
def test_every_figure_has_a_title_and_axis_titles(page_run, stem):
    """A grid of panels (make_subplots) may title only its outer axes: some
    x axis and some y axis must carry a title."""
    for figure in page_run(stem).figures:
        layout = figure["layout"]
        assert layout["title"]["text"], stem
        for kind in ("xaxis", "yaxis"):
            titles = [
                axis.get("title", {}).get("text")
                for key, axis in layout.items()
                if re.fullmatch(kind + r"\d*", key)
            ]
            assert any(titles), (layout["title"]["text"], kind)


@pytest.mark.parametrize("page", TUTORIAL_PAGES, ids=lambda p: p.name)
def test_batched_training_shows_only_inside_a_collapsed_block(built_site, page):
    """A beginner's path shows plain loops: torch.func (vmap and the rest),
    which the build uses for speed, appears on a tutorial page only inside a
    collapsed "Going further" block (<details>), and in its notebooks only in
    code cells that JupyterLab shows folded (the notebook pages fold them in
    the browser: tests/test_browser.py)."""
    site, _ = built_site
    built = (site / page.stem / "index.html").read_text()
    outside = re.sub(r"<details.*?</details>", "", built, flags=re.S)
    for name in BATCHING:
        assert name not in outside, f"{page.name} shows {name} outside <details>"
    for notebook in (site / "notebooks" / page.stem).glob("*.ipynb"):
        for cell in json.loads(notebook.read_text())["cells"]:
            code = "".join(cell["source"])
            if cell["cell_type"] == "code" and any(n in code for n in BATCHING):
                assert cell["metadata"].get("jupyter") == {"source_hidden": True}
                assert cell["metadata"]["tags"] == ["folded"], notebook.name


def test_the_code_a_page_folds_is_folded_in_its_notebooks_and_none_else(built_site):
    """Each notebook (full and learner) folds as many code cells as its page
    shows code blocks in folded blocks other than solutions ("??? info",
    "??? example"), and with the same code; a solution's code is not folded
    (the full notebook is the one with the answers)."""
    site, _ = built_site
    folded_on_pages = 0
    for page in TUTORIAL_PAGES:
        built = (site / page.stem / "index.html").read_text()
        blocks = re.findall(
            r'<details class="(?!solution)[^"]*">.*?</details>', built, re.S
        )
        codes = [
            html.unescape(re.sub(r"<[^>]+>", "", code))
            for block in blocks
            for code in re.findall(r'<div class="highlight"><pre.*?</pre>', block, re.S)
        ]
        folded_on_pages += len(codes)
        for end in ("", "-learner"):
            notebook = site / "notebooks" / page.stem / f"{page.stem}{end}.ipynb"
            cells = json.loads(notebook.read_text())["cells"]
            folded = [
                "".join(c["source"])
                for c in cells
                if c["metadata"].get("jupyter", {}).get("source_hidden")
            ]
            assert len(folded) == len(codes), (notebook.name, len(folded), len(codes))
            for source, code in zip(folded, codes, strict=True):
                assert source.strip() in code, (notebook.name, source[:60])
    assert folded_on_pages >= 3  # the helpers' code and "Going further" blocks'
