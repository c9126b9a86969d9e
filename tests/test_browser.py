"""What a reader sees: every built page opened in headless Chromium, offline.

Formulas typeset and figures drawn with their titles, in the light and the dark
palette and on a phone screen (also after navigating with the theme's links);
MathJax fetched only by pages with formulas and plotly.js only by pages with
figures; images loaded, collapsible blocks and copy buttons working; and no
request to any host but the local server (the browser cannot reach one, and
the tests fail on any attempt).
"""

import contextlib
import json
import re
from urllib.parse import urlparse

import pytest
from browser import (
    PLOTLY_JS,
    chromium,
    serve,
    served_plotly,
    set_palette,
    site_pages,
    wait_until_drawn,
)
from conftest import TUTORIAL_PAGES, stem_of
from playwright.sync_api import TimeoutError as PlaywrightTimeout

MATHJAX = "assets/vendor/mathjax/"  # every file of it (math-config.js)
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def site(built_site):
    site_dir, result = built_site
    assert result.returncode == 0, result.stderr
    with serve(site_dir) as base, chromium() as browser:
        yield site_dir, base, browser


@pytest.fixture(scope="module")
def pages(site):
    return site_pages(site[0])


class Visit:
    """One page load with every console message, error and request recorded."""

    def __init__(self, context, base, url):
        self.base, self.url = base, url
        self.page = context.new_page()
        self.errors, self.failed, self.requests = [], [], []
        self.page.on(
            "console",
            lambda m: self.errors.append(m.text) if m.type == "error" else None,
        )
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("requestfailed", lambda r: self.failed.append(r.url))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on(
            "response", lambda r: self.failed.append(r.url) if r.status >= 400 else None
        )
        self.page.goto(base + url)
        wait_until_drawn(self.page)

    def fetched(self, path: str) -> bool:
        """Whether the page asked for this site path (or a file under it)."""
        return any(url.startswith(self.base + path) for url in self.requests)


def new_context(browser):
    context = browser.new_context(viewport=DESKTOP)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    return context


@pytest.fixture(scope="module")
def loaded(site, pages):
    """Every page of the site, opened once, light, at desktop size: {url: Visit}.
    The last tests of this file change them (the dark palette, then a phone's
    width, then open blocks) and leave them so: putting them back would redraw
    every figure. Each of those tests holds on its own too."""
    _, base, browser = site
    context = new_context(browser)
    yield {url: Visit(context, base, url) for url in pages}
    context.close()


def one_by_one(loaded):
    """Each open page in turn, brought to the front: a background tab gets no
    animation frames, which plotly.js's redraws and Playwright's waits use."""
    for url, v in loaded.items():
        v.page.bring_to_front()
        yield url, v


@pytest.fixture
def visit(site):
    """Open a page in a fresh browser context (for tests that navigate away)."""
    _, base, browser = site
    contexts = []

    def open_page(url):
        contexts.append(new_context(browser))
        return Visit(contexts[-1], base, url)

    yield open_page
    for context in contexts:
        context.close()


def tutorial_urls():
    """{url: stem} of every tutorial page and of its notebook page."""
    urls = {}
    for page in TUTORIAL_PAGES:
        urls[f"{page.stem}/"] = urls[f"notebooks/{page.stem}/"] = stem_of(page)
    return urls


def test_site_has_every_page_and_notebook(pages):
    notebooks = [p for p in pages if p.startswith("notebooks/")]
    assert {"", "00_setup/", *tutorial_urls()} <= set(pages)
    assert notebooks == [f"notebooks/{p.stem}/" for p in TUTORIAL_PAGES]


def check_clean_load(v):
    local = urlparse(v.base).netloc
    foreign = [u for u in v.requests if urlparse(u).netloc not in (local, "")]
    assert not foreign, f"{v.url}: requests to other hosts: {foreign}"
    assert not v.errors, f"{v.url}: console errors: {v.errors}"
    assert not v.failed, f"{v.url}: failed requests: {v.failed}"


