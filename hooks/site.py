"""The MkDocs adapter: the tutorials' part of one build, a plugin object that
hooks/site_hooks.py registers with the build's configuration.

When the configuration is read it starts the tutorial pages (hooks.engine). It
adds each page's notebooks, the schedule, MathJax and plotly.js to the site;
puts each page's frame, outputs, figures and footer in place (hooks.render);
tidies the notebook pages mkdocs-jupyter renders (at the end of this file);
and
links every page to the files that make it (Material's edit button, each
tutorial's module and test). Moving the site to another generator means
rewriting this file; docs/how_it_is_built.md describes the whole.
"""

from __future__ import annotations

import html
import json
import logging
import re
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files

from hooks import render
from hooks.engine import Build, Job, tutorial_pages
from hooks.tutorials import TutorialError

log = logging.getLogger("mkdocs.hooks.tutorials")
# Material's header repository link makes every reader's browser ask
# api.github.com for star and fork counts: the link stays, that lookup goes.
SOURCE_FACTS = ' data-md-component="source"'


class TutorialsPlugin:
    """Everything one build knows about its tutorial pages."""

    def __init__(self, config):
        branch = re.fullmatch(r"edit/([^/]+)/.*", config.edit_uri or "")
        if not (config.site_url and config.repo_url and branch):
            need = "a site_url, a repo_url and an edit_uri edit/<branch>/docs/"
            raise PluginError(f"mkdocs.yml needs {need}: the pages link to them")
        self.site_url, repo = config.site_url, config.repo_url.rstrip("/")
        self.source, self.edit = f"{repo}/blob/{branch[1]}/", f"{repo}/{branch[0]}"
        if config.copyright:  # {source}: the footer's link to the contributor guide
            config.copyright = config.copyright.replace("{source}", self.source)
        docs = Path(config.docs_dir).resolve()
        self.pages = {p.relative_to(docs).as_posix(): p for p in tutorial_pages(docs)}
        self.notebooks = {f"notebooks/{Path(u).stem}.ipynb": u for u in self.pages}
        root = Path(config.config_file_path).resolve().parent
        try:  # reads every page (a frame that lacks a key stops it), starts the stale
            self.build = Build(root, list(self.pages.values()))
        except TutorialError as exc:
            raise PluginError(str(exc)) from None
        self.note = render.other_inputs_note(self.build.inputs)
        self.ready: set[str] = set()  # pages whose notebooks are written
        self.figures: dict[str, dict[str, str]] = {}  # HTML by token, by page
        self.titles = nav_titles(config.nav or [])
        for uri, path in self.pages.items():
            page = self.build.jobs[path].page
            self.titles.setdefault(uri, page.title if page else uri)
        if config.nav and self.pages:  # the notebooks, in a section at the end
            titles = {nb: self.titles[page] for nb, page in self.notebooks.items()}
            entries = [{f"{t} (notebook)": nb} for nb, t in titles.items()]
            config.nav += [{"Notebooks": entries}]

    def job(self, uri: str) -> Job:
        """A page's job with its run, waited for; its notebooks written."""
        try:
            job = self.build.result(self.pages[uri])
        except TutorialError as exc:
            where = self.pages[uri].relative_to(self.build.root)
            raise PluginError(f"Tutorial failed on page {where}:\n  {exc}") from None
        if uri not in self.ready:
            what = "reused cached run" if job.reused else "ran"
            what, seconds = what if job.key else "not executed", job.run.seconds
            log.info("%s: %s (%.2f s, key %s)", uri, what, seconds, job.key[:10])
            for r in job.run.not_so:  # only on other data: else result() raised
                why = f'"{r.sentence}" ({r.kind}: {r.expression})'
                log.info("%s: marked not so on this build's data: %s", uri, why)
            folder = self.build.notebook_dir / "notebooks"
            render.write_notebooks(folder, job.page, job.run, self.site_url, self.note)
            self.ready.add(uri)
        return job

    @event_priority(100)  # before mkdocs-jupyter picks up the .ipynb files
    def on_files(self, files, config, **kwargs):
        for src_uri, path in vendor_assets(self.build.root):
            files.append(File.generated(config, src_uri, abs_src_path=str(path)))
        pages = {uri: self.build.jobs[path].page for uri, path in self.pages.items()}
        schedule = [(self.titles[u], u, p.frame) for u, p in pages.items() if p]
        schedule = render.schedule_markdown(schedule)
        files.append(File.generated(config, "schedule.md", content=schedule))
        # MkDocs renders pages in the order of `files`: each notebook goes right
        # after its page, rendered while the pages after it still run. The
        # learner notebook is a download, written with the full one.
        in_order, folder = [], self.build.notebook_dir
        site, urls = config.site_dir, config.use_directory_urls
        for file in files:
            in_order.append(file)
            if file.src_uri in self.pages:  # a real File: mkdocs-jupyter needs src_dir
                stem = Path(file.src_uri).stem
                notebook = f"notebooks/{stem}.ipynb"
                in_order.append(File(notebook, str(folder), site, urls))
                learner = folder / "notebooks" / f"{stem}-learner.ipynb"
                uri = f"notebooks/{stem}/{learner.name}"
                in_order.append(File.generated(config, uri, abs_src_path=str(learner)))
        return Files(in_order)

    def on_nav(self, nav, config, files, **kwargs):
        """Previous and Next stay among pages of one kind: a tutorial's lead to
        pages, a notebook's to notebooks."""
        for suffix in (".md", ".ipynb"):
            kind = [p for p in nav.pages if p.file.src_uri.endswith(suffix)]
            for i, page in enumerate(kind):
                page.previous_page = kind[i - 1] if i else None
                page.next_page = kind[i + 1] if i + 1 < len(kind) else None
        return nav

    @event_priority(100)  # before mkdocs-jupyter reads the notebook
    def on_pre_page(self, page, config, files, **kwargs):
        uri = self.notebooks.get(page.file.src_uri, page.file.src_uri)
        if uri in self.pages:
            self.job(uri)

    def on_page_markdown(self, markdown, page, config, files, **kwargs):
        uri = page.file.src_uri
        if uri not in self.pages:
            return markdown
        job = self.job(uri)
        token = "TUTORIALFIGURE" + re.sub(r"[\W_]", "", uri)
        markdown, self.figures[uri] = render.page_markdown(
            job.page, job.run, self.note, token
        )
        # sphinx-gallery style: how long the code took, the key, the notebooks.
        up = "../" * page.url.count("/")
        return markdown + render.PARTS.footer(job, Path(uri).stem, up)

    def on_page_content(self, html_text, page, config, files, **kwargs):
        uri = page.file.src_uri
        if uri in self.notebooks:
            source = self.notebooks[uri]
            # A notebook repeats its page: in the search index it doubles hits.
            page.meta["search"] = {"exclude": True}
            page.edit_url = self.edit + source  # it has no file of its own
            source, module = self.link(f"docs/{source}"), self.link(module_of(uri))
            notes = render.PARTS.notebook_sources(source, module)
            return notebook_page(html_text, uri, self.site_url) + notes
        for token, figure in self.figures.get(uri, {}).items():
            if html_text.count(f"<p>{token}</p>") != 1:
                raise PluginError(f"{uri}: figure placeholder {token} was lost")
            html_text = html_text.replace(f"<p>{token}</p>", figure)
        module = module_of(uri)
        if uri in self.pages and (self.build.root / module).exists():
            test = self.link(f"tests/test_{Path(module).name}")
            html_text += render.PARTS.sources(self.link(module), test)
        return html_text

    def link(self, path: str) -> str:
        return f'<a href="{html.escape(self.source + path)}"><code>{path}</code></a>'

    def on_post_page(self, output, page, config, **kwargs):
        return output.replace(SOURCE_FACTS, "")

    def on_post_template(self, output_content, template_name, config, **kwargs):
        return output_content.replace(SOURCE_FACTS, "")  # 404.html has the header too

    def on_post_build(self, config, **kwargs):
        self.build.close()

    def on_build_error(self, error, **kwargs):
        self.build.close(cancel=True)


