"""What a reader sees: every built page opened in headless Chromium, offline.

Formulas typeset and figures drawn with their titles, in the light and the dark
palette and on a phone screen (also after navigating with the theme's links);
MathJax fetched only by pages with formulas and plotly.js only by pages with
figures; images loaded, collapsible blocks and copy buttons working; and no
request to any host but the local server (the browser cannot reach one, and
the tests fail on any attempt).

The browser looks at every page once, in the background (`python
tests/browser.py look`, fixture `seen`); these tests assert on what it saw.
"""

import json
import re
from urllib.parse import urlparse

import pytest
from browser import PLOTLY_JS, served_plotly, site_pages
from conftest import TUTORIAL_PAGES, stem_of

MATHJAX = "assets/vendor/mathjax/"  # every file of it (math-config.js)


@pytest.fixture(scope="module")
def site(built_site):
    site_dir, result = built_site
    assert result.returncode == 0, result.stderr
    return site_dir


@pytest.fixture(scope="module")
def pages(seen):
    """{url: what the browser saw on it}, for every page it looked at whole."""
    failed = {u: s["failure"] for u, s in seen["pages"].items() if "failure" in s}
    assert not failed, "looking at a page failed:\n" + "\n".join(
        f"/{url}:\n{trace}" for url, trace in failed.items()
    )
    return seen["pages"]


def tutorial_urls():
    """{url: stem} of every tutorial page and of its notebook page."""
    urls = {}
    for page in TUTORIAL_PAGES:
        urls[f"{page.stem}/"] = urls[f"notebooks/{page.stem}/"] = stem_of(page)
    return urls


def test_site_has_every_page_and_notebook(site):
    pages = site_pages(site)
    notebooks = [p for p in pages if p.startswith("notebooks/")]
    assert {"", "00_setup/", *tutorial_urls()} <= set(pages)
    assert notebooks == [f"notebooks/{p.stem}/" for p in TUTORIAL_PAGES]


def test_the_browser_looked_at_every_page(site, seen):
    assert list(seen["pages"]) == site_pages(site)


def check_clean_load(url, seen, base):
    local = urlparse(base).netloc
    foreign = [u for u in seen["requests"] if urlparse(u).netloc not in (local, "")]
    assert not foreign, f"{url}: requests to other hosts: {foreign}"
    assert not seen["errors"], f"{url}: console errors: {seen['errors']}"
    assert not seen["failed"], f"{url}: failed requests: {seen['failed']}"


def fetched(seen, base, path: str) -> bool:
    """Whether the page asked for this site path (or a file under it)."""
    return any(url.startswith(base + path) for url in seen["requests"])


def check_math(math):
    """Every formula typeset, none broken, no TeX left as text; the count typeset."""
    assert math["rendered"] == math["spans"], math
    assert math["errors"] == 0, math
    assert math["zeroWidth"] == 0, math
    assert math["dollarsInProse"] == 0, f"TeX left as text in a notebook cell: {math}"
    assert not math["rawTeX"], f"raw {math['rawTeX']} left in the page text"
    return math["typeset"]


def check_figures(figures):
    for fig in figures:
        name = f"figure '{fig['title']}'"
        assert fig["hasSvg"], fig
        assert fig["drawnTraces"] == fig["specTraces"] > 0, fig
        assert fig["title"] and fig["shownTitle"] == fig["title"], fig
        axes = fig["axisTitles"]
        assert any(a.startswith("x") for a in axes), f"{name} has no x-axis title"
        assert any(a.startswith("y") for a in axes), f"{name} has no y-axis title"
        for axis, text in axes.items():
            shown = fig["shownAxisTitles"].get(axis)
            assert shown == text, f"{name}: axis {axis} title {text!r} shows {shown!r}"
        assert fig["marks"] > 0, f"{name} drew nothing"
        if not fig["hidden"]:
            assert fig["height"] > 200 and fig["width"] <= fig["content"] + 1, fig
    return figures


def test_every_figure_is_drawn_with_its_titles(site, pages, page_run):
    bundle = served_plotly(site)  # e.g. "plotly.js (basic - minified) v4.1.1"
    missing = [
        f"/{url}: figure '{f['title']}' uses trace type {', '.join(f['missing'])}"
        for url, seen in pages.items()
        for f in seen["missing_trace_types"]
    ]
    assert not missing, f"the served {bundle} cannot draw: " + "; ".join(missing)
    for url, seen in pages.items():
        figures = check_figures(seen["light"]["figures"])
        if url in tutorial_urls():
            assert len(figures) == len(page_run(tutorial_urls()[url]).figures), url


def test_every_page_loads_cleanly(pages, seen):
    for url, page in pages.items():
        check_clean_load(url, page, seen["base"])


def test_every_formula_is_typeset(pages):
    for page in pages.values():
        check_math(page["light"]["math"])


def formulas_on(page) -> int:
    """Formulas MathJax typeset on the page as it loaded."""
    return page["light"]["math"]["typeset"]


def test_mathjax_and_plotly_load_only_where_needed(pages, seen):
    """A page fetches MathJax only if it has a formula (each then typeset:
    test_every_formula_is_typeset), and plotly.js only if it has a figure."""
    base = seen["base"]
    for url, page in pages.items():
        formulas, figures = formulas_on(page), len(page["light"]["figures"])
        assert fetched(page, base, MATHJAX) == (formulas > 0), f"/{url}: {formulas}"
        assert fetched(page, base, PLOTLY_JS) == (figures > 0), f"/{url}: {figures}"
    with_math = sum(formulas_on(page) > 0 for page in pages.values())
    with_figures = sum(len(page["light"]["figures"]) > 0 for page in pages.values())
    assert 0 < with_math < len(pages) and 0 < with_figures < len(pages)


