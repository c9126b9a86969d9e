"""What a tutorial page shows besides its prose: each section's output and
figures after its fence, and a note when the build used other data.

Plain Markdown (admonitions, as the pages use them) and HTML; no MkDocs.
"""

from __future__ import annotations

import html
import json
import textwrap

from hooks.cache import Inputs
from hooks.tutorials import SNIPPET_FENCE, PageRun

FIGURE_TOKEN = "TUTORIALFIGURE{index}X{page}"


def output_block(text: str, indent: str) -> str:
    body = textwrap.indent(text.rstrip("\n"), indent + "    ")
    return (
        f'\n\n{indent}!!! output "Output"\n\n'
        f"{indent}    ```text\n{body}\n{indent}    ```\n"
    )


def figure_html(figure: dict) -> str:
    title = (figure.get("layout", {}).get("title") or {}).get("text", "Figure")
    payload = json.dumps(figure, separators=(",", ":")).replace("</", "<\\/")
    return (
        '<figure class="tutorial-figure">'
        '<div class="plotly-figure" role="img" '
        f'aria-label="{html.escape(title)}"></div>'
        f'<script type="application/json" class="plotly-data">{payload}</script>'
        "</figure>"
    )


def insert_results(
    markdown: str, run: PageRun, page_key: str
) -> tuple[str, dict[str, str]]:
    """Place each cell's output after its fence; figures go in as tokens, to be
    swapped for their HTML after Markdown conversion, so raw HTML never has to
    survive Markdown inside admonitions or tabs."""
    figures: dict[str, str] = {}
    cells = iter(run.cells)
    pieces, last = [], 0
    for match in SNIPPET_FENCE.finditer(markdown):
        cell = next(cells)
        indent = match["indent"]
        extra = output_block(cell.stdout, indent) if cell.stdout.strip() else ""
        for figure in cell.figures:
            token = FIGURE_TOKEN.format(index=len(figures), page=page_key)
            figures[token] = figure_html(figure)
            extra += f"\n\n{indent}{token}\n"  # its own paragraph, swapped later
        pieces += [markdown[last : match.end()], extra]
        last = match.end()
    pieces.append(markdown[last:])
    return "".join(pieces), figures


def other_inputs_note(inputs: Inputs) -> str:
    """A warning for the top of every tutorial page when the build used other
    data or genes than the shipped ones ("" when it did not)."""
    if not inputs.custom:
        return ""
    return (
        '!!! warning "Built on other data"\n'
        "    The prose of this page describes the shipped table and its results. "
        f"This build used the data file `{inputs.data}` and the genes "
        f"{', '.join(inputs.genes)}: the outputs and figures are results on "
        "those, and sentences about results may not hold for them.\n"
    )
