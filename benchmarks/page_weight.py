"""The pages as readers see them: what each page of the built site weighs.

    python benchmarks/page_weight.py [SITE_DIR]        (default: site)

Every page is opened in headless Chromium (tests/browser.py), offline (a
request to another host fails, and fails the run), and every response it
loads is recorded, workers and lazily loaded fonts included.
Each resource is counted at the size a static host would send it: gzip
(level 6) of its body, or the raw size for formats that are already
compressed (fonts, images).

- FIRST visit: a fresh browser profile (cold cache); everything the page
  requests crosses the network. It is split into the page's HTML, its
  scripts and its stylesheets (together: the budgeted weight), its fonts
  (MathJax's, fetched as formulas need them) and everything else (the search
  index, images).
- REPEAT visit: the same page loaded again in the same profile, measured for
  real. The local server sends the headers a static host would:
  ``Cache-Control: max-age=3600`` for the shared site assets (assets/,
  javascripts/, stylesheets/, search/) and ``no-store`` for everything else,
  so HTML documents and page-specific files (images, notebooks) are fetched
  again every time. Repeat bytes are what the server actually sent.

Budgets (exit status 1 if one fails):

- every page's first visit is at most 900 KB gzipped: its HTML plus the
  scripts and stylesheets it loads (fonts and other requests are reported
  beside it, not counted);
- plotly.js (one file) and MathJax (its components, under
  assets/vendor/mathjax/) are shared by the pages that load them, sent at
  most once per site visit (checked by visiting every page in one profile),
  and their code appears in no other response (no page embeds them); exactly
  the pages with a figure load plotly.js. Which plotly.js bundle is served
  (partial or full) is printed with the table;
- each figure's own data (the JSON of a ``plotly-data`` script) is at most
  50 KB, uncompressed.

KB = 1024 bytes. Results are also written to
benchmarks/results/page_weight.json and .md (git-ignored).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import browser  # noqa: E402  (tests/browser.py)

KB = 1024
FIRST_VISIT_BUDGET = 900 * KB  # HTML + scripts + stylesheets
FIGURE_BUDGET = 50 * KB
CACHED_PREFIXES = ("assets/", "javascripts/", "stylesheets/", "search/")
ALREADY_COMPRESSED = {
    ".woff",
    ".woff2",
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".webp",
    ".gz",
    ".zip",
}
FONTS = {".woff", ".woff2", ".ttf", ".otf"}
# Each library's main file (whose code is looked for in every response) and the
# files allowed to carry that code: MathJax's components share some of theirs.
VENDOR = {
    "plotly.js": (browser.PLOTLY_JS, browser.PLOTLY_JS),
    "MathJax": ("assets/vendor/mathjax/core.js", "assets/vendor/mathjax/"),
}
FIGURE_DATA = re.compile(
    r"<script\b[^>]*\bclass=\"plotly-data\"[^>]*>(?P<json>.*?)</script>", re.DOTALL
)
RESULTS = ROOT / "benchmarks" / "results"


def served_size(path: str, body: bytes) -> int:
    """Bytes a static host sends: gzip level 6, unless already compressed."""
    if Path(path).suffix.lower() in ALREADY_COMPRESSED:
        return len(body)
    return len(gzip.compress(body, compresslevel=6))


def site_path(url: str) -> str:
    """'http://127.0.0.1:PORT/a/b/' -> 'a/b/' (the path inside the site)."""
    return unquote(urlparse(url).path).lstrip("/")


# ------------------------------------------------------------------ server


class Traffic:
    """What the server actually sent, in order (thread-safe)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._sent: list[tuple[str, int]] = []

    def record(self, path: str, status: int) -> None:
        with self._lock:
            self._sent.append((path, status))

    def take(self) -> list[tuple[str, int]]:
        with self._lock:
            sent, self._sent = self._sent, []
        return sent


TRAFFIC = Traffic()


class CachingHandler(browser.QuietHandler):
    """The test server, plus the cache headers a static host would send."""

    def end_headers(self):
        path = site_path(self.path)
        cached = path.startswith(CACHED_PREFIXES)
        self.send_header(
            "Cache-Control", "public, max-age=3600" if cached else "no-store"
        )
        super().end_headers()

    def send_response(self, code, message=None):
        TRAFFIC.record(site_path(self.path), code)
        super().send_response(code, message)


def serve_with_cache_headers(site_dir: Path):
    return browser.serve(site_dir, handler_class=CachingHandler)


# ------------------------------------------------------------------ measuring