MATH_STATE = """() => {
  // The prose of notebook Markdown cells, where TeX sits between $ signs.
  const prose = [...document.querySelectorAll('.jp-RenderedMarkdown')].map(cell => {
    const copy = cell.cloneNode(true);
    copy.querySelectorAll('code, pre, mjx-container').forEach(el => el.remove());
    return copy.textContent;
  }).join(' ');
  return {
    spans: document.querySelectorAll('.arithmatex').length,
    rendered: document.querySelectorAll('.arithmatex mjx-container').length,
    typeset: document.querySelectorAll('mjx-container').length,
    errors: document.querySelectorAll('mjx-merror, [data-mjx-error]').length,
    zeroWidth: [...document.querySelectorAll('mjx-container')]
        .filter(e => e.getBoundingClientRect().width === 0
                     && e.closest('details:not([open])') === null).length,
    text: document.querySelector('.md-content').innerText,
    dollarsInProse: (prose.match(/\\$/g) || []).length,
  };
}"""


def check_math(page):
    """Every formula typeset, none broken, no TeX left as text; the count typeset."""
    math = page.evaluate(MATH_STATE)
    text = math.pop("text")
    assert math["rendered"] == math["spans"], math
    assert math["errors"] == 0, math
    assert math["zeroWidth"] == 0, math
    assert math["dollarsInProse"] == 0, f"TeX left as text in a notebook cell: {math}"
    for raw in ("$$", "\\(", "\\["):
        assert raw not in text, f"raw {raw!r} left in the page text"
    return math["typeset"]


FIGURE_STATE = """() => [...document.querySelectorAll('.tutorial-figure')].map(fig => {
  const el = fig.querySelector('.plotly-figure');
  const spec = JSON.parse(fig.querySelector('.plotly-data').textContent);
  const box = el.getBoundingClientRect();
  const title = t => (t && (t.text || t)) || '';
  // Axis titles the figure asks for ({x: ..., x2: ...}) and those shown.
  const axisTitles = {};
  for (const [key, axis] of Object.entries(spec.layout)) {
    const name = key.match(/^([xy])axis(\\d*)$/);
    if (name && title(axis.title)) axisTitles[name[1] + name[2]] = title(axis.title);
  }
  const shownAxisTitles = {};
  el.querySelectorAll('.infolayer text').forEach(t => {
    const name = (t.getAttribute('class') || '').match(/^([xy]\\d*)title$/);
    if (name) shownAxisTitles[name[1]] = t.textContent;
  });
  return {
    specTraces: spec.data.length,
    drawnTraces: (el.data || []).length,
    hasSvg: !!el.querySelector('svg.main-svg'),
    title: title(spec.layout.title),
    shownTitle: (el.querySelector('.gtitle') || {}).textContent || '',
    axisTitles, shownAxisTitles,
    // Trace groups that hold a mark: a line, marker, bar, box or heatmap image.
    marks: [...el.querySelectorAll('.cartesianlayer .mlayer > g')].filter(
      g => g.querySelector('path[d]:not([d=""]), image')).length,
    width: box.width, height: box.height,
    hidden: !!el.closest('details:not([open])'),  // no size until its block opens
    content: document.querySelector('.md-content__inner').getBoundingClientRect().width,
    fontColor: (el.layout.font || {}).color,
  };
})"""


def check_figures(page):
    figures = page.evaluate(FIGURE_STATE)
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


# The trace types of each figure that the served plotly.js has no module for:
# plotly.js draws such a trace as nothing, without an error of its own.
MISSING_TRACE_TYPES = """() => {
  if (!window.Plotly) return [];
  const known = new Set(Object.keys(Plotly.PlotSchema.get().traces));
  return [...document.querySelectorAll('.tutorial-figure .plotly-data')].map(data => {
    const spec = JSON.parse(data.textContent);
    const title = spec.layout.title;
    return {
      title: (title && (title.text || title)) || '',
      missing: [...new Set(spec.data.map(t => t.type || 'scatter'))]
        .filter(type => !known.has(type)),
    };
  }).filter(figure => figure.missing.length);
}"""