def test_plotly_js_is_the_version_plotly_writes_for(site, pages, seen):
    """package.json pins the partial bundle to the plotly.js version the pinned
    plotly writes figures for; the site serves it when npm installed it (else
    the full bundle from the plotly package), and the browser runs it."""
    from plotly.offline import get_plotlyjs_version

    from hooks.tutorials import ROOT

    wanted = get_plotlyjs_version()
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]
    bundles = [name for name in pinned if name.startswith("plotly.js")]
    assert bundles and {pinned[name] for name in bundles} == {wanted}, pinned
    locked = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    assert {locked[f"node_modules/{name}"]["version"] for name in bundles} == {wanted}
    served = (site / PLOTLY_JS).read_bytes()
    for name in bundles:
        package = ROOT / "node_modules" / name
        if (package / "package.json").exists():  # installed by `npm ci`
            main = json.loads((package / "package.json").read_text())["main"]
            assert served == (package / main).read_bytes(), f"{name} is not served"
    drawing = [p for p in pages.values() if fetched(p, seen["base"], PLOTLY_JS)]
    assert drawing and {p["plotly_version"] for p in drawing} == {wanted}


def test_every_image_loads_and_is_described(pages):
    for page in pages.values():
        for img in page["images"]:
            assert img["width"] > 0, f"image did not load: {img['src']}"
            assert img["alt"] or img["caption"], f"image without alt text: {img}"


def test_copy_button_copies_the_code(seen):
    copy = seen["copy"]
    assert "failure" not in copy, copy["failure"]
    assert copy["copied"].strip() == copy["code"].strip() != ""


def test_figures_and_formulas_in_the_dark_palette(pages):
    """Every page with a figure or formula, switched to the dark palette:
    figures redrawn in its colours, with their titles; formulas still typeset."""
    switched = 0
    for url, page in pages.items():
        light = page["light"]["figures"]
        if not light and not formulas_on(page):
            assert "dark" not in page, url
            continue
        dark = page["dark"]
        check_figures(dark["figures"])
        check_math(dark["math"])
        for before, after in zip(light, dark["figures"], strict=True):
            assert before["fontColor"] != after["fontColor"], (url, after["title"])
            assert after["fontColor"] == dark["body_color"], (url, after["title"])
        switched += 1
    assert switched >= 2


def test_formulas_and_figures_fit_a_phone_screen(pages):
    """At 390 px every figure is drawn (with its titles) and every formula
    typeset, and none runs off the content column."""
    for url, page in pages.items():
        phone = page["phone"]
        check_figures(phone["figures"])
        check_math(phone["math"])
        assert not phone["too_wide"], f"{url}: wider than a phone screen: {phone}"


def test_collapsible_blocks_open_on_click(pages, seen):
    """Blocks opened on a phone: what they hold is typeset, drawn, and fits
    (a figure in a closed block missed the resize to the phone's width)."""
    found = 0
    for url, page in pages.items():
        if "opened" not in page:
            continue
        opened = page["opened"]
        assert opened["first_opened_by_click"], f"{url}: a ??? did not open"
        check_figures(opened["figures"])
        check_math(opened["math"])
        assert all(not f["hidden"] for f in opened["figures"]), url
        assert not opened["too_wide"], f"{url}: an opened block is too wide: {opened}"
        check_clean_load(url, page, seen["base"])  # nothing went wrong meanwhile
        found += opened["blocks"]
    assert found >= 2, "expected the KL derivation and the figure code blocks"


def test_batched_training_code_is_folded_until_the_reader_opens_it(pages):
    """torch.func's code shows neither on a tutorial page nor on a notebook
    page until the reader opens the block it is folded in (the notebook pages'
    cells folded by javascripts/notebook-cells.js); opened, it shows."""
    for url, page in pages.items():
        assert not page["batching_shown"], f"/{url} shows {page['batching_shown']}"
    for url in ("05_evaluation/", "notebooks/05_evaluation/"):
        assert pages[url]["opened"]["batching_shown"], f"/{url}: none after opening"


def test_figures_draw_after_navigating_with_the_theme(seen):
    """Instant navigation stays off; moving via the theme's own links redraws."""
    moved = seen["navigation"]
    assert "failure" not in moved, moved["failure"]
    # Two tutorial pages with figures, one the other's "Next" in the footer.
    order = [f"{p.stem}/" for p in TUTORIAL_PAGES]
    start = order.index(moved["start"])
    assert "navigation.instant" not in moved["features"]
    assert moved["next"]["url"] == seen["base"] + order[start + 1]
    assert moved["back"]["url"] == seen["base"] + order[start]
    for state in (moved["next"], moved["back"]):
        assert check_figures(state["figures"])
        check_math(state["math"])
    check_clean_load(moved["start"], moved, seen["base"])


def test_figure_payloads_are_valid_json(site):
    for page in site.rglob("*.html"):
        for payload in re.findall(
            r'<script[^>]*class="plotly-data"[^>]*>(.*?)</script>', page.read_text()
        ):
            spec = json.loads(payload.replace("<\\/", "</"))
            assert spec["data"], page