@dataclass
class Figure:
    raw: int
    gz: int


@dataclass
class PageWeight:
    url: str
    first: dict[str, int] = field(default_factory=dict)  # path -> served bytes
    repeat: dict[str, int] = field(default_factory=dict)
    html_gz: int = 0
    figures: list[Figure] = field(default_factory=list)
    carriers: dict[str, set[str]] = field(default_factory=dict)  # vendor -> paths
    problems: list[str] = field(default_factory=list)

    @property
    def first_total(self) -> int:
        return sum(self.first.values())

    def first_part(self, part: str) -> int:
        return sum(s for p, s in self.first.items() if kind(self.url, p) == part)

    @property
    def budgeted(self) -> int:
        """HTML + scripts + stylesheets: what the 900 KB budget counts."""
        return sum(self.first_part(part) for part in ("html", "js", "css"))

    @property
    def repeat_total(self) -> int:
        return sum(self.repeat.values())


def kind(page_url: str, path: str) -> str:
    """'html', 'js', 'css', 'font' or 'other' (search index, images, ...)."""
    suffix = Path(path).suffix.lower()
    if path == page_url or suffix == ".html":
        return "html"
    if suffix in (".js", ".mjs"):
        return "js"
    if suffix == ".css":
        return "css"
    return "font" if suffix in FONTS else "other"


def figures_of(html_text: str) -> list[Figure]:
    return [
        Figure(len(raw), len(gzip.compress(raw, compresslevel=6)))
        for raw in (m["json"].encode() for m in FIGURE_DATA.finditer(html_text))
    ]


def load(page, url: str) -> None:
    page.goto(url)
    browser.wait_until_drawn(page)
    # MathJax fetches its fonts after typesetting; wait until the network is quiet.
    page.wait_for_load_state("networkidle")


def body_sizes(site_dir: Path, sent, bodies: dict[str, bytes]) -> dict[str, int]:
    """Served size of each resource the server sent with status 200."""
    sizes = {}
    for path, status in sent:
        if status != 200:
            continue
        body = bodies.get(path)
        if body is None:
            file = site_dir / path
            body = (file / "index.html" if file.is_dir() else file).read_bytes()
        sizes[path] = served_size(path, body)
    return sizes


def measure_page(chrome, base, site_dir: Path, url: str, prints) -> PageWeight:
    weight = PageWeight(url)
    context = chrome.new_context(viewport={"width": 1280, "height": 900})
    responses, failed = [], []
    context.on("response", lambda response: responses.append(response))
    context.on("requestfailed", lambda request: failed.append(request.url))
    page = context.new_page()
    TRAFFIC.take()
    load(page, base + url)
    first_sent = TRAFFIC.take()

    weight.problems += [f"request failed: {url}" for url in failed]
    bodies: dict[str, bytes] = {}
    for response in responses:
        if not response.url.startswith(base):
            weight.problems.append(f"fetched from outside the site: {response.url}")
            continue
        if response.status >= 400:
            weight.problems.append(f"{response.status} for {site_path(response.url)}")
        try:
            bodies[site_path(response.url)] = response.body()
        except Exception:  # a worker's response may not expose its body
            pass
    weight.first = body_sizes(site_dir, first_sent, bodies)
    for name, stretches in prints.items():
        weight.carriers[name] = {
            path for path, body in bodies.items() if any(s in body for s in stretches)
        }
    missing = {p for p, s in first_sent if s == 200} - bodies.keys()
    if missing:  # cross-check: these were read from disk instead
        print(f"  note: {url or '/'}: {len(missing)} bodies read from disk: {missing}")

    html_text = bodies.get(url, b"").decode("utf-8")
    weight.html_gz = served_size(url + "index.html", html_text.encode())
    weight.figures = figures_of(html_text)

    page.goto("about:blank")
    TRAFFIC.take()
    load(page, base + url)
    weight.repeat = body_sizes(site_dir, TRAFFIC.take(), bodies)
    context.close()
    return weight


def site_visit_fetches(chrome, base: str, urls: list[str]) -> dict[str, int]:
    """One reader opens every page in one profile: how often each path is sent."""
    context = chrome.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    TRAFFIC.take()
    counts: dict[str, int] = {}
    for url in urls:
        load(page, base + url)
    for path, status in TRAFFIC.take():
        if status == 200:
            counts[path] = counts.get(path, 0) + 1
    context.close()
    return counts


# ------------------------------------------------------------------ checks


