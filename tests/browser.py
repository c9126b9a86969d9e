"""A built site served on loopback and a headless Chromium to look at it.

    python tests/browser.py look SITE_DIR OUT.json      # what the tests read
    python tests/browser.py screenshots [SITE_DIR] [OUT_DIR]

`look` opens every page of the site once, in one tab, and records what a
reader would see on it: in the light palette at desktop width, then in the
dark palette, at a phone's width, and with its collapsible blocks opened; and
the console errors, failed requests and every request the page made. Then it
copies a code block with its button and follows a footer link. It writes the
lot as JSON for tests/test_browser.py, which asserts on it; tests/conftest.py
starts it in the background once the strict build is done (fixture `seen`),
so that the browser's work overlaps the other tests.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import re
import socket
import sys
import threading
import traceback
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
# Without these, Chromium reaches for Google's hosts, which this network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ROOT = Path(__file__).resolve().parent.parent
PALETTE_NAMES = {"default": "light", "slate": "dark"}
PLOTLY_JS = "assets/vendor/plotly.min.js"  # hooks/site_hooks.py: vendor_assets
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(site_dir: Path, handler_class=QuietHandler):
    """Serve site_dir on 127.0.0.1 on a free port; yields the base URL."""
    handler = functools.partial(handler_class, directory=str(site_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextlib.contextmanager
def chromium():
    """A headless Debian Chromium driven by Playwright (never a downloaded
    browser), offline: every request to a host other than this machine fails
    at once (net::ERR_PROXY_CONNECTION_FAILED), since its proxy is a port that
    refuses connections and Chromium never proxies loopback addresses. (Not
    Playwright's proxy option, which proxies loopback too, nor request routing,
    which turns the HTTP cache off.)"""
    from playwright.sync_api import sync_playwright

    with socket.socket() as refusing, sync_playwright() as playwright:
        refusing.bind(("127.0.0.1", 0))  # bound but never listening
        proxy = f"--proxy-server=http://127.0.0.1:{refusing.getsockname()[1]}"
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, proxy]
        )
        try:
            yield browser
        finally:
            browser.close()


def served_plotly(site_dir: Path) -> str:
    """The site's plotly.js as its own header names it, e.g.
    'plotly.js (basic - minified) v4.1.1'."""
    head = (site_dir / PLOTLY_JS).read_bytes()[:300].decode(errors="replace")
    found = re.search(r"plotly\.js[^\n*]*v\d+\.\d+\.\d+", head)
    return found[0] if found else "plotly.js (no version in its header)"


def site_pages(site_dir: Path) -> list[str]:
    """Relative URLs of the site's content pages (404 page excluded)."""
    pages = []
    for index in sorted(site_dir.rglob("index.html")):
        rel = index.parent.relative_to(site_dir).as_posix()
        if rel.startswith("assets"):
            continue
        pages.append("" if rel == "." else rel + "/")
    return pages


# math-config.js adds MathJax's startup.js to pages with formulas only; once it
# runs, MathJax.startup.promise settles after the first typesetting.
MATH_TYPESET = """() => !document.querySelector('script[src*="/mathjax/"]')
  || (window.MathJax.startup && window.MathJax.startup.promise
      && MathJax.startup.promise.then(() => true))"""


def wait_until_drawn(page) -> None:
    """Wait for MathJax to finish (where a page loads it) and every figure to
    have its SVG."""
    page.wait_for_load_state("load")
    page.wait_for_function(MATH_TYPESET, timeout=20_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.plotly-figure')]"
        ".every(el => el.querySelector('svg.main-svg'))",
        timeout=20_000,
    )


def set_palette(page, scheme: str) -> None:
    """Switch Material's palette ('default' or 'slate') as its toggle does."""
    current = page.evaluate("document.body.getAttribute('data-md-color-scheme')")
    if current != scheme:
        page.locator("label.md-header__button[for^='__palette']:visible").first.click()
        page.wait_for_function(
            f"document.body.getAttribute('data-md-color-scheme') === '{scheme}'"
        )


