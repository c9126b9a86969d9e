"""What a reader sees: every built page opened in headless Chromium.

Formulas typeset, figures drawn (also after navigating and in the dark palette),
images loaded, collapsible blocks and copy buttons working, and nothing fetched
from any host but the local server.
"""

import json
import re
from urllib.parse import urlparse

import pytest
from browser import chromium, serve, set_palette, site_pages, wait_until_drawn


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

    def __init__(self, browser, base, url):
        self.base = base
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.grant_permissions(["clipboard-read", "clipboard-write"])
        self.page = self.context.new_page()
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

    def close(self):
        self.context.close()


@pytest.fixture
def visit(site):
    _, base, browser = site
    opened = []

    def open_page(url):
        opened.append(Visit(browser, base, url))
        return opened[-1]

    yield open_page
    for v in opened:
        v.close()


def test_site_has_every_page_and_notebook(pages):
    notebooks = [p for p in pages if p.startswith("notebooks/")]
    assert len(pages) - len(notebooks) == 5, pages
    assert len(notebooks) == 3, pages


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


def test_every_page_loads_cleanly_with_math_figures_and_images(visit, pages):
    for url in pages:
        v = visit(url)
        check_clean_load(v)
        check_math(v.page)
        check_figures(v.page)
        check_images(v.page)


def test_tutorial_pages_have_figures_and_formulas(visit, pages):
    autoencoders = next(u for u in pages if "autoencoders" in u)
    v = visit(autoencoders)
    assert len(check_figures(v.page)) >= 3
    assert v.page.evaluate("document.querySelectorAll('mjx-container').length") >= 5


def test_collapsible_blocks_open_on_click(visit, pages):
    found = 0
    for url in pages:
        v = visit(url)
        # Element handles, not locators: a locator would re-match the next closed one.
        for details in v.page.query_selector_all("details:not([open])"):
            details.query_selector("summary").click()
            assert details.evaluate("d => d.open"), f"{url}: a ??? block did not open"
            found += 1
            # Math inside it is typeset and visible once open.
            check_math(v.page)
    assert found >= 1, (
        "no collapsible block on the site (the KL derivation should be one)"
    )


def test_copy_button_copies_the_code(visit, pages):
    v = visit(next(u for u in pages if "classifier" in u))
    block = v.page.locator(".md-content pre:has(button[data-md-type='copy'])").first
    expected = block.locator("code").inner_text()
    block.hover()
    block.locator("button[data-md-type='copy']").click()
    copied = v.page.evaluate("navigator.clipboard.readText()")
    assert copied.strip() == expected.strip()
    assert "import" in copied


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


def test_formulas_and_figures_fit_a_phone_screen(site, pages):
    """At 390 px no display formula or figure runs off the content column."""
    _, base, browser = site
    page = browser.new_page(viewport={"width": 390, "height": 844})
    try:
        for url in pages:
            page.goto(base + url)
            wait_until_drawn(page)
            too_wide = page.evaluate(
                """() => [...document.querySelectorAll(
                      'div.arithmatex, .tutorial-figure .plotly-figure')]
                    .filter(el => el.scrollWidth > el.clientWidth + 1)
                    .map(el => el.textContent.slice(0, 60))"""
            )
            assert not too_wide, f"{url}: wider than a phone screen: {too_wide}"
    finally:
        page.close()


def test_figures_follow_the_dark_palette(visit, pages):
    v = visit(next(u for u in pages if "autoencoders" in u))
    set_palette(v.page, "default")
    light = check_figures(v.page)
    set_palette(v.page, "slate")
    v.page.wait_for_timeout(200)
    dark = check_figures(v.page)
    body_color = v.page.evaluate(
        "getComputedStyle(document.body).getPropertyValue('--md-default-fg-color').trim()"
    )
    for before, after in zip(light, dark, strict=True):
        assert before["fontColor"] != after["fontColor"]
        assert after["fontColor"] == body_color
    # Redrawn, not blank, after the switch.
    assert all(f["hasSvg"] for f in dark)


def test_figure_payloads_are_valid_json(site):
    site_dir = site[0]
    for page in site_dir.rglob("*.html"):
        for payload in re.findall(
            r'class="plotly-data">(.*?)</script>', page.read_text()
        ):
            spec = json.loads(payload.replace("<\\/", "</"))
            assert spec["data"], page
