"""Notebook pages as mkdocs-jupyter renders them, made fit for this site: no
scripts from other hosts, only the theme CSS a page uses, unique heading ids,
links within the site kept within it, and the two download buttons."""

from __future__ import annotations

import re
from pathlib import Path

from hooks.notebooks import LEARNER_SUFFIX

# mkdocs-jupyter's notebook template loads MathJax (an empty src when no CDN URL
# is configured) and, for Mermaid diagrams, modules from a CDN. The site's own
# MathJax 3 typesets notebook pages (math-config.js), offline; we have no
# Mermaid cells.
NOTEBOOK_REMOTE_SCRIPTS = re.compile(
    r"<!-- Load mathjax -->\s*<script[^>]*>\s*</script>"
    r"|<script[^>]*>\s*(?:MathJax\.Hub\.Config|init_mathjax)[\s\S]*?</script>"
    r"|<script type=\"module\">(?:(?!</script>)[\s\S])*?mermaid[\s\S]*?</script>",
    re.IGNORECASE,
)


# Classes of JupyterLab and the libraries its theme bundles (Lumino, Blueprint,
# CodeMirror); rules for ones a static notebook page never uses can go.
NOTEBOOK_CLASS = re.compile(r"\.((?:jp|lm|p|bp3|cm)-[\w-]+|CodeMirror[\w-]*)")


def _css_blocks(css: str):
    """Top-level (prelude, body) pairs of a stylesheet; bodies keep their braces."""
    depth, start, prelude_start = 0, 0, 0
    for brace in re.finditer(r"[{}]", css):  # skipping to braces: the CSS is ~570 KB
        i = brace.start()
        if brace[0] == "{":
            if depth == 0:
                start = i
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                yield css[prelude_start:start], css[start : i + 1]
                prelude_start = i + 1


def pruned_notebook_css(css: str, used: set[str]) -> str:
    """Drop the JupyterLab theme rules that no element of the page uses:
    mkdocs-jupyter inlines the whole theme (~570 KB) into every notebook page."""
    kept = []
    for prelude, body in _css_blocks(css):
        if prelude.strip().startswith("@media") or prelude.strip().startswith(
            "@supports"
        ):
            inner = pruned_notebook_css(body[1:-1], used)
            if inner.strip():
                kept.append(f"{prelude}{{{inner}}}")
            continue
        selectors = prelude.split(",")
        if prelude.strip().startswith("@") or any(
            set(NOTEBOOK_CLASS.findall(s)) <= used for s in selectors
        ):
            kept.append(prelude + body)
    return "".join(kept)


# A custom property's declaration. Its value may hold parentheses with a ";"
# inside: the theme's icons are url(data:image/svg+xml;base64,...).
CUSTOM_PROPERTY = re.compile(r"(--[\w-]+)\s*:(?:[^;{}()]|\([^()]*\))*;?")
READ_PROPERTY = re.compile(r"var\(\s*(--[\w-]+)")
STYLE = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.S)


def slim_notebook_styles(html_text: str) -> str:
    used = set(
        re.findall(r"[\w-]+", " ".join(re.findall(r'class="([^"]*)"', html_text)))
    )
    html_text = STYLE.sub(
        lambda m: m[1] + pruned_notebook_css(m[2], used) + m[3], html_text
    )
    # The theme also defines hundreds of custom properties, its icons among them,
    # of which the rules kept read a few dozen: drop those nothing reads, again
    # until none is left (a dropped one may have been another's only reader).
    while True:
        read = set(READ_PROPERTY.findall(html_text))
        slimmer = STYLE.sub(
            lambda m, read=read: m[1] + properties_read(m[2], read) + m[3], html_text
        )
        if slimmer == html_text:
            return html_text
        html_text = slimmer


def properties_read(css: str, read: set[str]) -> str:
    """The stylesheet without the custom properties not in `read`."""
    return CUSTOM_PROPERTY.sub(lambda d: d[0] if d[1] in read else "", css)


def unique_heading_ids(html_text: str) -> str:
    """Number repeated heading ids as the page's table of contents does
    (background, background_1, ...): nbconvert gives both "Background"s one id."""
    seen: dict[str, int] = {}

    def renumber(match):
        base = match[2]
        count = seen.get(base, 0)
        seen[base] = count + 1
        return f'{match[1]}id="{base}_{count}"' if count else match[0]

    return re.sub(r'(<h[1-6][^>]*?\s)id="([^"]+)"', renumber, html_text)


def site_links_relative(html_text: str, site_url: str, depth: int) -> str:
    """The notebook's links to the published site, as links within this site
    (from a page `depth` folders down): a preview or an offline copy of the
    site then stays in itself, and loads nothing from the published one."""
    base = re.escape(site_url.rstrip("/") + "/")
    return re.sub(rf'(\b(?:href|src)="){base}', rf"\g<1>{'../' * depth}", html_text)


def notebook_page(html_text: str, src_uri: str, site_url: str) -> str:
    """A rendered notebook page, offline and slim, with its download buttons."""
    stem = Path(src_uri).stem
    download = (
        '<p class="notebook-download">'
        f'<a class="md-button" href="{stem}.ipynb" download>Download the full '
        "notebook</a> "
        f'<a class="md-button" href="{stem}{LEARNER_SUFFIX}.ipynb" download>'
        "Download the learner notebook (exercises without solutions)</a></p>"
    )
    html_text = NOTEBOOK_REMOTE_SCRIPTS.sub("", html_text)
    # The page is notebooks/<stem>/ (directory URLs): two folders down.
    html_text = site_links_relative(html_text, site_url, depth=2)
    return download + slim_notebook_styles(unique_heading_ids(html_text))