def test_every_figure_is_drawn_with_its_titles(site, loaded, page_run):
    bundle = served_plotly(site[0])  # e.g. "plotly.js (basic - minified) v4.1.1"
    missing = [
        f"/{url}: figure '{f['title']}' uses trace type {', '.join(f['missing'])}"
        for url, v in loaded.items()
        for f in v.page.evaluate(MISSING_TRACE_TYPES)
    ]
    assert not missing, f"the served {bundle} cannot draw: " + "; ".join(missing)
    for url, v in loaded.items():
        figures = check_figures(v.page)
        if url in tutorial_urls():
            assert len(figures) == len(page_run(tutorial_urls()[url]).figures), url


def test_every_page_loads_cleanly(loaded):
    for v in loaded.values():
        check_clean_load(v)


def test_every_formula_is_typeset(loaded):
    for v in loaded.values():
        check_math(v.page)


def test_mathjax_and_plotly_load_only_where_needed(loaded):
    """A page fetches MathJax only if it has a formula (each then typeset:
    test_every_formula_is_typeset), and plotly.js only if it has a figure."""
    with_math = with_figures = 0
    for url, v in loaded.items():
        count = "selector => document.querySelectorAll(selector).length"
        formulas = v.page.evaluate(count, "mjx-container")
        figures = v.page.evaluate(count, ".tutorial-figure")
        assert v.fetched(MATHJAX) == (formulas > 0), f"/{url}: {formulas} formulas"
        assert v.fetched(PLOTLY_JS) == (figures > 0), f"/{url}: {figures} figures"
        with_math += formulas > 0
        with_figures += figures > 0
    assert 0 < with_math < len(loaded) and 0 < with_figures < len(loaded)


def test_plotly_js_is_the_version_plotly_writes_for(site, loaded):
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
    served = (site[0] / PLOTLY_JS).read_bytes()
    for name in bundles:
        package = ROOT / "node_modules" / name
        if (package / "package.json").exists():  # installed by `npm ci`
            main = json.loads((package / "package.json").read_text())["main"]
            assert served == (package / main).read_bytes(), f"{name} is not served"
    drawing = next(v for v in loaded.values() if v.fetched(PLOTLY_JS))
    assert drawing.page.evaluate("Plotly.version") == wanted


def test_every_image_loads_and_is_described(loaded):
    images = """() => [...document.querySelectorAll('.md-content img')].map(img => ({
      src: img.src, width: img.naturalWidth, alt: img.alt,
      caption: (img.closest('figure')?.querySelector('figcaption')
                ?.textContent || '').trim(),
    }))"""
    for v in loaded.values():
        for img in v.page.evaluate(images):
            assert img["width"] > 0, f"image did not load: {img['src']}"
            assert img["alt"] or img["caption"], f"image without alt text: {img}"


def test_copy_button_copies_the_code(loaded):
    copyable = ".md-content pre:has(button[data-md-type='copy'])"
    pages = [loaded[url].page for url in tutorial_urls() if "notebooks/" not in url]
    page = next(page for page in pages if page.query_selector(copyable))
    block = page.locator(copyable).first
    expected = block.locator("code").inner_text()
    block.hover()
    block.locator("button[data-md-type='copy']").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.strip() == expected.strip() != ""


def test_figures_and_formulas_in_the_dark_palette(loaded):
    """Every page with a figure or formula, switched to the dark palette:
    figures redrawn in its colours, with their titles; formulas still typeset."""
    switched = 0
    for url, v in one_by_one(loaded):
        page = v.page
        light = check_figures(page)
        if not light and not check_math(page):
            continue
        set_palette(page, "slate")
        page.wait_for_function(  # figures.js redraws on the palette switch
            "color => [...document.querySelectorAll('.plotly-figure')]"
            ".every(el => el.layout.font.color !== color)",
            arg=light[0]["fontColor"] if light else None,
        )
        dark = check_figures(page)
        check_math(page)
        body_color = page.evaluate(
            "getComputedStyle(document.body)"
            ".getPropertyValue('--md-default-fg-color').trim()"
        )
        for before, after in zip(light, dark, strict=True):
            assert before["fontColor"] != after["fontColor"], (url, after["title"])
            assert after["fontColor"] == body_color, (url, after["title"])
        switched += 1
    assert switched >= 2


