"""MkDocs hooks (registered in mkdocs.yml): tutorials run during the build.

on_config reuses each tutorial page's cached run or hands the page to a worker
process (hooks/workers.py; the plugin in early_start.py has usually started
the server). on_files adds the notebooks, and MathJax and plotly.js from their
installed packages. MkDocs renders the other pages meanwhile; on_pre_page waits
for a page's run only when that page (or its notebook) is reached, and writes
the notebook. on_page_markdown / on_page_content then place the page's outputs,
figures and a footer. The runner itself is hooks/tutorials.py.
"""

from __future__ import annotations

import logging
import re
import sys
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# MkDocs loads this file by path and restores sys.path afterwards: the imports
# below must happen now, and tutorial code is made importable again per run.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mkdocs.exceptions import PluginError  # noqa: E402
from mkdocs.plugins import event_priority  # noqa: E402
from mkdocs.structure.files import File, Files  # noqa: E402

from hooks.cache import CACHE_DIR, load, lookup  # noqa: E402
from hooks.notebooks import write_notebook  # noqa: E402
from hooks.tutorials import (  # noqa: E402
    PageRun,
    Section,
    TutorialError,
    forget_tutorial_modules,
    insert_results,
    is_tutorial,
    unexecuted_run,
)
from hooks.workers import (  # noqa: E402
    discard_runners,
    executing,
    shared_runner,
    stop_if_unused,
    wait_for_a_free_core,
)

log = logging.getLogger("mkdocs.hooks.tutorials")

# notebooks/ lives here (git-ignored). Builds without execution write their
# output-less notebooks elsewhere, so they never replace the executed ones.
NOTEBOOK_DIR = {
    True: Path(".cache/generated"),
    False: Path(".cache/generated-unexecuted"),
}


@dataclass
class PageBuild:
    page: Path
    root: Path
    notebook_uri: str  # src_uri of the generated notebook
    notebook_dir: Path
    sections: list[Section] = field(default_factory=list)
    key: str = ""  # empty when execution is off
    run: PageRun | None = None  # None while a worker is still running the page
    pending: Future | None = None
    reused: bool = False
    ready: bool = False  # run available and notebook written
    figures: dict[str, str] = field(default_factory=dict)


_started: dict[Path, PageBuild] = {}  # by page path, from on_config
_builds: dict[str, PageBuild] = {}  # by src_uri of the tutorial page
_by_notebook: dict[str, PageBuild] = {}  # by src_uri of its notebook


def start_page(page: Path, root: Path, execute: bool) -> PageBuild:
    """Reuse the page's cached run, or hand the page to a worker right away.
    A failure is kept and reported when MkDocs reaches the page."""
    build = PageBuild(
        page, root, f"notebooks/{page.stem}.ipynb", root / NOTEBOOK_DIR[execute]
    )
    try:
        if not execute:
            build.run = unexecuted_run(page, root)
        else:
            build.sections, build.key, build.run = lookup(page, root)
            build.reused = build.run is not None
            if build.run is None:
                runner = shared_runner(root)
                build.pending = runner.submit(page, build.key, root / CACHE_DIR)
    except TutorialError as exc:
        build.pending = Future()
        build.pending.set_exception(exc)
    return build


def project_root(config) -> Path:
    return Path(config.config_file_path).resolve().parent


_serving = False  # under `mkdocs serve`, rather than a one-off build


def on_startup(command, dirty, **kwargs):
    global _serving
    _serving = command == "serve"


def on_config(config, **kwargs):
    """Start the tutorial pages now: the workers' imports take seconds, and
    MkDocs has a second of work of its own before on_files.

    A build with nothing to run stops the server that early_start.py started.
    `mkdocs serve` keeps it, so the first edit of a tutorial module does not
    wait for the imports again."""
    _started.clear()
    root, execute = project_root(config), executing()
    for page in sorted(Path(config.docs_dir).rglob("*.md")):
        if is_tutorial(page):
            _started[page.resolve()] = start_page(page.resolve(), root, execute)
    if not _serving:
        stop_if_unused(root)


def on_pre_build(config, **kwargs):
    forget_tutorial_modules()
    _builds.clear()
    _by_notebook.clear()


@event_priority(100)  # before mkdocs-jupyter converts the .ipynb files it finds
def on_files(files, config, **kwargs):
    """Add each tutorial page's notebook, and MathJax and plotly.js.

    Pages still waiting for their run are moved to the end of the reading
    order, so MkDocs renders everything else while their code runs."""
    for src_uri, path in vendor_assets():
        files.append(File.generated(config, src_uri, abs_src_path=str(path)))
    root, execute = project_root(config), executing()
    waiting = []
    for file in list(files.documentation_pages()):
        page = Path(file.abs_src_path or "").resolve()
        if not is_tutorial(page):
            continue
        build = _started.pop(page, None) or start_page(page, root, execute)
        if build.pending is not None:
            waiting += [file.src_uri, build.notebook_uri]
        # A real File (not File.generated): mkdocs-jupyter's wrapper needs a src_dir.
        files.append(
            File(
                build.notebook_uri,
                src_dir=str(build.notebook_dir),
                dest_dir=config.site_dir,
                use_directory_urls=config.use_directory_urls,
            )
        )
        _builds[file.src_uri] = _by_notebook[build.notebook_uri] = build
    return Files(
        [f for f in files if f.src_uri not in waiting]
        + [f for uri in waiting for f in files if f.src_uri == uri]
    )


def page_ready(build: PageBuild) -> None:
    """Make the page's run available, waiting for its worker if need be, and
    write its notebook."""
    if build.ready:
        return
    wait_for_a_free_core(b.pending for b in _builds.values() if b.pending)
    if build.pending is not None:
        try:
            build.pending.result()
            build.run = load(
                build.page, build.key, build.sections, build.root / CACHE_DIR
            )
            if build.run is None:
                raise TutorialError(
                    "a worker ran the page, but its cache entry is missing or "
                    "damaged (was .cache/ deleted during the build?)"
                )
        except TutorialError as exc:
            page = build.page.relative_to(build.root)
            raise PluginError(f"Tutorial failed on page {page}:\n  {exc}") from None
        build.pending = None
    log.info(
        "%s: %s (%.2f s, key %s)",
        build.page.name,
        ("reused cached run" if build.reused else "ran")
        if build.key
        else "not executed",
        build.run.seconds,
        build.key[:10],
    )
    notebook = build.notebook_dir / build.notebook_uri
    write_notebook(notebook, build.page.read_text(encoding="utf-8"), build.run)
    build.ready = True


@event_priority(100)  # before mkdocs-jupyter reads the notebook
def on_pre_page(page, config, files, **kwargs):
    uri = page.file.src_uri
    build = _builds.get(uri) or _by_notebook.get(uri)
    if build is not None:
        page_ready(build)


def on_build_error(error, **kwargs):
    discard_runners()


def footer(build: PageBuild, page_url: str) -> str:
    """sphinx-gallery style: how long the code took, the cache key, the notebook."""
    stem = Path(build.notebook_uri).stem
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
        f"{ran} [Open this page as a notebook]({build.notebook_uri}) or "
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
