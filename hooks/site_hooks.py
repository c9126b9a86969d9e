"""MkDocs adapter of the tutorial engine (registered under `hooks:` in mkdocs.yml).

It hands the tutorial pages to hooks.engine.Build when the configuration is
read, adds each page's notebooks, the schedule (and MathJax and plotly.js) to
the site, and puts every page's frame, outputs, figures and footer in place.
How the parts fit is described on docs/how_it_is_built.md; moving the site to
another generator means rewriting this file only.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

ENGINE_ROOT = Path(__file__).resolve().parent.parent
# MkDocs loads this file by path and restores sys.path afterwards: the imports
# below must happen now (on_config puts the path back for the worker processes).
if str(ENGINE_ROOT) not in sys.path:
    sys.path.insert(0, str(ENGINE_ROOT))

from mkdocs.exceptions import PluginError  # noqa: E402
from mkdocs.plugins import event_priority  # noqa: E402
from mkdocs.structure.files import File, Files  # noqa: E402

from hooks.engine import Build, PageJob, tutorial_pages  # noqa: E402
from hooks.frame import (  # noqa: E402
    Episode,
    FrameError,
    framed,
    schedule_markdown,
    split_front_matter,
    tutorial_frame,
)
from hooks.notebook_html import notebook_page  # noqa: E402
from hooks.notebooks import (  # noqa: E402
    LEARNER_SUFFIX,
    notebook_paths,
    page_title,
    write_notebooks,
)
from hooks.page_output import (  # noqa: E402
    bind_results,
    insert_results,
    other_inputs_note,
)
from hooks.tutorials import TutorialError  # noqa: E402

log = logging.getLogger("mkdocs.hooks.tutorials")
NOTEBOOKS_SECTION = "Notebooks"
SCHEDULE = "schedule.md"  # generated; listed in the nav of mkdocs.yml


class TutorialSite:
    """Everything one build knows about its tutorial pages."""

    def __init__(self, config):
        self.root = Path(config.config_file_path).resolve().parent
        if not config.site_url:
            raise PluginError(
                "mkdocs.yml needs a site_url: the generated notebooks link to "
                "the published site"
            )
        self.site_url = config.site_url
        docs = Path(config.docs_dir).resolve()
        pages = tutorial_pages(docs)
        self.uris = {p.relative_to(docs).as_posix(): p for p in pages}
        self.notebooks = {notebook_uri(uri): p for uri, p in self.uris.items()}
        # Checked before anything runs: no page may silently lose its frame.
        self.frames = {page: read_frame(page, self.root) for page in pages}
        self.build = Build(self.root, pages)
        self.note = other_inputs_note(self.build.inputs)
        self.ready: set[Path] = set()
        self.figures: dict[str, dict[str, str]] = {}  # tokens by page src_uri
        self.titles: dict[str, str] = {}  # nav titles by page src_uri

    def page_of(self, src_uri: str) -> Path | None:
        return self.uris.get(src_uri) or self.notebooks.get(src_uri)

    def job(self, page: Path) -> PageJob:
        """The page's run (waiting for it if need be); its notebook written."""
        try:
            job = self.build.result(page)
        except TutorialError as exc:
            where = page.relative_to(self.root)
            raise PluginError(f"Tutorial failed on page {where}:\n  {exc}") from None
        if page not in self.ready:
            log.info(
                "%s: %s (%.2f s, key %s)",
                page.name,
                ("reused cached run" if job.reused else "ran")
                if job.key
                else "not executed",
                job.run.seconds,
                job.key[:10],
            )
            for result in job.run.not_so:  # only on other data: else job() raised
                log.info(
                    '%s: marked not so on this build\'s data: "%s" (%s: %s)',
                    page.name,
                    result.sentence,
                    result.kind,
                    result.expression,
                )
            folder = self.build.notebook_dir / "notebooks"
            write_notebooks(folder, page, job.run, self.site_url, self.note)
            self.ready.add(page)
        return job

    def schedule(self) -> str:
        episodes = []
        for uri, page in self.uris.items():
            title = self.titles.get(uri) or page_title(page.read_text())
            episodes.append(Episode(title, uri, self.frames[page]))
        return schedule_markdown(episodes)


def read_frame(page: Path, root: Path):
    where = page.relative_to(root).as_posix()
    try:
        meta, _ = split_front_matter(page.read_text(encoding="utf-8"), where)
        return tutorial_frame(meta, where)
    except FrameError as exc:
        raise PluginError(str(exc)) from None


