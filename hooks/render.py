"""A page and its run, as the site shows them and as two notebooks.

Both are made from the page's blocks (hooks/tutorials.py), with its frame: the
note on other data and the overview after the title, the key points at the
end. Fill-ins show their values; a check that does not hold is marked. The
site's Markdown puts each section's output and figures after its fence. The
notebooks make each fence a code cell with those outputs and the prose between
Markdown cells: the *full* notebook holds every cell, the *learner* notebook
leaves out each solution block and has an empty code cell where a solution had
code (nbconvert's tag-removal preprocessor makes both from one list of cells).
"""

from __future__ import annotations

import copy
import html
import json
import os
import posixpath
import re
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
import nbformat
from nbconvert.preprocessors import TagRemovePreprocessor

from hooks.tutorials import CHECK, Block, Cell, Page, PageRun, ProseResult

NOT_SO = "⚠ not so on this build's data"
# The words around the outputs, as Jinja macros: PARTS.overview(frame, note) ...
TEMPLATES = jinja2.FileSystemLoader(Path(__file__).parent)
ENVIRONMENT = jinja2.Environment(loader=TEMPLATES, trim_blocks=True, lstrip_blocks=True)
PARTS = ENVIRONMENT.get_template("parts.md.j2").module
SETUP_CELL = Path(__file__).parent.parent / "tools" / "find_clone.py"
TITLE_LINE = re.compile(r"^#[ \t]+.*\n?", re.MULTILINE)
ADMONITION = re.compile(r'^([ \t]*)(?:!!!|\?\?\?\+?)[ \t]+(\w+)(?: +"([^"]*)")?\s*$')
CLAIM_MARK = re.compile(r"^[ \t]*<!--.*?-->[ \t]*\n?|[ \t]*<!--\s*claim:.*?-->", re.M)
LINK = re.compile(r"(\]\(|\b(?:href|src)=\")([^)\s\"]+)")
# Pages wrap images in <figure markdown> blocks, which Jupyter leaves unparsed.
IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
HEADING_ID = re.compile(r"^(#{1,6} .*?)[ \t]*\{[ \t]*#([\w-]+)[^}\n]*\}[ \t]*$", re.M)
ATTRIBUTES = re.compile(r"\{[ \t]*[:.#][^}\n]*\}")


def shown(result: ProseResult, notebook: bool) -> str:
    """What stands in the prose for a fill-in or a check: its value, nothing
    (a check that holds or was not evaluated), or a visible mark."""
    if result.passed is None:
        return "" if result.kind == CHECK else "…"
    if result.passed:
        return "" if result.kind == CHECK else result.text
    mark = NOT_SO if result.kind == CHECK else "⚠ not computable on this build's data"
    why = f"{result.kind}: {result.expression}"
    why = html.escape(f"{why} ({result.error})" if result.error else why)
    span = f'<span class="result-not-so" title="{why}">{mark}</span>'
    return f"**{mark}**" if notebook else span


def pieces(page: Page, run: PageRun, note: str, notebook: bool) -> list[tuple]:
    """The page as (prose bound to the run, or a cell; its block), framed: the
    note and the overview after the title, the key points last."""
    out, cells, titled = [], iter(run.cells), False
    for block in page.blocks:
        if block.section:
            out.append((next(cells), block))
            continue
        text = "".join(
            p if isinstance(p, str) else shown(run.results[p], notebook)
            for p in block.parts
        )
        if not titled and (title := TITLE_LINE.search(text)):
            overview = PARTS.overview(page.frame, note)
            text, titled = text[: title.end()] + overview + text[title.end() :], True
        out.append((text, block))
    return [*out, (PARTS.key_points(page.frame), Block(""))]


def figure_html(figure: dict) -> str:
    title = (figure.get("layout", {}).get("title") or {}).get("text", "Figure")
    payload = json.dumps(figure, separators=(",", ":")).replace("</", "<\\/")
    return (
        '<figure class="tutorial-figure"><div class="plotly-figure" role="img" '
        f'aria-label="{html.escape(title)}"></div><script type="application/json" '
        f'class="plotly-data">{payload}</script></figure>'
    )


def page_markdown(page: Page, run: PageRun, note: str, token: str) -> tuple:
    """(Markdown, {token: figure HTML}) of the page, framed and bound to the
    run, each fence followed by its output and figures. A figure goes in as a
    token, to be swapped for its HTML after Markdown conversion: raw HTML then
    never has to survive Markdown inside admonitions."""
    figures, out = {}, []
    for piece, block in pieces(page, run, note, notebook=False):
        if isinstance(piece, str):
            out.append(piece)
            continue
        indent = block.indent
        out.append(block.text)
        if piece.stdout.strip():
            text = textwrap.indent(piece.stdout.rstrip("\n"), indent + "    ")
            box = f'!!! output "Output"\n\n{indent}    ```text\n{text}\n'
            out.append(f"\n\n{indent}{box}{indent}    ```\n")
        for figure in piece.figures:
            figures[f"{token}X{len(figures)}"] = figure_html(figure)
            out.append(f"\n\n{indent}{token}X{len(figures) - 1}\n")
    return "".join(out), figures


def other_inputs_note(inputs) -> str:
    """A warning for the top of every tutorial page and notebook when the build
    used other data or genes than the shipped ones ("" when it did not)."""
    return PARTS.other_data(inputs, NOT_SO) if inputs.custom else ""


def schedule_markdown(pages: list[tuple[str, str, dict]]) -> str:
    """The tutorials (title, page, frame) in order, with their minutes and the
    clock time each starts at, from 0:00, and the totals."""
    rows, taught, practised = [], 0, 0
    for title, uri, frame in pages:
        rows.append((taught + practised, title, uri, frame))
        taught, practised = taught + frame["teaching"], practised + frame["exercises"]
    return PARTS.schedule(rows, taught, practised, lambda m: f"{m // 60}:{m % 60:02d}")