# ------------------------------------------------------------ what a reader sees

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
    rawTeX: ['$$', '\\\\(', '\\\\['].filter(
        raw => document.querySelector('.md-content').innerText.includes(raw)),
    dollarsInProse: (prose.match(/\\$/g) || []).length,
  };
}"""

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

IMAGES = """() => [...document.querySelectorAll('.md-content img')].map(img => ({
  src: img.src, width: img.naturalWidth, alt: img.alt,
  caption: (img.closest('figure')?.querySelector('figcaption')
            ?.textContent || '').trim(),
}))"""
# The shown code blocks of a page (a notebook page's code cells too) that
# use torch.func: the machinery that makes the build fast (tests/test_site.py).
BATCHING = ("torch.func", "vmap", "stack_module_state", "functional_call")
BATCHING_SHOWN = """names => [...document.querySelectorAll(
    '.md-content pre, .md-content .jp-CodeCell .jp-InputArea')]
  .filter(el => el.checkVisibility() && names.some(n => el.innerText.includes(n)))
  .map(el => el.innerText.slice(0, 60))"""
COUNT = "selector => document.querySelectorAll(selector).length"
COPYABLE = ".md-content pre:has(button[data-md-type='copy'])"
OPEN_EVERY_BLOCK = "document.querySelectorAll('details').forEach(d => d.open = true)"
BODY_COLOR = (
    "getComputedStyle(document.body).getPropertyValue('--md-default-fg-color').trim()"
)


def drawn_state(page) -> dict:
    return {"figures": page.evaluate(FIGURE_STATE), "math": page.evaluate(MATH_STATE)}


def too_wide(page) -> list[str]:
    """What still overflows once figures have re-laid themselves out for the
    viewport (after debounced resize handlers)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(f"() => ({TOO_WIDE})().length === 0", timeout=5000)
    return page.evaluate(TOO_WIDE)


class Recorder:
    """The console errors, failed requests and requests of the page being
    looked at; `start(seen)` points them at that page's record."""

    def __init__(self, page):
        self.seen = {}
        page.on("console", lambda m: self.add("errors", m.text, m.type == "error"))
        page.on("pageerror", lambda e: self.add("errors", str(e)))
        page.on("requestfailed", lambda r: self.add("failed", r.url))
        page.on("request", lambda r: self.add("requests", r.url))
        page.on("response", lambda r: self.add("failed", r.url, r.status >= 400))

    def add(self, kind: str, text: str, keep: bool = True) -> None:
        if keep:
            self.seen.setdefault(kind, []).append(text)

    def start(self, seen: dict) -> dict:
        seen.update(errors=[], failed=[], requests=[])
        self.seen = seen
        return seen


def look_at_page(page, url: str, seen: dict) -> None:
    """One page as a reader meets it: light at desktop width, then dark, then
    on a phone, then with every block open. Fills `seen`."""
    page.goto(url)
    wait_until_drawn(page)
    seen["light"] = drawn_state(page)
    seen["missing_trace_types"] = page.evaluate(MISSING_TRACE_TYPES)
    seen["plotly_version"] = page.evaluate("window.Plotly ? Plotly.version : null")
    seen["images"] = page.evaluate(IMAGES)
    seen["copyable"] = page.evaluate(COUNT, COPYABLE)
    seen["batching_shown"] = page.evaluate(BATCHING_SHOWN, BATCHING)
    figures = seen["light"]["figures"]
    if figures or seen["light"]["math"]["typeset"]:
        set_palette(page, "slate")
        page.wait_for_function(  # figures.js redraws on the palette switch
            "color => [...document.querySelectorAll('.plotly-figure')]"
            ".every(el => el.layout.font.color !== color)",
            arg=figures[0]["fontColor"] if figures else None,
        )
        seen["dark"] = {**drawn_state(page), "body_color": page.evaluate(BODY_COLOR)}
    page.set_viewport_size(PHONE)
    seen["phone"] = {"too_wide": too_wide(page), **drawn_state(page)}
    closed = page.query_selector_all("details:not([open])")
    if closed:
        # A real click on the first block; the rest are opened by script,
        # which is what the click does and costs far less per block.
        closed[0].query_selector("summary").click()
        first_opened = closed[0].evaluate("d => d.open")
        page.evaluate(OPEN_EVERY_BLOCK)
        seen["opened"] = {
            "blocks": len(closed),
            "first_opened_by_click": first_opened,
            "batching_shown": page.evaluate(BATCHING_SHOWN, BATCHING),
            "too_wide": too_wide(page),
            **drawn_state(page),
        }