def vendor_fingerprints(site_dir: Path, path: str, count: int = 4) -> list[bytes]:
    """Stretches of a vendor file's code, to look for in every response."""
    code = (site_dir / path).read_bytes()
    step = len(code) // (count + 1)
    return [code[step * i : step * i + 80] for i in range(1, count + 1)]


def check_vendor_scripts(site_dir, weights, visit_counts) -> list[tuple[bool, str]]:
    """plotly.js and MathJax: shared URLs, sent once per visit, never embedded.

    A page may skip loading them (plotly.js is fetched exactly where figures
    are), but any response carrying their code must be one of their own files.
    """
    results = []
    for name, (path, home) in VENDOR.items():
        carriers = {c for w in weights for c in w.carriers.get(name, ())}
        elsewhere = sorted(c for c in carriers if not c.startswith(home))
        loading = [w for w in weights if path in w.first]
        with_figures = [w for w in weights if w.figures]
        undrawn = [w.url for w in with_figures if path not in w.first]
        needless = [w.url for w in loading if not w.figures]
        fetched = visit_counts.get(path, 0)
        ok = not elsewhere and fetched <= 1
        if name == "plotly.js":
            ok = ok and not undrawn and not needless
        size = served_size(path, (site_dir / path).read_bytes())
        detail = (
            f"{name}: shared ({path}, {size / KB:.0f} KB gz), loaded by "
            f"{len(loading)}/{len(weights)} pages, sent {fetched}x in a visit of "
            f"all pages; its code found in no other response"
        )
        if elsewhere:
            detail = detail.replace("no other response", ", ".join(elsewhere))
        if name == "plotly.js":
            drawn = len(with_figures) - len(undrawn)
            detail += (
                f"; pages with figures loading it: {drawn}/{len(with_figures)}, "
                f"pages without: {len(needless)}"
            )
        results.append((ok, detail))
    return results


def budget_checks(site_dir, weights, visit_counts) -> list[tuple[bool, str]]:
    heaviest = max(weights, key=lambda w: w.budgeted)
    over = [f"/{w.url} {w.budgeted / KB:.0f} KB" for w in weights if not fits(w)]
    checks = [
        (
            not over,
            f"first visits (HTML + scripts + stylesheets) within "
            f"{FIRST_VISIT_BUDGET / KB:.0f} KB gz: {len(weights) - len(over)}/"
            f"{len(weights)} pages; heaviest /{heaviest.url} "
            f"{heaviest.budgeted / KB:.0f} KB"
            + (f"; over: {', '.join(over)}" if over else ""),
        )
    ]
    checks += check_vendor_scripts(site_dir, weights, visit_counts)
    figures = [(w.url or "/", f) for w in weights for f in w.figures]
    largest = max(figures, key=lambda item: item[1].raw, default=None)
    if largest:
        over = [f"{u} {f.raw / KB:.1f} KB" for u, f in figures if f.raw > FIGURE_BUDGET]
        checks.append(
            (
                not over,
                f"figure data: {len(figures)} figures, largest "
                f"{largest[1].raw / KB:.1f} KB raw / {largest[1].gz / KB:.1f} KB gz "
                f"on {largest[0]} "
                f"(budget {FIGURE_BUDGET / KB:.0f} KB raw)"
                + (f"; over: {', '.join(over)}" if over else ""),
            )
        )
    problems = [f"{w.url or '/'}: {p}" for w in weights for p in w.problems]
    checks.append(
        (not problems, "every response from the local site, none failed")
        if not problems
        else (False, "failed or outside responses: " + "; ".join(problems))
    )
    return checks


# ------------------------------------------------------------------ report


def kb(n: int) -> str:
    return f"{n / KB:,.1f}"


def fits(weight: PageWeight) -> bool:
    return weight.budgeted <= FIRST_VISIT_BUDGET


def markdown_table(weights: list[PageWeight]) -> str:
    rows = [
        "| page | HTML | scripts | styles | **first visit** | budget "
        "| + fonts | + other | all requests | repeat visit | figures "
        "| largest figure KB raw/gz |",
        "| ---- | ---: | ---: | ---: | ---: | :--: | ---: | ---: | ---: | ---: "
        "| ---: | ---: |",
    ]
    for w in weights:
        big = max(w.figures, key=lambda f: f.raw, default=None)
        largest = f"{kb(big.raw)} / {kb(big.gz)}" if big else "–"
        parts = " | ".join(kb(w.first_part(p)) for p in ("html", "js", "css"))
        rows.append(
            f"| `/{w.url}` | {parts} | **{kb(w.budgeted)}** | "
            f"{'PASS' if fits(w) else 'FAIL'} | {kb(w.first_part('font'))} | "
            f"{kb(w.first_part('other'))} | {kb(w.first_total)} | "
            f"{kb(w.repeat_total)} | {len(w.figures)} | {largest} |"
        )
    return "\n".join(rows)