def notebook_uri(page_uri: str) -> str:
    return f"notebooks/{Path(page_uri).stem}.ipynb"


def learner_uri(page_uri: str) -> str:
    """The learner notebook: a download beside the full one, not a page."""
    stem = Path(page_uri).stem
    _, learner = notebook_paths(Path("notebooks") / stem, Path(page_uri))
    return learner.as_posix()


_site: TutorialSite | None = None  # the build in progress


def on_config(config, **kwargs):
    """Start the tutorial pages now: stale ones run while MkDocs reads the rest.
    The nav gets a Notebooks section at its end, one entry per tutorial."""
    global _site
    if str(ENGINE_ROOT) not in sys.path:  # worker processes import hooks.engine
        sys.path.append(str(ENGINE_ROOT))
    _site = TutorialSite(config)
    jupyter = config.plugins.get("mkdocs-jupyter")
    if jupyter is not None:  # its render cache, one per data like the notebooks:
        # a build on other data beside this one evicts only its own entries
        cache = _site.root / ".cache" / "mkdocs-jupyter" / _site.build.notebook_dir.name
        jupyter.config["cache_dir"] = str(cache)
        # Learner notebooks are downloads, copied as they are, not pages.
        jupyter.config["ignore"] = [
            *jupyter.config["ignore"],
            f"*{LEARNER_SUFFIX}.ipynb",
        ]
    if config.nav is not None:
        _site.titles = titles = nav_titles(config.nav)
        entries = []
        for uri, page in _site.uris.items():
            title = titles.get(uri) or page_title(page.read_text(encoding="utf-8"))
            entries.append({f"{title} (notebook)": notebook_uri(uri)})
        if entries:
            config.nav = [*config.nav, {NOTEBOOKS_SECTION: entries}]
    return config


def nav_titles(nav) -> dict[str, str]:
    """{page file: its title} for the titled entries of a nav."""
    titles = {}
    for entry in nav if isinstance(nav, list) else []:
        if isinstance(entry, dict):
            for title, target in entry.items():
                if isinstance(target, str):
                    titles[target] = title
                else:
                    titles.update(nav_titles(target))
    return titles


@event_priority(100)  # before mkdocs-jupyter picks up the .ipynb files
def on_files(files, config, **kwargs):
    for src_uri, path in vendor_assets(_site.root):
        files.append(File.generated(config, src_uri, abs_src_path=str(path)))
    for uri in _site.uris:  # written with the full one (mkdocs-jupyter ignores it)
        _, learner = notebook_paths(_site.build.notebook_dir / "notebooks", Path(uri))
        files.append(
            File.generated(config, learner_uri(uri), abs_src_path=str(learner))
        )
    files.append(File.generated(config, SCHEDULE, content=_site.schedule()))
    # MkDocs renders pages in the order of `files`: each notebook goes right after
    # its page, so that it is rendered while the pages after it still run.
    in_order = []
    for file in files:
        in_order.append(file)
        if file.src_uri in _site.uris:
            # A real File (not File.generated): mkdocs-jupyter needs its src_dir.
            in_order.append(
                File(
                    notebook_uri(file.src_uri),
                    src_dir=str(_site.build.notebook_dir),
                    dest_dir=config.site_dir,
                    use_directory_urls=config.use_directory_urls,
                )
            )
    return Files(in_order)


def on_nav(nav, config, files, **kwargs):
    """Previous/Next stay among pages of one kind: a tutorial's lead to pages,
    a notebook's to notebooks."""
    for is_notebook in (False, True):
        kind = [
            p for p in nav.pages if p.file.src_uri.endswith(".ipynb") == is_notebook
        ]
        for i, page in enumerate(kind):
            page.previous_page = kind[i - 1] if i > 0 else None
            page.next_page = kind[i + 1] if i + 1 < len(kind) else None
    return nav


@event_priority(100)  # before mkdocs-jupyter reads the notebook
def on_pre_page(page, config, files, **kwargs):
    tutorial = _site.page_of(page.file.src_uri)
    if tutorial is not None:
        _site.job(tutorial)


