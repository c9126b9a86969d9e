"""Jupyter notebooks generated from tutorial pages: never edited, never committed.

A page becomes a notebook cell by cell: the prose between snippet fences becomes
Markdown cells and each fence becomes a code cell holding the section's code.
Outputs come from the page's (cached) run, so making a notebook executes
nothing. Figures carry both plotly's own MIME type (drawn by JupyterLab) and
the site's figure markup (drawn by the site's shared plotly.js when
mkdocs-jupyter renders the notebook), so no page embeds plotly.js.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

import nbformat

from hooks.page_output import figure_html
from hooks.tutorials import SNIPPET_FENCE, PageRun

ADMONITION = re.compile(
    r'^(?P<indent>[ \t]*)(!!!|\?\?\?\+?)[ \t]+(\w+)(?:[ \t]+"(?P<title>[^"]*)")?[ \t]*$'
)
CLAIM_MARK = re.compile(r"^[ \t]*<!--.*?-->[ \t]*\n?", re.MULTILINE)
PAGE_LINK = re.compile(r"\]\((?:\./)?(\d\d_[\w-]+)\.md(#[\w-]+)?\)")
LOCAL_IMAGE = re.compile(r"\]\((?:\./)?(img/[^)\s]+)\)")
# Pages wrap images in <figure markdown> blocks, which Jupyter leaves unparsed.
MARKDOWN_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)(?:\{[^}\n]*\})?")


def notebook_markdown(text: str) -> str:
    """Page prose as plain Markdown that Jupyter renders.

    Admonitions become block quotes with a bold title; links to other pages and
    images point at the built site (the notebook page sits at notebooks/<stem>/).
    """
    text = CLAIM_MARK.sub("", text)
    text = PAGE_LINK.sub(lambda m: f"](../../{m[1]}/{m[2] or ''})", text)
    text = LOCAL_IMAGE.sub(lambda m: f"](../../{m[1]})", text)
    text = MARKDOWN_IMAGE.sub(
        lambda m: (
            f'<img src="{m[2]}" alt="{html.escape(m[1])}" style="max-width: 100%">'
        ),
        text,
    )
    out, quoting = [], None
    for line in text.splitlines():
        head = ADMONITION.match(line)
        if head:
            quoting = len(head["indent"]) + 4
            title = head["title"] or head.group(3).capitalize()
            out.append(f"> **{title}**" if title else ">")
            continue
        if quoting is not None:
            if line.strip() == "":
                out.append(">")
                continue
            if len(line) - len(line.lstrip()) >= quoting:
                out.append("> " + line[quoting:])
                continue
            quoting = None
        out.append(line)
    return "\n".join(out).strip("\n")


HEADING_ID = re.compile(
    r"^(#{1,6}[ \t].*?)[ \t]*\{[ \t]*#([\w-]+)[^}\n]*\}[ \t]*$", re.M
)


def _attr_lists_removed(text: str) -> str:
    """Drop attribute lists Jupyter can't read; a heading's own {#id} becomes an
    anchor before it, so links to it (the learning objectives) keep working."""
    text = HEADING_ID.sub(lambda m: f'<a id="{m[2]}"></a>\n\n{m[1]}', text)
    return re.sub(r"\{[ \t]*[:.#][^}\n]*\}", "", text)


def figure_output(figure: dict) -> nbformat.NotebookNode:
    return nbformat.v4.new_output(
        "display_data",
        data={
            "application/vnd.plotly.v1+json": figure,
            "text/html": figure_html(figure),
            "text/plain": "<plotly figure>",
        },
    )


def page_title(markdown: str) -> str:
    heading = re.search(r"^#[ \t]+(.+)$", markdown, re.MULTILINE)
    return heading[1].strip() if heading else "this page"


def write_notebook(path: Path, markdown: str, run: PageRun, note: str = "") -> None:
    """Write the page's notebook; unchanged bytes are left alone, which keeps
    mkdocs-jupyter's own render cache warm. Written atomically: another build
    of the same data may be reading it."""
    text = nbformat.writes(page_notebook(markdown, run, note))
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)


def page_notebook(markdown: str, run: PageRun, note: str = "") -> nbformat.NotebookNode:
    """The notebook of a page, with the outputs of `run` filled in; `note`
    (Markdown) goes first. Solution cells carry the tag "solution"."""
    cells = []
    fences = list(SNIPPET_FENCE.finditer(markdown))
    prose_start = 0
    for match, cell in zip(fences, run.cells, strict=True):
        prose = notebook_markdown(
            _attr_lists_removed(markdown[prose_start : match.start()])
        )
        if prose.strip(" >\n"):
            cells.append(nbformat.v4.new_markdown_cell(prose))
        code = nbformat.v4.new_code_cell(cell.section.code.rstrip("\n"))
        if cell.section.solution:
            code.metadata["tags"] = ["solution"]
        if cell.stdout:
            code.outputs.append(
                nbformat.v4.new_output("stream", name="stdout", text=cell.stdout)
            )
        code.outputs.extend(figure_output(f) for f in cell.figures)
        cells.append(code)
        prose_start = match.end()
    tail = notebook_markdown(_attr_lists_removed(markdown[prose_start:]))
    if tail.strip(" >\n"):
        cells.append(nbformat.v4.new_markdown_cell(tail))
    origin = nbformat.v4.new_markdown_cell(
        f"*Generated from the page “{page_title(markdown)}” and its `tutorial_code` "
        "module when the "
        "site was built. Run it from the repository root; edit the module, not this "
        "notebook.*"
    )
    first = [nbformat.v4.new_markdown_cell(notebook_markdown(note))] if note else []
    notebook = nbformat.v4.new_notebook(cells=[*first, origin, *cells])
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    for index, nb_cell in enumerate(notebook.cells):
        nb_cell["id"] = f"cell-{index}"  # stable ids: same page, same notebook bytes
    return notebook