def shared_assets_table(weights: list[PageWeight]) -> str:
    sizes: dict[str, int] = {}
    users: dict[str, int] = {}
    for w in weights:
        for path, size in w.first.items():
            if path.startswith(CACHED_PREFIXES):
                sizes[path] = size
                users[path] = users.get(path, 0) + 1
    rows = [
        "| shared asset (cached) | KB gz | pages loading it |",
        "| --------------------- | ----: | ---------------: |",
    ]
    for path in sorted(sizes, key=sizes.get, reverse=True)[:12]:
        rows.append(f"| `{path}` | {kb(sizes[path])} | {users[path]} |")
    rest = sorted(sizes, key=sizes.get, reverse=True)[12:]
    if rest:
        rows.append(
            f"| {len(rest)} smaller files | {kb(sum(sizes[p] for p in rest))} | |"
        )
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("site", nargs="?", default="site", type=Path)
    args = parser.parse_args()
    site_dir = args.site.resolve()
    if not (site_dir / "index.html").exists():
        sys.exit(f"{site_dir} is not a built site (run `make build` first)")

    urls = browser.site_pages(site_dir)
    prints = {name: vendor_fingerprints(site_dir, p) for name, (p, _) in VENDOR.items()}
    with serve_with_cache_headers(site_dir) as base, browser.chromium() as chrome:
        weights = []
        for url in urls:
            weight = measure_page(chrome, base, site_dir, url, prints)
            print(
                f"  /{url}: first {kb(weight.budgeted)} KB gz HTML+JS+CSS, "
                f"{kb(weight.first_total)} KB gz with fonts and the rest "
                f"({len(weight.first)} files), repeat {kb(weight.repeat_total)} KB gz "
                f"({len(weight.repeat)} files)",
                flush=True,
            )
            weights.append(weight)
        visit_counts = site_visit_fetches(chrome, base, urls)
        if not any(p.startswith(CACHED_PREFIXES) for p, _ in weights[0].first.items()):
            sys.exit("no shared assets seen: did tests/browser.py's server change?")

    checks = budget_checks(site_dir, weights, visit_counts)
    resent = sorted(
        p for p, n in visit_counts.items() if n > 1 and p.startswith(CACHED_PREFIXES)
    )
    table = markdown_table(weights)
    print(
        "\nSizes: gzip -6 of each response body (raw size for fonts/images); "
        "KB = 1024 B.\nFirst visit: cold cache, everything the page requests; "
        f"the budget ({FIRST_VISIT_BUDGET / KB:.0f} KB) counts its HTML, scripts "
        "and stylesheets, fonts and other requests (search index, images) "
        "are shown beside it.\n"
        f"Served plotly.js: {browser.served_plotly(site_dir)}.\n"
        "Repeat visit: measured by loading the page again in the same browser\n"
        "profile; the server sends Cache-Control max-age=3600 for "
        + ", ".join(CACHED_PREFIXES)
        + " and no-store for HTML and everything else.\n"
    )
    print(table)
    print()
    print(shared_assets_table(weights))
    if resent:
        print(f"\nshared assets sent more than once in one site visit: {resent}")
    print()
    for ok, text in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "page_weight.md").write_text(table + "\n", encoding="utf-8")
    (RESULTS / "page_weight.json").write_text(
        json.dumps(
            {
                "pages": [
                    {
                        "url": w.url,
                        "first_visit_gz": w.budgeted,
                        "first_visit_all_requests_gz": w.first_total,
                        "fonts_gz": w.first_part("font"),
                        "other_gz": w.first_part("other"),
                        "repeat_visit_gz": w.repeat_total,
                        "html_gz": w.html_gz,
                        "first_visit_files": w.first,
                        "repeat_visit_files": w.repeat,
                        "figures": [[f.raw, f.gz] for f in w.figures],
                    }
                    for w in weights
                ],
                "plotly_js": browser.served_plotly(site_dir),
                "site_visit_fetches": visit_counts,
                "checks": [{"pass": ok, "detail": text} for ok, text in checks],
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    return 0 if all(ok for ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
