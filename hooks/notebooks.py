"""Jupyter notebooks generated from tutorial pages: never edited, never committed.

Each tutorial page gives two notebooks. The *full* notebook holds every cell of
the page: the prose between snippet fences becomes Markdown cells and each
fence a code cell holding the section's code, with the outputs of the page's
(cached) run, so making a notebook executes nothing. The *learner* notebook is
the same without the exercises' solutions: each solution block (its prose and
its code) is left out, and an exercise whose solution had code gets one empty
code cell to fill in instead.

Both start with a cell that finds the repository from the kernel's working
directory, so they run from any folder of a clone, and every link in them
points at the published site (`site_url`, with directory URLs), so it works
wherever the notebook is opened. Figures carry both plotly's own MIME type
(drawn by JupyterLab) and the site's figure markup (drawn by the site's shared
plotly.js when mkdocs-jupyter renders the notebook), so no page embeds plotly.js.
"""

from __future__ import annotations

import html
import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import nbformat

from hooks.frame import framed, split_front_matter, tutorial_frame
from hooks.page_output import bind_results, figure_html
from hooks.tutorials import SNIPPET_FENCE, Cell, PageRun

LEARNER_SUFFIX = "-learner"  # 02_tensors.ipynb and 02_tensors-learner.ipynb
SOLUTION_TAG, SETUP_TAG, EXERCISE_TAG = "solution", "setup", "exercise"
ADMONITION = re.compile(
    r'^(?P<indent>[ \t]*)(!!!|\?\?\?\+?)[ \t]+(\w+)(?:[ \t]+"(?P<title>[^"]*)")?[ \t]*$'
)
SOLUTION_HEAD = re.compile(r"^(?P<indent>[ \t]*)(?:!!!|\?\?\?\+?)[ \t]+solution\b")
CLAIM_MARK = re.compile(r"^[ \t]*<!--.*?-->[ \t]*\n?|[ \t]*<!--\s*claim:.*?-->", re.M)
MARKDOWN_LINK = re.compile(r"(\]\()([^)\s]+)")
HTML_LINK = re.compile(r'(\b(?:href|src)=")([^"]+)(")')
# Pages wrap images in <figure markdown> blocks, which Jupyter leaves unparsed.
MARKDOWN_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)(?:\{[^}\n]*\})?")
HEADING_ID = re.compile(
    r"^(#{1,6}[ \t].*?)[ \t]*\{[ \t]*#([\w-]+)[^}\n]*\}[ \t]*$", re.M
)

# The first code cell of every notebook. A notebook opened anywhere in a clone
# finds the repository's modules (and, through them, its data) by itself.
SETUP_CODE = """\
# Find the clone of the course repository this notebook is in (the folder that
# holds tutorial_code/), from the working directory up, and import from it.
import sys
from pathlib import Path


def find_clone(start):
    for folder in [start, *start.parents]:
        if (folder / "tutorial_code").is_dir():
            return folder
    raise FileNotFoundError(
        f"No tutorial_code/ folder in {start} or above it. This notebook runs "
        "inside a clone of the course repository (see {site_url}): put it in "
        "any folder of the clone and open it from there."
    )


clone = find_clone(Path.cwd().resolve())
if str(clone) not in sys.path:
    sys.path.insert(0, str(clone))"""


# ------------------------------------------------------------------ links