def module_of(uri: str) -> str:
    """04_classifier.md (or its notebook) -> tutorial_code/classifier.py"""
    return f"tutorial_code/{Path(uri).stem.split('_', 1)[-1]}.py"


def nav_titles(nav) -> dict[str, str]:
    """{page file: its title} for the titled entries of a nav."""
    titles = {}
    for entry in nav if isinstance(nav, list) else []:
        for title, target in entry.items() if isinstance(entry, dict) else ():
            titles |= {target: title} if isinstance(target, str) else nav_titles(target)
    return titles


def vendor_assets(root: Path):
    """(site path, installed file) for plotly.js and MathJax, from installed
    packages: the partial plotly.js bundle of package.json when `npm ci`
    installed it for the plotly.js version plotly writes, else plotly's full one."""
    import mathjax
    import plotly.offline

    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    bundles = root.glob("node_modules/plotly.js-*-dist-min/package.json")
    bundle = next((json.loads(p.read_text()) | {"dir": p.parent} for p in bundles), {})
    if bundle.get("version") == plotly.offline.get_plotlyjs_version():
        plotly_js = bundle["dir"] / bundle["main"]
    yield "assets/vendor/plotly.min.js", plotly_js
    # MathJax as components, which math-config.js loads on pages with math: TeX
    # input, CHTML output, the hidden MathML screen readers read (no menu, over
    # a third of tex-chtml.js); and what they load on demand: extensions, fonts.
    es5 = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    for name in ("startup", "core", "input/tex", "output/chtml", "a11y/assistive-mml"):
        yield f"assets/vendor/mathjax/{name}.js", es5 / f"{name}.js"
    for folder in ("input/tex/extensions", "output/chtml"):
        for path in sorted(p for p in (es5 / folder).rglob("*") if p.is_file()):
            yield f"assets/vendor/mathjax/{path.relative_to(es5).as_posix()}", path


