"""A built site served on loopback and a headless Chromium to look at it.

Used by the browser tests and by `make screenshots`:

    python tests/browser.py screenshots [SITE_DIR] [OUT_DIR]
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import re
import socket
import sys
import threading
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
    if len(sys.argv) < 2 or sys.argv[1] != "screenshots":
        sys.exit(__doc__)
    site = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "site"
    out = Path(sys.argv[3]) if len(sys.argv) > 3 else ROOT / "screenshots"
    for path in take_screenshots(site, out):
        print(path)