def site_link(target: str, page_uri: str, site_url: str) -> str:
    """A link written on the page `page_uri` (a path under docs/) made absolute
    to the published site (directory URLs); links to other hosts, and
    addresses that are absolute already, stay as they are."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("/"):
        return target
    path = page_uri
    if parts.path:
        folder = posixpath.dirname(page_uri)
        path = posixpath.normpath(posixpath.join(folder, parts.path))
    if path.endswith(".md"):  # a page: index.md is its folder, x.md is x/
        path = path.removesuffix(".md")
        name = posixpath.basename(path)
        path = path.removesuffix("index") if name == "index" else path + "/"
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    return f"{site_url.rstrip('/')}/{path}{fragment}"


def with_site_links(text: str, page_uri: str, site_url: str) -> str:
    """Every link and image address of Markdown text, absolute to the site."""
    text = MARKDOWN_LINK.sub(lambda m: m[1] + site_link(m[2], page_uri, site_url), text)
    return HTML_LINK.sub(
        lambda m: m[1] + site_link(m[2], page_uri, site_url) + m[3], text
    )


# ------------------------------------------------------------------ prose


def notebook_markdown(text: str, quoting: int | None = None) -> str:
    """Page prose as plain Markdown that Jupyter renders.

    Admonitions become block quotes with a bold title. `quoting` is the indent
    of the admonition `text` starts inside (prose after a fence in a block).
    """
    text = CLAIM_MARK.sub("", text)
    text = MARKDOWN_IMAGE.sub(
        lambda m: (
            f'<img src="{m[2]}" alt="{html.escape(m[1])}" style="max-width: 100%">'
        ),
        text,
    )
    out = []
    for line in text.splitlines():
        head = ADMONITION.match(line)
        if head:
            quoting = len(head["indent"]) + 4
            title = head["title"] or head.group(3).capitalize()
            out += [f"> **{title}**", ">"]
            continue
        if quoting:
            if line.strip() == "":
                out.append(">")
                continue
            if len(line) - len(line.lstrip()) >= quoting:
                out.append("> " + line[quoting:])
                continue
            quoting = None
        out.append(line)
    while out and out[0].strip() in ("", ">"):
        out.pop(0)
    while out and out[-1].strip() in ("", ">"):
        out.pop()
    return "\n".join(out)


def _attr_lists_removed(text: str) -> str:
    """Drop attribute lists Jupyter can't read; a heading's own {#id} becomes an
    anchor before it."""
    text = HEADING_ID.sub(lambda m: f'<a id="{m[2]}"></a>\n\n{m[1]}', text)
    return re.sub(r"\{[ \t]*[:.#][^}\n]*\}", "", text)


def page_title(markdown: str) -> str:
    heading = re.search(r"^#[ \t]+(.+)$", markdown, re.MULTILINE)
    return heading[1].strip() if heading else "this page"


# ------------------------------------------------------------------ cells


@dataclass
class Piece:
    """A stretch of the page: prose (Markdown text) or one section's cell;
    `solution` numbers the solution block it is part of (None: outside)."""

    prose: str | None
    cell: Cell | None
    solution: int | None


def solution_blocks(markdown: str) -> list[tuple[int, int]]:
    """(start, end) offsets of each solution admonition: its title line and
    every line indented deeper, up to the first line that is not."""
    blocks, offset, lines = [], 0, markdown.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        offset += len(line)
        starts.append(offset)
    i = 0
    while i < len(lines):
        head = SOLUTION_HEAD.match(lines[i])
        if not head:
            i += 1
            continue
        last = i
        for j in range(i + 1, len(lines)):
            line = lines[j]
            if not line.strip():
                continue
            if len(line) - len(line.lstrip()) <= len(head["indent"]):
                break
            last = j
        blocks.append((starts[i], starts[last + 1]))
        i = last + 1
    return blocks


def page_pieces(markdown: str, run: PageRun) -> list[Piece]:
    """The page cut into prose and code, at every fence and at both ends of
    every solution block; each piece knows the solution block it is in."""
    blocks = solution_blocks(markdown)
    cuts = sorted({offset for block in blocks for offset in block})

    def block_of(offset: int) -> int | None:
        return next((n for n, (a, b) in enumerate(blocks) if a <= offset < b), None)

    pieces: list[Piece] = []

    def prose(start: int, end: int, quoting: int | None) -> None:
        edges = [start, *(c for c in cuts if start < c < end), end]
        for a, b in zip(edges, edges[1:], strict=False):
            text = notebook_markdown(_attr_lists_removed(markdown[a:b]), quoting)
            if text.strip(" >\n"):
                pieces.append(Piece(text, None, block_of(a)))
            quoting = None  # only the stretch right after a fence continues it

    position, quoting = 0, None
    for fence, cell in zip(SNIPPET_FENCE.finditer(markdown), run.cells, strict=True):
        prose(position, fence.start(), quoting)
        pieces.append(Piece(None, cell, block_of(fence.start())))
        position, quoting = fence.end(), len(fence["indent"]) or None
    prose(position, len(markdown), quoting)
    return pieces


def code_cell(cell: Cell) -> nbformat.NotebookNode:
    code = nbformat.v4.new_code_cell(cell.section.code.rstrip("\n"))
    if cell.stdout:
        code.outputs.append(
            nbformat.v4.new_output("stream", name="stdout", text=cell.stdout)
        )
    code.outputs.extend(figure_output(f) for f in cell.figures)
    return code


def figure_output(figure: dict) -> nbformat.NotebookNode:
    return nbformat.v4.new_output(
        "display_data",
        data={
            "application/vnd.plotly.v1+json": figure,
            "text/html": figure_html(figure),
            "text/plain": "<plotly figure>",
        },
    )


def _tagged(cell: nbformat.NotebookNode, tag: str) -> nbformat.NotebookNode:
    cell.metadata["tags"] = [tag]
    return cell


def notebook_cells(pieces: list[Piece], learner: bool) -> list[nbformat.NotebookNode]:
    """The full notebook's cells (solution cells tagged "solution"), or the
    learner's: solution blocks left out, one empty cell for each that had code."""
    cells, emptied = [], set()
    for piece in pieces:
        if piece.solution is not None and learner:
            if piece.cell is not None and piece.solution not in emptied:
                emptied.add(piece.solution)
                cells.append(_tagged(nbformat.v4.new_code_cell(""), EXERCISE_TAG))
            continue
        if piece.cell is not None:
            cell = code_cell(piece.cell)
        else:
            cell = nbformat.v4.new_markdown_cell(piece.prose)
        cells.append(
            _tagged(cell, SOLUTION_TAG) if piece.solution is not None else cell
        )
    return cells


# ------------------------------------------------------------------ notebooks


def page_notebooks(
    page: Path, run: PageRun, site_url: str, note: str = ""
) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
    """(full, learner) notebooks of a tutorial page, with the outputs of `run`,
    framed by the page's front matter; `note` (Markdown) goes after the title.
    Raises FrameError if the front matter lacks a key."""
    where = f"{page.parent.name}/{page.name}"
    meta, body = split_front_matter(page.read_text(encoding="utf-8"), where)
    body = bind_results(body, run, notebook=True)
    markdown = framed(body, tutorial_frame(meta, where), note)
    markdown = with_site_links(markdown, page.name, site_url)
    pieces = page_pieces(markdown, run)
    title = page_title(markdown)
    return tuple(
        _notebook(notebook_cells(pieces, learner), title, site_url, learner)
        for learner in (False, True)
    )


def _notebook(cells, title: str, site_url: str, learner: bool):
    version = (
        "This is the learner version: each exercise's solution is left out, "
        "with an empty code cell to fill in where it had code. "
        if learner
        else ""
    )
    origin = nbformat.v4.new_markdown_cell(
        f"*Generated from the page “{title}” ({site_url}) and its `tutorial_code` "
        f"module when the site was built. {version}It runs from any folder of a "
        "clone of the repository: the first cell finds it. Edit the module and "
        "the page, not this notebook.*"
    )
    setup = _tagged(
        nbformat.v4.new_code_cell(SETUP_CODE.replace("{site_url}", site_url)),
        SETUP_TAG,
    )
    notebook = nbformat.v4.new_notebook(cells=[origin, setup, *cells])
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index}"  # stable ids: same page, same notebook bytes
    return notebook


def notebook_paths(folder: Path, page: Path) -> tuple[Path, Path]:
    """Where the full and the learner notebook of a page go in `folder`."""
    return folder / f"{page.stem}.ipynb", folder / f"{page.stem}{LEARNER_SUFFIX}.ipynb"


def write_notebooks(
    folder: Path, page: Path, run: PageRun, site_url: str, note: str = ""
) -> tuple[Path, Path]:
    """Write the page's full and learner notebooks into `folder`. Unchanged
    bytes are left alone, which keeps mkdocs-jupyter's render cache warm;
    each file is written atomically: another build may be reading it."""
    paths = notebook_paths(folder, page)
    for path, notebook in zip(
        paths, page_notebooks(page, run, site_url, note), strict=True
    ):
        text = nbformat.writes(notebook)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(text, encoding="utf-8")
            os.replace(partial, path)
    return paths