# ------------------------------------------------------------------ notebook pages
# mkdocs-jupyter renders each notebook page with JupyterLab's whole theme
# inlined (~570 KB) and scripts from other hosts; these make it fit this site:
# offline, only the CSS a page uses, unique heading ids, links within the site.

# mkdocs-jupyter's notebook template loads MathJax (an empty src when no CDN URL
# is configured) and, for Mermaid diagrams, modules from a CDN. The site's own
# MathJax 3 typesets notebook pages (math-config.js), offline; we have no
# Mermaid cells.
REMOTE_SCRIPTS = re.compile(
    r"<!-- Load mathjax -->\s*<script[^>]*>\s*</script>"
    r"|<script[^>]*>\s*(?:MathJax\.Hub\.Config|init_mathjax)[\s\S]*?</script>"
    r"|<script type=\"module\">(?:(?!</script>)[\s\S])*?mermaid[\s\S]*?</script>",
    re.IGNORECASE,
)
# Classes of JupyterLab and the libraries its theme bundles (Lumino, Blueprint,
# CodeMirror); rules for ones a static notebook page never uses can go.
NOTEBOOK_CLASS = re.compile(r"\.((?:jp|lm|p|bp3|cm)-[\w-]+|CodeMirror[\w-]*)")
# A custom property's declaration. Its value may hold parentheses with a ";"
# inside: the theme's icons are url(data:image/svg+xml;base64,...).
CUSTOM_PROPERTY = re.compile(r"(--[\w-]+)\s*:(?:[^;{}()]|\([^()]*\))*;?")
STYLE = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.S)


def css_rules(css: str):
    """Top-level (prelude, body) pairs of a stylesheet; bodies keep braces."""
    depth, start = 0, 0
    for brace in re.finditer(r"[{}]", css):  # skipping to braces: it is large
        depth += 1 if brace[0] == "{" else -1
        if depth == 0:
            prelude, body = css[start : brace.end()].split("{", 1)
            yield prelude, "{" + body
            start = brace.end()


def used_css(css: str, used: set[str]) -> str:
    """The stylesheet without the rules for classes no element uses."""
    kept = []
    for prelude, body in css_rules(css):
        if prelude.strip().startswith(("@media", "@supports")):
            inner = used_css(body[1:-1], used)
            kept.append(f"{prelude}{{{inner}}}" if inner.strip() else "")
        elif prelude.strip().startswith("@") or any(
            set(NOTEBOOK_CLASS.findall(selector)) <= used
            for selector in prelude.split(",")
        ):
            kept.append(prelude + body)
    return "".join(kept)


def slim_styles(html_text: str) -> str:
    classes = " ".join(re.findall(r'class="([^"]*)"', html_text))
    used = set(re.findall(r"[\w-]+", classes))
    html_text = STYLE.sub(lambda m: m[1] + used_css(m[2], used) + m[3], html_text)
    # The theme also defines hundreds of custom properties, its icons among them,
    # of which the rules kept read a few dozen: drop those nothing reads, again
    # until none is left (a dropped one may have been another's only reader).
    while True:
        read = set(re.findall(r"var\(\s*(--[\w-]+)", html_text))

        def unread(match, read=read):
            return match[0] if match[1] in read else ""

        slimmer = STYLE.sub(
            lambda m: m[1] + CUSTOM_PROPERTY.sub(unread, m[2]) + m[3], html_text
        )
        if slimmer == html_text:
            return html_text
        html_text = slimmer


def unique_heading_ids(html_text: str) -> str:
    """Number repeated heading ids as the page's table of contents does
    (background, background_1, ...): nbconvert gives both "Background"s one id."""
    seen: dict[str, int] = {}

    def renumber(match):
        seen[match[2]] = count = seen.get(match[2], -1) + 1
        return f'{match[1]}id="{match[2]}_{count}"' if count else match[0]

    return re.sub(r'(<h[1-6][^>]*?\s)id="([^"]+)"', renumber, html_text)


def notebook_page(html_text: str, src_uri: str, site_url: str) -> str:
    """A rendered notebook page, offline and slim, with its download buttons.
    Its links to the published site become links within this site (the page
    is notebooks/<stem>/, two folders down): a preview or an offline copy of
    the site then stays in itself."""
    download = render.PARTS.downloads(Path(src_uri).stem)
    html_text = REMOTE_SCRIPTS.sub("", html_text)
    site = re.escape(site_url.rstrip("/") + "/")
    html_text = re.sub(rf'(\b(?:href|src)="){site}', r"\g<1>../../", html_text)
    return download + slim_styles(unique_heading_ids(html_text))
