"""MkDocs hooks (registered in mkdocs.yml): tutorials run during the build.

on_files runs (or reuses from the execution cache) every tutorial page once,
writes its notebook, and adds MathJax and plotly.js from their installed
packages; on_page_markdown / on_page_content then place each page's outputs,
figures and a footer. The runner itself is hooks/tutorials.py.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# MkDocs loads this file by path and restores sys.path afterwards: the imports
# below must happen now, and tutorial code is made importable again per run.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mkdocs.exceptions import PluginError  # noqa: E402
from mkdocs.plugins import event_priority  # noqa: E402
from mkdocs.structure.files import File  # noqa: E402

from hooks.cache import cached_run  # noqa: E402
from hooks.notebooks import write_notebook  # noqa: E402
from hooks.tutorials import (  # noqa: E402
    SNIPPET_FENCE,
    PageRun,
    TutorialError,
    forget_tutorial_modules,
    insert_results,
    unexecuted_run,
)

log = logging.getLogger("mkdocs.hooks.tutorials")

EXECUTE_ENV = "TUTORIALS_EXECUTE"  # "0": build without running any tutorial
# notebooks/ lives here (git-ignored). Builds without execution write their
# output-less notebooks elsewhere, so they never replace the executed ones.
NOTEBOOK_DIR = {
    True: Path(".cache/generated"),
    False: Path(".cache/generated-unexecuted"),
}


@dataclass
class PageBuild:
    run: PageRun
    key: str
    reused: bool
    notebook: str  # src_uri of the generated notebook
    figures: dict[str, str] = field(default_factory=dict)


_builds: dict[str, PageBuild] = {}


def on_pre_build(config, **kwargs):
    forget_tutorial_modules()
    _builds.clear()


@event_priority(100)  # before mkdocs-jupyter converts the .ipynb files it finds
def on_files(files, config, **kwargs):
    for src_uri, path in vendor_assets():
        files.append(File.generated(config, src_uri, abs_src_path=str(path)))
    root = Path(config.config_file_path).resolve().parent
    execute = os.environ.get(EXECUTE_ENV, "1") != "0"
    for file in list(files.documentation_pages()):
        page = Path(file.abs_src_path or "")
        if page.suffix != ".md":
            continue
        markdown = page.read_text(encoding="utf-8")
        if not SNIPPET_FENCE.search(markdown):
            continue
        try:
            if execute:
                run, key, reused = cached_run(page, root)
            else:
                run, key, reused = unexecuted_run(page, root), "", False
        except TutorialError as exc:
            raise PluginError(
                f"Tutorial failed on page {file.src_uri}:\n  {exc}"
            ) from None
        log.info(
            "%s: %s (%.2f s, key %s)",
            file.src_uri,
            "reused cached run" if reused else ("ran" if execute else "not executed"),
            run.seconds,
            key[:10],
        )
        notebook_uri = f"notebooks/{page.stem}.ipynb"
        notebook_dir = root / NOTEBOOK_DIR[execute]
        write_notebook(notebook_dir / notebook_uri, markdown, run)
        # A real File (not File.generated): mkdocs-jupyter's wrapper needs a src_dir.
        files.append(
            File(
                notebook_uri,
                src_dir=str(notebook_dir),
                dest_dir=config.site_dir,
                use_directory_urls=config.use_directory_urls,
            )
        )
        _builds[file.src_uri] = PageBuild(run, key, reused, notebook_uri)
    return files


def footer(build: PageBuild, page_url: str) -> str:
    """sphinx-gallery style: how long the code took, the cache key, the notebook."""
    stem = Path(build.notebook).stem
    depth = page_url.count("/")
    download = "../" * depth + f"notebooks/{stem}/{stem}.ipynb"
    if build.key:
        ran = (
            f"This page's code ran in **{build.run.seconds:.2f} s**"
            f"{' (reused from the execution cache)' if build.reused else ''}; "
            f"cache key `{build.key[:12]}`."
        )
    else:
        ran = "This page's code was not executed in this build."
    return (
        '\n\n<div class="tutorial-footer" markdown>\n'
        f"{ran} [Open this page as a notebook]({build.notebook}) or "
        f'<a href="{download}" download>download the .ipynb</a>.\n</div>\n'
    )


def on_page_markdown(markdown, page, config, files, **kwargs):
    build = _builds.get(page.file.src_uri)
    if build is None:
        return markdown
    page_key = re.sub(r"[\W_]", "", page.file.src_uri)
    markdown, build.figures = insert_results(markdown, build.run, page_key)
    return markdown + footer(build, page.url)


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
    for i, char in enumerate(css):
        if char == "{":
            if depth == 0:
                start = i
            depth += 1
        elif char == "}":
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


def slim_notebook_styles(html_text: str) -> str:
    used = set(
        re.findall(r"[\w-]+", " ".join(re.findall(r'class="([^"]*)"', html_text)))
    )
    return re.sub(
        r"(<style[^>]*>)(.*?)(</style>)",
        lambda m: m[1] + pruned_notebook_css(m[2], used) + m[3],
        html_text,
        flags=re.S,
    )


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


def on_page_content(html_text, page, config, files, **kwargs):
    if page.file.src_uri.endswith(".ipynb"):
        stem = Path(page.file.src_uri).stem
        download = (
            f'<p class="notebook-download"><a class="md-button" href="{stem}.ipynb" '
            f"download>Download {stem}.ipynb</a></p>"
        )
        html_text = NOTEBOOK_REMOTE_SCRIPTS.sub("", html_text)
        return download + slim_notebook_styles(unique_heading_ids(html_text))
    build = _builds.get(page.file.src_uri)
    for token, figure in (build.figures if build else {}).items():
        html_text, count = re.subn(rf"<p>{token}</p>", lambda _, f=figure: f, html_text)
        if count != 1:
            raise PluginError(
                f"{page.file.src_uri}: figure placeholder {token} was lost"
            )
    return html_text


def vendor_assets():
    """(site path, installed file) for MathJax and plotly.js from their packages."""
    import mathjax
    import plotly

    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    yield "assets/vendor/plotly.min.js", plotly_js
    es5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    yield "assets/vendor/mathjax/tex-chtml.js", es5 / "tex-chtml.js"
    # Parts MathJax may load on demand: fonts, TeX extensions, menu, accessibility.
    for folder in ("output/chtml", "input/tex/extensions", "ui", "a11y", "sre"):
        for path in sorted((es5 / folder).rglob("*")):
            if path.is_file():
                yield f"assets/vendor/mathjax/{path.relative_to(es5).as_posix()}", path