def on_page_markdown(markdown, page, config, files, **kwargs):
    tutorial = _site.uris.get(page.file.src_uri)
    if tutorial is None:
        return markdown
    job = _site.job(tutorial)
    page_key = re.sub(r"[\W_]", "", page.file.src_uri)
    markdown, _site.figures[page.file.src_uri] = insert_results(
        bind_results(markdown, job.run), job.run, page_key
    )
    framed_markdown = framed(markdown, _site.frames[tutorial], _site.note)
    return framed_markdown + footer(job, page.url)


def footer(job: PageJob, page_url: str) -> str:
    """sphinx-gallery style: how long the code took, the cache key, the
    notebook and the two downloads."""
    stem = job.page.stem
    up = "../" * page_url.count("/")
    full = f"{up}notebooks/{stem}/{stem}.ipynb"
    learner = up + learner_uri(job.page.name)
    if job.key:
        ran = (
            f"This page's code ran in **{job.run.seconds:.2f} s**"
            f"{' (reused from the execution cache)' if job.reused else ''}; "
            f"cache key `{job.key[:12]}`."
        )
    else:
        ran = "This page's code was not executed in this build."
    return (
        '\n\n<div class="tutorial-footer" markdown>\n'
        f"{ran} [Open this page as a notebook]({notebook_uri(job.page.name)}), "
        f'or download it: <a href="{full}" download>full notebook</a> · '
        f'<a href="{learner}" download>learner notebook (exercises without '
        "solutions)</a>.\n</div>\n"
    )


def on_page_content(html_text, page, config, files, **kwargs):
    src_uri = page.file.src_uri
    if src_uri in _site.notebooks:
        # A notebook repeats its page: in the search index it would double every
        # hit (and the index readers download).
        page.meta["search"] = {"exclude": True}
        return notebook_page(html_text, src_uri, _site.site_url)
    for token, figure in _site.figures.get(src_uri, {}).items():
        html_text, count = re.subn(rf"<p>{token}</p>", lambda _, f=figure: f, html_text)
        if count != 1:
            raise PluginError(f"{src_uri}: figure placeholder {token} was lost")
    return html_text


def on_post_build(config, **kwargs):
    _site.build.close()


def on_build_error(error, **kwargs):
    if _site is not None:
        _site.build.close(cancel=True)


def vendor_assets(root: Path):
    """(site path, installed file) for plotly.js and MathJax, from installed
    packages (no CDN).

    plotly.js is the partial bundle that package.json names, when `npm ci`
    (run by `make install`) installed it for the plotly.js version the pinned
    plotly writes figures for; otherwise the full bundle shipped with plotly,
    which draws every trace type but weighs three times as much.
    """
    import json

    import mathjax
    import plotly
    from plotly.offline import get_plotlyjs_version

    def read_json(path: Path) -> dict:
        try:
            return json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            return {}

    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    pinned = read_json(root / "package.json").get("dependencies", {})
    bundle = next((name for name in pinned if name.startswith("plotly.js")), None)
    installed = read_json(root / "node_modules" / str(bundle) / "package.json")
    wanted = get_plotlyjs_version()
    if not installed:
        log.info(
            "the partial plotly.js bundle (%s) is not installed (run `npm ci`, or "
            "`make install`): the site serves the full plotly.js instead",
            bundle or "package.json names none",
        )
    elif installed.get("version") != wanted:
        log.info(
            "%s %s is installed, but plotly writes figures for plotly.js %s: the "
            "site serves the full plotly.js instead (run `npm ci`; pin %s in "
            "package.json if it names another version)",
            bundle,
            installed.get("version"),
            wanted,
            wanted,
        )
    else:
        plotly_js = root / "node_modules" / bundle / installed["main"]
    yield "assets/vendor/plotly.min.js", plotly_js

    # MathJax as components (math-config.js loads them on pages with math): the
    # TeX input, the CHTML output and the hidden MathML that screen readers
    # read, without the context menu (over a third of tex-chtml.js, which
    # bundles it); and what they load on demand: TeX extensions, fonts.
    es5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    for name in ("startup", "core", "input/tex", "output/chtml", "a11y/assistive-mml"):
        yield f"assets/vendor/mathjax/{name}.js", es5 / f"{name}.js"
    for folder in ("input/tex/extensions", "output/chtml"):
        for path in sorted((es5 / folder).rglob("*")):
            if path.is_file():
                yield f"assets/vendor/mathjax/{path.relative_to(es5).as_posix()}", path