# Shown display formulas and figures that overflow their own box, and figures
# wider than the column (display formulas bleed into its margins on phones,
# as Material lays them out).
TOO_WIDE = """() => {
  const column = document.querySelector('.md-content__inner').clientWidth;
  const shown = 'div.arithmatex, .tutorial-figure .plotly-figure';
  return [...document.querySelectorAll(shown)]
    .filter(el => !el.closest('details:not([open])'))
    .filter(el => el.scrollWidth > el.clientWidth + 1
                  || (el.classList.contains('plotly-figure')
                      && el.getBoundingClientRect().width > column + 1))
    .map(el => el.textContent.slice(0, 60));
}"""


def too_wide_for_a_phone(page) -> list[str]:
    """Narrow the page to a phone's width; what still overflows once figures
    have re-laid themselves out (after debounced resize handlers)."""
    page.set_viewport_size(PHONE)
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(f"() => ({TOO_WIDE})().length === 0", timeout=5000)
    return page.evaluate(TOO_WIDE)


def test_formulas_and_figures_fit_a_phone_screen(loaded):
    """At 390 px every figure is drawn (with its titles) and every formula
    typeset, and none runs off the content column."""
    for url, v in one_by_one(loaded):
        too_wide = too_wide_for_a_phone(v.page)
        check_figures(v.page)
        check_math(v.page)
        assert not too_wide, f"{url}: wider than a phone screen: {too_wide}"


def test_collapsible_blocks_open_on_click(loaded):
    """Blocks opened on a phone: what they hold is typeset, drawn, and fits
    (a figure in a closed block missed the resize to the phone's width)."""
    found = 0
    for url, v in one_by_one(loaded):
        closed = v.page.query_selector_all("details:not([open])")
        if not closed:
            continue
        v.page.set_viewport_size(PHONE)
        # A real click on the first block; the rest are opened by script,
        # which is what the click does and costs far less per block.
        closed[0].query_selector("summary").click()
        assert closed[0].evaluate("d => d.open"), f"{url}: a ??? did not open"
        v.page.evaluate(
            "[...document.querySelectorAll('details')].forEach(d => { d.open = true; })"
        )
        too_wide = too_wide_for_a_phone(v.page)
        check_figures(v.page)
        check_math(v.page)
        assert not too_wide, f"{url}: an opened block is too wide: {too_wide}"
        check_clean_load(v)  # nothing went wrong while opening them
        found += len(closed)
    assert found >= 2, "expected the KL derivation and the figure code blocks"


def test_figures_draw_after_navigating_with_the_theme(visit, loaded):
    """Instant navigation stays off; moving via the theme's own links redraws."""
    # Two tutorial pages with figures, one the other's "Next" in the footer.
    order = [f"{p.stem}/" for p in TUTORIAL_PAGES]
    start, following = next(
        (a, b)
        for a, b in zip(order, order[1:], strict=False)
        if all(loaded[u].page.query_selector(".tutorial-figure") for u in (a, b))
    )
    v = visit(start)
    features = v.page.evaluate(
        "JSON.parse(document.querySelector('#__config').textContent).features"
    )
    assert "navigation.instant" not in features
    v.page.locator("a.md-footer__link--next").click()
    wait_until_drawn(v.page)
    assert v.page.url == v.base + following
    assert check_figures(v.page)
    check_math(v.page)
    v.page.go_back()
    wait_until_drawn(v.page)
    assert v.page.url == v.base + start
    assert check_figures(v.page)
    check_clean_load(v)


def test_figure_payloads_are_valid_json(site):
    site_dir = site[0]
    for page in site_dir.rglob("*.html"):
        for payload in re.findall(
            r'<script[^>]*class="plotly-data"[^>]*>(.*?)</script>', page.read_text()
        ):
            spec = json.loads(payload.replace("<\\/", "</"))
            assert spec["data"], page
