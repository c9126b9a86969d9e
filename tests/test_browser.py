"""What a reader sees: every built page opened in headless Chromium.

Formulas typeset, figures drawn (also after navigating and in the dark palette),
images loaded, collapsible blocks and copy buttons working, and nothing fetched
from any host but the local server.
"""

import contextlib
import json
import re
from urllib.parse import urlparse

import pytest
from browser import chromium, serve, set_palette, site_pages, wait_until_drawn
from conftest import TUTORIAL_PAGES
from playwright.sync_api import TimeoutError as PlaywrightTimeout


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


def new_context(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    return context


@pytest.fixture(scope="module")
def loaded(site, pages):
    """Every page of the site, opened once: {url: Visit}. Tests that change a
    page (palette, viewport, open blocks) put it back or run last."""
    _, base, browser = site
    context = new_context(browser)
    yield {url: Visit(context, base, url) for url in pages}
    context.close()


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


def test_site_has_every_page_and_notebook(pages):
    notebooks = [p for p in pages if p.startswith("notebooks/")]
    assert {
        "",
        "00_setup/",
        "01_gbm_data/",
        "04_classifier/",
        "06_autoencoders/",
        "07_vae/",
    } <= set(pages)
    assert notebooks == [f"notebooks/{p.stem}/" for p in TUTORIAL_PAGES]


def check_clean_load(v):
    assert not v.errors, f"console errors: {v.errors}"
    assert not v.failed, f"failed requests: {v.failed}"
    local = urlparse(v.base).netloc
    foreign = [u for u in v.requests if urlparse(u).netloc not in (local, "")]
    assert not foreign, f"requests to other hosts: {foreign}"


def check_math(page):
    counts = page.evaluate(
        """() => ({
          spans: document.querySelectorAll('.arithmatex').length,
          rendered: document.querySelectorAll('.arithmatex mjx-container').length,
          errors: document.querySelectorAll('mjx-merror, [data-mjx-error]').length,
          zeroWidth: [...document.querySelectorAll('mjx-container')]
              .filter(e => e.getBoundingClientRect().width === 0
                           && e.closest('details:not([open])') === null).length,
        })"""
    )
    assert counts["rendered"] == counts["spans"], counts
    assert counts["errors"] == 0, counts
    assert counts["zeroWidth"] == 0, counts
    visible = page.evaluate("document.querySelector('.md-content').innerText")
    for raw in ("$$", "\\(", "\\["):
        assert raw not in visible, f"raw {raw!r} left in the page text"


FIGURE_STATE = """() => [...document.querySelectorAll('.tutorial-figure')].map(fig => {
  const el = fig.querySelector('.plotly-figure');
  const spec = JSON.parse(fig.querySelector('.plotly-data').textContent);
  const box = el.getBoundingClientRect();
  const title = t => (t && (t.text || t)) || '';
  return {
    specTraces: spec.data.length,
    drawnTraces: (el.data || []).length,
    hasSvg: !!el.querySelector('svg.main-svg'),
    title: title(spec.layout.title),
    shownTitle: (el.querySelector('.gtitle') || {}).textContent || '',
    xTitle: title((spec.layout.xaxis || {}).title),
    yTitle: title((spec.layout.yaxis || {}).title),
    shownX: [...el.querySelectorAll('.xtitle')].map(e => e.textContent),
    shownY: [...el.querySelectorAll('.ytitle')].map(e => e.textContent),
    splom: spec.data.some(t => t.type === 'splom'),
    points: el.querySelectorAll(
      '.scatterlayer .point, .scatterlayer .js-line, .gl-container').length,
    width: box.width, height: box.height,
    content: document.querySelector('.md-content__inner').getBoundingClientRect().width,
    fontColor: (el.layout.font || {}).color,
  };
})"""


def check_figures(page):
    figures = page.evaluate(FIGURE_STATE)
    for fig in figures:
        assert fig["hasSvg"], fig
        assert fig["drawnTraces"] == fig["specTraces"] > 0, fig
        assert fig["title"] and fig["shownTitle"] == fig["title"], fig
        if not fig["splom"]:  # a scatter matrix labels its dimensions instead
            assert fig["xTitle"] and fig["xTitle"] in fig["shownX"], fig
            assert fig["yTitle"] and fig["yTitle"] in fig["shownY"], fig
        assert fig["points"] > 0, f"figure '{fig['title']}' drew nothing"
        assert fig["height"] > 200 and fig["width"] <= fig["content"] + 1, fig
    return figures


def check_images(page):
    images = page.evaluate(
        """() => [...document.querySelectorAll('.md-content img')].map(img => ({
          src: img.src, width: img.naturalWidth, alt: img.alt,
          caption: (img.closest('figure')?.querySelector('figcaption')
                    ?.textContent || '').trim(),
        }))"""
    )
    for img in images:
        assert img["width"] > 0, f"image did not load: {img['src']}"
        assert img["alt"] or img["caption"], f"image without alt text or caption: {img}"


def test_every_page_loads_cleanly(loaded):
    for v in loaded.values():
        check_clean_load(v)


def test_every_formula_is_typeset(loaded):
    for v in loaded.values():
        check_math(v.page)


def test_every_figure_is_drawn_with_its_titles(loaded):
    drawn = {url: check_figures(v.page) for url, v in loaded.items()}
    autoencoders = next(
        figs for url, figs in drawn.items() if url == "06_autoencoders/"
    )
    # overfitting, AE, AE head, the repeated splits
    assert len(autoencoders) == 4
    vae = next(figs for url, figs in drawn.items() if url == "07_vae/")
    # VAE, the β sweep, latents, generated, interpolation, the repeated splits
    assert len(vae) == 6


def test_every_image_loads_and_is_described(loaded):
    for v in loaded.values():
        check_images(v.page)


def test_copy_button_copies_the_code(loaded):
    page = loaded["04_classifier/"].page
    block = page.locator(".md-content pre:has(button[data-md-type='copy'])").first
    expected = block.locator("code").inner_text()
    block.hover()
    block.locator("button[data-md-type='copy']").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.strip() == expected.strip()
    assert "import" in copied


def test_figures_follow_the_dark_palette(loaded):
    page = loaded["06_autoencoders/"].page
    set_palette(page, "default")
    light = check_figures(page)
    set_palette(page, "slate")
    page.wait_for_timeout(200)
    try:
        dark = check_figures(page)
        body_color = page.evaluate(
            "getComputedStyle(document.body)"
            ".getPropertyValue('--md-default-fg-color').trim()"
        )
    finally:
        set_palette(page, "default")
    for before, after in zip(light, dark, strict=True):
        assert before["fontColor"] != after["fontColor"]
        assert after["fontColor"] == body_color
    assert all(f["hasSvg"] for f in dark)  # redrawn, not blank, after the switch


TOO_WIDE = """[...document.querySelectorAll(
    'div.arithmatex, .tutorial-figure .plotly-figure')]
    .filter(el => el.scrollWidth > el.clientWidth + 1)
    .map(el => el.textContent.slice(0, 60))"""


def test_formulas_and_figures_fit_a_phone_screen(loaded):
    """At 390 px no display formula or figure runs off the content column."""
    for url, v in loaded.items():
        v.page.set_viewport_size({"width": 390, "height": 844})
        try:
            # Figures re-lay themselves out after debounced resize handlers.
            with contextlib.suppress(PlaywrightTimeout):
                v.page.wait_for_function(
                    f"() => ({TOO_WIDE}).length === 0", timeout=5000
                )
            too_wide = v.page.evaluate(TOO_WIDE)
        finally:
            v.page.set_viewport_size({"width": 1280, "height": 900})
        assert not too_wide, f"{url}: wider than a phone screen: {too_wide}"


def test_collapsible_blocks_open_on_click(loaded):
    found = 0
    for url, v in loaded.items():
        closed = v.page.query_selector_all("details:not([open])")
        if closed:
            # A real click on the first block; the rest are opened by script,
            # which is what the click does and costs far less per block.
            closed[0].query_selector("summary").click()
            assert closed[0].evaluate("d => d.open"), f"{url}: a ??? did not open"
            v.page.evaluate(
                "[...document.querySelectorAll('details')]"
                ".forEach(d => { d.open = true; })"
            )
            found += len(closed)
        check_math(v.page)  # formulas inside opened blocks are typeset and visible
        check_clean_load(v)  # and nothing went wrong while opening them
    assert found >= 2, "expected the KL derivation and the figure code blocks"


def test_figures_draw_after_navigating_with_the_theme(visit, pages):
    """Instant navigation stays off; moving via the theme's own links redraws."""
    v = visit(next(u for u in pages if "classifier" in u))
    features = v.page.evaluate(
        "JSON.parse(document.querySelector('#__config').textContent).features"
    )
    assert "navigation.instant" not in features
    # Footer "Next" link -> Autoencoders, then the browser's back button.
    v.page.locator("a.md-footer__link--next").click()
    wait_until_drawn(v.page)
    assert "autoencoders" in v.page.url
    check_figures(v.page)
    check_math(v.page)
    v.page.go_back()
    wait_until_drawn(v.page)
    check_figures(v.page)
    check_clean_load(v)


def test_figure_payloads_are_valid_json(site):
    site_dir = site[0]
    for page in site_dir.rglob("*.html"):
        for payload in re.findall(
            r'<script[^>]*class="plotly-data"[^>]*>(.*?)</script>', page.read_text()
        ):
            spec = json.loads(payload.replace("<\\/", "</"))
            assert spec["data"], page
