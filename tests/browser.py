"""A built site served on loopback and a headless Chromium to look at it.

Used by the browser tests and by `make screenshots`:

    python tests/browser.py screenshots [SITE_DIR] [OUT_DIR]
"""

from __future__ import annotations

import contextlib
import functools
import http.server
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
    """A headless Debian Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def site_pages(site_dir: Path) -> list[str]:
    """Relative URLs of the site's content pages (404 page excluded)."""
    pages = []
    for index in sorted(site_dir.rglob("index.html")):
        rel = index.parent.relative_to(site_dir).as_posix()
        if rel.startswith("assets"):
            continue
        pages.append("" if rel == "." else rel + "/")
    return pages


def wait_until_drawn(page) -> None:
    """Wait for MathJax to finish and every figure to have its SVG."""
    page.wait_for_load_state("load")
    page.wait_for_function(
        "() => !window.MathJax || !MathJax.startup || !MathJax.startup.promise"
        " || MathJax.startup.promise.then(() => true)"
    )
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
            page = browser.new_page(viewport={"width": viewport, "height": 900})
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
            page.close()
    return shots


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] != "screenshots":
        sys.exit(__doc__)
    site = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "site"
    out = Path(sys.argv[3]) if len(sys.argv) > 3 else ROOT / "screenshots"
    for path in take_screenshots(site, out):
        print(path)
