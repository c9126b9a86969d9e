"""Check the links of a built site, offline.

Every internal link (pages, heading anchors, images, scripts, stylesheets, the
notebooks and their .ipynb downloads) must resolve to a file of the site, and
every #anchor to an id on its page. External links are listed, never fetched.

Usage:  python tools/check_links.py SITE_DIR      (exit status 1 if any link is broken)
"""

from __future__ import annotations

import argparse
import posixpath
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

# Which attribute of which tag points at something to load or visit.
LINK_ATTRIBUTES = {
    "a": "href",
    "link": "href",
    "img": "src",
    "script": "src",
    "source": "src",
    "iframe": "src",
    "video": "src",
    "audio": "src",
}
INLINE_SCHEMES = {"data", "javascript", "blob", "about"}


@dataclass
class Link:
    page: str  # site-relative path of the page holding the link
    tag: str
    url: str
    attrs: dict[str, str | None] = field(default_factory=dict, repr=False)


class _PageParser(HTMLParser):
    """Collects a page's ids (anchor targets) and the links it makes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[tuple[str, str, dict]] = []  # (tag, url, all attributes)
        self.canonical: str | None = None

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        for name in ("id", "name") if tag == "a" else ("id",):
            if values.get(name):
                self.ids.add(values[name])
        url = values.get(LINK_ATTRIBUTES.get(tag, ""))
        if url is None:
            return
        self.links.append((tag, url, values))
        if tag == "link" and (values.get("rel") or "").lower() == "canonical":
            self.canonical = url

    handle_startendtag = handle_starttag


@dataclass
class Report:
    pages: int = 0
    links: list[Link] = field(default_factory=list)  # every link seen
    internal: list[Link] = field(default_factory=list)  # those checked
    broken: list[tuple[Link, str]] = field(default_factory=list)
    external: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def describe(self, external: bool = True) -> str:
        lines = [
            f"{self.pages} pages, {len(self.internal)} internal links checked, "
            f"{len(self.broken)} broken, {len(self.external)} external (not fetched)"
        ]
        if self.broken:
            lines.append("\nBroken:")
            lines += [
                f"  {link.page}: <{link.tag}> {link.url}  ({why})"
                for link, why in self.broken
            ]
        if self.external and external:
            lines.append("\nExternal links (listed, not fetched):")
            for url in sorted(self.external):
                pages = sorted(self.external[url])
                more = f" and {len(pages) - 1} more" if len(pages) > 1 else ""
                lines.append(f"  {url}  (on {pages[0]}{more})")
        return "\n".join(lines)


class Site:
    def __init__(self, site_dir: Path):
        self.dir = Path(site_dir)
        self._parsed: dict[str, _PageParser] = {}

    def page(self, path: str) -> _PageParser:
        if path not in self._parsed:
            parser = _PageParser()
            parser.feed((self.dir / path).read_text(encoding="utf-8"))
            parser.close()
            self._parsed[path] = parser
        return self._parsed[path]

    def html_pages(self) -> list[str]:
        return sorted(
            p.relative_to(self.dir).as_posix() for p in self.dir.rglob("*.html")
        )

    def base_path(self) -> str:
        """The URL path the site is served under (site_url's path; 404.html
        links absolutely through it), read from the home page's canonical link."""
        home = self.dir / "index.html"
        canonical = self.page("index.html").canonical if home.exists() else None
        path = urlsplit(canonical).path if canonical else "/"
        return path if path.endswith("/") else path + "/"

    def target(self, page: str, path: str, base: str) -> tuple[str | None, str]:
        """(site-relative file, "") for a link's path, or (None, why not)."""
        if path.startswith("/"):
            if not path.startswith(base):
                return None, f"outside the site's base path {base}"
            joined = path[len(base) :]
        else:
            joined = posixpath.join(posixpath.dirname(page), path)
        resolved = posixpath.normpath(joined) if joined else "."
        if resolved == ".." or resolved.startswith("../"):
            return None, "points above the site root"
        file = self.dir / resolved
        if file.is_dir() or path.endswith("/"):
            file = file / "index.html"
        if not file.is_file():
            return None, "no such file in the site"
        return file.relative_to(self.dir).as_posix(), ""


def check_site(site_dir: Path) -> Report:
    site = Site(site_dir)
    base = site.base_path()
    report = Report()
    for page in site.html_pages():
        report.pages += 1
        for tag, url, attrs in site.page(page).links:
            link = Link(page, tag, url.strip(), attrs)
            report.links.append(link)
            problem = _check(site, link, base, report)
            if problem:
                report.broken.append((link, problem))
    return report


def _check(site: Site, link: Link, base: str, report: Report) -> str:
    """Why the link is broken, or "" (external links are only recorded)."""
    parts = urlsplit(link.url)
    if parts.scheme in INLINE_SCHEMES:
        return ""
    if parts.scheme or parts.netloc:
        report.external[link.url].add(link.page)
        return ""
    report.internal.append(link)
    if parts.path:
        target, why = site.target(link.page, unquote(parts.path), base)
        if target is None:
            return why
    else:
        target = link.page  # "#anchor" on the same page
    fragment = unquote(parts.fragment)
    if fragment and target.endswith(".html") and fragment not in site.page(target).ids:
        return f"no id '{fragment}' on {target}"
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site_dir", type=Path, help="a built site, e.g. site/")
    args = parser.parse_args(argv)
    if not (args.site_dir / "index.html").is_file():
        parser.error(f"{args.site_dir} is not a built site (no index.html)")
    report = check_site(args.site_dir)
    print(report.describe())
    return 1 if report.broken else 0


if __name__ == "__main__":
    sys.exit(main())