def copy_a_code_block(page, base: str, url: str | None) -> dict:
    """Click the copy button of a page's first code block; what it put on the
    clipboard, and the block's code."""
    assert url, "no tutorial page has a code block with a copy button"
    page.goto(base + url)
    block = page.locator(COPYABLE).first
    expected = block.locator("code").inner_text()
    block.hover()
    block.locator("button[data-md-type='copy']").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    return {"url": url, "code": expected, "copied": copied}


def follow_next_link(page, base: str, start: str | None) -> dict:
    """From a page, the footer's "Next" link, then the browser's Back."""
    assert start, "no two tutorial pages in a row have figures"
    page.goto(base + start)
    wait_until_drawn(page)
    features = page.evaluate(
        "JSON.parse(document.querySelector('#__config').textContent).features"
    )
    page.locator("a.md-footer__link--next").click()
    wait_until_drawn(page)
    after_next = {"url": page.url, **drawn_state(page)}
    page.go_back()
    wait_until_drawn(page)
    back = {"url": page.url, **drawn_state(page)}
    return {"start": start, "features": features, "next": after_next, "back": back}


def look(site_dir: Path) -> dict:
    """Every page of the site as a reader sees it: {"pages": {url: what was
    seen}, "copy": ..., "navigation": ...}. A page whose look raised has
    its traceback as "failure"; the look goes on with the next page."""
    found = {"pages": {}}
    with serve(site_dir) as base, chromium() as browser:
        found["base"] = base
        context = browser.new_context(viewport=DESKTOP)
        context.grant_permissions(["clipboard-read", "clipboard-write"])
        page = context.new_page()
        recorder = Recorder(page)
        for url in site_pages(site_dir):
            seen = recorder.start(found["pages"].setdefault(url, {}))
            try:
                look_at_page(page, base + url, seen)
            except Exception:  # noqa: BLE001 (reported by the tests, page by page)
                seen["failure"] = traceback.format_exc()
            # The next page opens light and at desktop width, as a new reader's.
            page.evaluate("localStorage.clear()")
            page.set_viewport_size(DESKTOP)
        copyable = first_with(found, lambda seen: seen.get("copyable"))
        found["copy"] = look_after(
            recorder, lambda: copy_a_code_block(page, base, copyable)
        )
        start = first_with(found, figures_of, and_next=True)
        found["navigation"] = look_after(
            recorder, lambda: follow_next_link(page, base, start)
        )
        context.close()
    return found


def look_after(recorder: Recorder, action) -> dict:
    """What `action()` returns, with the requests and errors meanwhile."""
    seen = recorder.start({})
    try:
        seen.update(action())
    except Exception:  # noqa: BLE001
        seen["failure"] = traceback.format_exc()
    return seen


def figures_of(seen: dict) -> list:
    return seen.get("light", {}).get("figures", [])


def first_with(found: dict, wanted, and_next: bool = False) -> str | None:
    """The first tutorial page whose record is `wanted` (`and_next`: and so
    is the page after it)."""
    urls = [u for u in found["pages"] if re.match(r"\d\d_", u)]
    has = [bool(wanted(found["pages"][u])) for u in urls]
    if and_next:
        has = [a and b for a, b in zip(has, has[1:], strict=False)]
    return next((u for u, yes in zip(urls, has, strict=False) if yes), None)


def take_screenshots(site_dir: Path, out_dir: Path, width: int = 1280) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    shots = []
    with serve(site_dir) as base, chromium() as browser:
        for viewport, name in ((width, "desktop"), (390, "phone")):
            context = browser.new_context(viewport={"width": viewport, "height": 900})
            page = context.new_page()
            for url in site_pages(site_dir):
                page.goto(base + url)
                wait_until_drawn(page)
                slug = url.strip("/").replace("/", "_") or "index"
                for scheme in ("default", "slate"):
                    set_palette(page, scheme)
                    page.wait_for_timeout(300)
                    shot = out_dir / f"{slug}-{name}-{PALETTE_NAMES[scheme]}.png"
                    page.screenshot(path=str(shot), full_page=True)
                    shots.append(shot)
                set_palette(page, "default")
            context.close()
    return shots


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "look":
        Path(sys.argv[3]).write_text(json.dumps(look(Path(sys.argv[2]))))
        sys.exit()
    if len(sys.argv) < 2 or sys.argv[1] != "screenshots":
        sys.exit(__doc__)
    site = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "site"
    out = Path(sys.argv[3]) if len(sys.argv) > 3 else ROOT / "screenshots"
    for path in take_screenshots(site, out):
        print(path)
