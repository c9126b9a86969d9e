"""Links of the built site, checked offline, and the links that lead a reader to
the source: edit buttons, each tutorial's module and test, the contributor guide."""

import posixpath
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from mkdocs.utils.yaml import yaml_load

from hooks.tutorials import ROOT

CONFIG = yaml_load((ROOT / "mkdocs.yml").read_text())  # !ENV resolved as in the build
REPO_URL = CONFIG["repo_url"].rstrip("/")
SITE_URL = CONFIG["site_url"]
BRANCH = CONFIG["edit_uri"].split("/")[1]
DOCS_PAGES = sorted((ROOT / "docs").glob("*.md"))
TUTORIAL_PAGES = [
    p
    for p in DOCS_PAGES
    if re.fullmatch(r"\d\d_\w+", p.stem)
    and (ROOT / "tutorial_code" / f"{p.stem[3:]}.py").exists()
]
# What a browser loads or follows, by tag.
LINK_ATTRIBUTE = {"a": "href", "link": "href", "img": "src", "script": "src"}


class Page(HTMLParser):
    """A built page's ids (anchor targets) and links (tag, url, attributes)."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[tuple[str, str, dict]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"])
        url = values.get(LINK_ATTRIBUTE.get(tag, ""))
        if url is not None:
            self.links.append((tag, url.strip(), values))

    handle_startendtag = handle_starttag


def read_site(site: Path) -> dict[str, Page]:
    return {
        p.relative_to(site).as_posix(): Page(p.read_text(encoding="utf-8"))
        for p in sorted(site.rglob("*.html"))
    }


def broken_links(site: Path, pages: dict[str, Page], base: str = "/") -> list[str]:
    """Internal links of the built HTML that lead nowhere. MkDocs' validation
    checks the links written in Markdown; this checks what the theme, the hooks
    and mkdocs-jupyter write: notebook pages, downloads, scripts, images."""
    broken = []
    for name, page in pages.items():
        for tag, url, _ in page.links:
            parts = urlsplit(url)
            if parts.scheme or parts.netloc:
                continue  # another host (or data:, mailto:): never fetched
            path = unquote(parts.path)
            if path.startswith("/"):  # 404.html links through the site's base path
                path = path.removeprefix(base) if path.startswith(base) else ".."
            else:
                path = posixpath.join(posixpath.dirname(name), path)
            target = posixpath.normpath(path) if path else name
            file = site / target
            if file.is_dir() or url.split("#")[0].endswith("/"):
                target = posixpath.join(target, "index.html")
            if target.startswith("..") or not (site / target).is_file():
                broken.append(f"{name}: <{tag}> {url} (no such file)")
            elif parts.fragment and target in pages:
                if unquote(parts.fragment) not in pages[target].ids:
                    broken.append(f"{name}: <{tag}> {url} (no such anchor)")
    return broken


@pytest.fixture(scope="module")
def report(built_site):
    site, result = built_site
    assert result.returncode == 0, result.stderr
    return read_site(site)


def built_page(page: Path) -> str:
    """Site path of a docs/ page (directory URLs)."""
    return "index.html" if page.stem == "index" else f"{page.stem}/index.html"


def links_on(report, page: str, **attrs) -> list[str]:
    """URLs of the links on a site page that have these attributes."""
    return [
        url
        for _, url, values in report[page].links
        if all(values.get(k) == v for k, v in attrs.items())
    ]


def test_every_internal_link_anchor_and_image_resolves(built_site, report):
    site, _ = built_site
    base = urlsplit(SITE_URL).path
    assert not broken_links(site, report, base)


def downloads_on(report, page: str) -> list[str]:
    return [url for _, url, values in report[page].links if "download" in values]


def test_notebook_pages_and_both_downloads_are_linked(report):
    """A tutorial page's footer and its notebook page offer the full and the
    learner notebook side by side (the link check above finds the files)."""
    for page in TUTORIAL_PAGES:
        full, learner = f"{page.stem}.ipynb", f"{page.stem}-learner.ipynb"
        notebook = f"notebooks/{page.stem}/index.html"
        assert [full, learner] == downloads_on(report, notebook)
        downloads = downloads_on(report, built_page(page))
        folder = f"../notebooks/{page.stem}/"
        assert downloads == [folder + full, folder + learner]
        assert f"../notebooks/{page.stem}/" in links_on(report, built_page(page))


def test_the_link_check_finds_missing_files_and_anchors(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "index.html").write_text('<h2 id="here">A</h2>')
    (tmp_path / "index.html").write_text(
        '<a href="a/">ok</a> <a href="a/#here">ok</a> <a href="#top" id="top">ok</a>'
        '<a href="http://192.0.2.1/never">another host</a>'
        '<a href="b/">missing page</a> <a href="a/#nowhere">missing anchor</a>'
        '<img src="img/missing.png"> <a href="../../etc/">above the root</a>'
    )
    broken = broken_links(tmp_path, read_site(tmp_path))
    assert [line.split("> ")[1].split(" (")[0] for line in broken] == [
        "b/",
        "a/#nowhere",
        "img/missing.png",
        "../../etc/",
    ]


# ------------------------------------------------------------ links to the source


@pytest.mark.parametrize("page", DOCS_PAGES, ids=lambda p: p.name)
def test_every_page_has_an_edit_button_for_its_source_file(report, page):
    edit = links_on(report, built_page(page), rel="edit")
    assert edit == [f"{REPO_URL}/edit/{BRANCH}/docs/{page.name}"]


@pytest.mark.parametrize("page", TUTORIAL_PAGES, ids=lambda p: p.name)
def test_tutorial_and_notebook_pages_link_the_code_they_come_from(report, page):
    stem = page.stem[3:]
    module = f"{REPO_URL}/blob/{BRANCH}/tutorial_code/{stem}.py"
    test = f"{REPO_URL}/blob/{BRANCH}/tests/test_{stem}.py"
    assert {module, test} <= set(links_on(report, built_page(page)))
    notebook = f"notebooks/{page.stem}/index.html"
    assert module in links_on(report, notebook)
    # A notebook has no source file of its own: its edit button opens its page's.
    assert links_on(report, notebook, rel="edit") == [
        f"{REPO_URL}/edit/{BRANCH}/docs/{page.name}"
    ]


def external_links(report) -> dict[str, set[str]]:
    """{url: pages linking it} for links to other hosts."""
    found: dict[str, set[str]] = {}
    for name, page in report.items():
        for _, url, _ in page.links:
            if urlsplit(url).netloc:
                found.setdefault(url, set()).add(name)
    return found


def test_every_blob_or_edit_link_names_a_file_that_exists(report):
    for url in external_links(report):
        match = re.match(rf"{re.escape(REPO_URL)}/(?:blob|edit)/{BRANCH}/(.+)", url)
        if match:
            assert (ROOT / match[1]).is_file(), f"{url}: no {match[1]} in the repo"


def test_footer_links_the_contributor_guide_and_no_page_asks_github_for_facts(
    built_site, report
):
    site, _ = built_site
    guide = f"{REPO_URL}/blob/{BRANCH}/CONTRIBUTING.md"
    assert external_links(report)[guide] >= {built_page(p) for p in DOCS_PAGES}
    for page in site.rglob("*.html"):
        # Material's header link would fetch star counts from api.github.com.
        assert 'data-md-component="source"' not in page.read_text(), page


def test_canonical_links_and_sitemap_use_site_url(built_site, report):
    site, _ = built_site
    for page in DOCS_PAGES:
        url = SITE_URL + ("" if page.stem == "index" else f"{page.stem}/")
        assert links_on(report, built_page(page), rel="canonical") == [url]
    sitemap = (site / "sitemap.xml").read_text()
    locations = re.findall(r"<loc>(.*?)</loc>", sitemap)
    assert locations and all(loc.startswith(SITE_URL) for loc in locations)