# ------------------------------------------------------------------ notebooks


def site_link(target: str, page_uri: str, site_url: str) -> str:
    """A link written on the page `page_uri` (a path under docs/) as an address
    on the published site (directory URLs); other hosts' stay as they are."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("/"):
        return target
    path = posixpath.join(posixpath.dirname(page_uri), parts.path or page_uri)
    path = posixpath.normpath(path)
    if path.endswith(".md"):  # a page: index.md is its folder, x.md is x/
        path = re.sub(r"(^|/)index$", r"\1", path.removesuffix(".md"))
        path += "/" if path and not path.endswith("/") else ""
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    return f"{site_url.rstrip('/')}/{path}{fragment}"


def notebook_markdown(text: str, quoting: int | None, page: str, site: str) -> str:
    """Page prose as Markdown that Jupyter renders: admonitions become block
    quotes with a bold title (`quoting`: the indent of the admonition the text
    starts inside), attribute lists go (a heading's {#id} becomes an anchor),
    images become <img>, and links lead to the site."""
    text = CLAIM_MARK.sub("", text)
    text = ATTRIBUTES.sub("", HEADING_ID.sub(r'<a id="\2"></a>\n\n\1', text))
    image = '<img src="{}" alt="{}" style="max-width: 100%">'
    text = IMAGE.sub(lambda m: image.format(m[2], html.escape(m[1])), text)
    text = LINK.sub(lambda m: m[1] + site_link(m[2], page, site), text)
    out = []
    for line in text.splitlines():
        if head := ADMONITION.match(line):
            quoting = len(head[1]) + 4
            out += [f"> **{head[3] or head[2].capitalize()}**", ">"]
        elif quoting and not line.strip():
            out.append(">")
        elif quoting and len(line) - len(line.lstrip()) >= quoting:
            out.append("> " + line[quoting:])
        else:
            quoting = None
            out.append(line)
    while out and out[-1].strip() in ("", ">"):
        out.pop()
    while out and out[0].strip() in ("", ">"):
        out.pop(0)
    return "\n".join(out)


def tagged(cell: nbformat.NotebookNode, *tags: str) -> nbformat.NotebookNode:
    if tags:
        cell.metadata.tags = list(tags)
    return cell


def code_cell(cell: Cell, folded: bool) -> nbformat.NotebookNode:
    """A code cell with the section's outputs. Code the page folds away is
    folded here too: JupyterLab reads `source_hidden`, and the notebook pages'
    script (docs/javascripts/notebook-cells.js) the class `celltag_folded` that
    nbconvert gives the cell for its tag."""
    hidden = {"jupyter": {"source_hidden": True}, "tags": ["folded"]} if folded else {}
    code = nbformat.v4.new_code_cell(cell.section.code.rstrip("\n"), metadata=hidden)
    if cell.stdout:
        stream = nbformat.v4.new_output("stream", name="stdout", text=cell.stdout)
        code.outputs.append(stream)
    for figure in cell.figures:  # JupyterLab draws plotly's; the site the HTML
        data = {"application/vnd.plotly.v1+json": figure}
        data |= {"text/html": figure_html(figure), "text/plain": "<plotly figure>"}
        code.outputs.append(nbformat.v4.new_output("display_data", data=data))
    return code


def notebooks(page: Page, run: PageRun, site_url: str, note: str) -> list:
    """The page's full and learner notebooks, with the outputs of `run`."""
    cells, quoting, blank = [], None, set()
    for piece, block in pieces(page, run, note, notebook=True):
        tags = ["solution"] if block.solution is not None else []
        if isinstance(piece, Cell):
            if tags and block.solution not in blank:  # where the learner writes it
                blank.add(block.solution)
                cells.append(tagged(nbformat.v4.new_code_cell(""), "exercise"))
            cells.append(tagged(code_cell(piece, block.folded), *tags))
            quoting = len(block.indent) or None  # the prose after it is inside too
            continue
        if text := notebook_markdown(piece, quoting, page.path.name, site_url):
            cells.append(tagged(nbformat.v4.new_markdown_cell(text), *tags))
        quoting = None
    setup = SETUP_CELL.read_text().strip().replace("{site_url}", site_url)
    setup = tagged(nbformat.v4.new_code_cell(setup), "setup")
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    made = []
    for left_out in ("exercise", "solution"):  # the full notebook, the learner's
        origin = PARTS.origin(page.title, site_url, left_out == "solution")
        origin = nbformat.v4.new_markdown_cell(origin)
        notebook = nbformat.v4.new_notebook(cells=[origin, setup, *cells])
        remove = TagRemovePreprocessor(remove_cell_tags={left_out})
        notebook = remove.preprocess(copy.deepcopy(notebook), {})[0]  # its own cells
        notebook.metadata |= {"kernelspec": kernel, "language_info": {"name": "python"}}
        for index, cell in enumerate(notebook.cells):
            cell.id = f"cell-{index}"  # stable ids: same page, same notebook bytes
        made.append(notebook)
    return made


def write_notebooks(folder: Path, page: Page, run: PageRun, url: str, note: str):
    """Write the page's full and learner notebooks into `folder`. Unchanged
    bytes are left alone (mkdocs-jupyter's render cache stays warm); a file is
    replaced whole at once: another build may be reading it."""
    paths = [folder / f"{page.path.stem}{end}.ipynb" for end in ("", "-learner")]
    for path, notebook in zip(paths, notebooks(page, run, url, note), strict=True):
        text, partial = nbformat.writes(notebook), path.with_suffix(f".{os.getpid()}")
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text(text, encoding="utf-8")
            os.replace(partial, path)
    return paths
