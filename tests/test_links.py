"""Links of the built site, checked offline, and the links that lead a reader to
the source: edit buttons, each tutorial's module and test, the contributor guide."""

import re
from pathlib import Path

import pytest
from mkdocs.utils.yaml import yaml_load

from hooks.tutorials import ROOT
from tools.check_links import check_site

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


@pytest.fixture(scope="module")
def report(built_site):
    site, result = built_site
    assert result.returncode == 0, result.stderr
    return check_site(site)


def built_page(page: Path) -> str:
    """Site path of a docs/ page (directory URLs)."""
    return "index.html" if page.stem == "index" else f"{page.stem}/index.html"


def links_on(report, page: str, **attrs) -> list[str]:
    """URLs of the links on a site page that have these attributes."""
    return [
        link.url
        for link in report.links
        if link.page == page and all(link.attrs.get(k) == v for k, v in attrs.items())
    ]


def test_every_internal_link_anchor_and_image_resolves(report):
    assert not report.broken, report.describe(external=False)


def test_the_check_covers_every_page_notebook_and_ipynb_download(built_site, report):
    site, _ = built_site
    pages = {link.page for link in report.internal}
    assert {built_page(p) for p in DOCS_PAGES} <= pages
    notebooks = {f"notebooks/{p.stem}/index.html" for p in TUTORIAL_PAGES}
    assert notebooks <= pages
    downloads = {link.url for link in report.internal if link.url.endswith(".ipynb")}
    for page in TUTORIAL_PAGES:
        assert f"{page.stem}.ipynb" in downloads  # from the notebook page
        assert f"../notebooks/{page.stem}/{page.stem}.ipynb" in downloads
    images = [link for link in report.internal if link.tag == "img"]
    assert images, "the check saw no images"


def test_external_links_are_listed_not_fetched(report):
    assert f"{REPO_URL}/blob/{BRANCH}/CONTRIBUTING.md" in report.external
    assert all(
        url.startswith(("https://", "http://", "mailto:")) for url in report.external
    )
    source = (ROOT / "tools" / "check_links.py").read_text()
    assert not re.search(
        r"import (urllib\.request|http\.client|socket|requests)", source
    )
    assert "External links (listed, not fetched)" in report.describe()


def test_link_checker_reports_what_is_broken(tmp_path):
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "ok.svg").write_text("<svg/>")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "index.html").write_text('<h2 id="here">A</h2>')
    (tmp_path / "index.html").write_text(
        '<a href="a/">ok</a> <a href="a/#here">ok</a> <img src="img/ok.svg">'
        '<a href="#top" id="top">ok</a> <a href="http://192.0.2.1/never">listed</a>'
        '<a href="b/">missing page</a> <a href="a/#nowhere">missing anchor</a>'
        '<img src="img/missing.png"> <a href="../../etc/">above the root</a>'
    )
    report = check_site(tmp_path)
    broken = {link.url: why for link, why in report.broken}
    assert set(broken) == {"b/", "a/#nowhere", "img/missing.png", "../../etc/"}
    assert "no id 'nowhere'" in broken["a/#nowhere"]
    assert list(report.external) == ["http://192.0.2.1/never"]


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


def test_every_blob_or_edit_link_names_a_file_that_exists(report):
    for url in report.external:
        match = re.match(rf"{re.escape(REPO_URL)}/(?:blob|edit)/{BRANCH}/(.+)", url)
        if match:
            assert (ROOT / match[1]).is_file(), f"{url}: no {match[1]} in the repo"


def test_footer_links_the_contributor_guide_and_no_page_asks_github_for_facts(
    built_site, report
):
    site, _ = built_site
    guide = f"{REPO_URL}/blob/{BRANCH}/CONTRIBUTING.md"
    assert report.external[guide] >= {built_page(p) for p in DOCS_PAGES}
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
