"""What a tutorial page shows besides its prose: each section's output and
figures after its fence, the values of its fill-ins and the marks of its
checks that do not hold, and a note when the build used other data.

Plain Markdown (admonitions, as the pages use them) and HTML; no MkDocs.
"""

from __future__ import annotations

import html
import json
import textwrap

from hooks.cache import Inputs
from hooks.tutorials import (
    CHECK,
    SNIPPET_FENCE,
    PageRun,
    ProseResult,
    TutorialError,
    prose_expressions,
)

FIGURE_TOKEN = "TUTORIALFIGURE{index}X{page}"
NOT_EVALUATED = "…"  # a fill-in's placeholder when execution is off
NOT_SO = "⚠ not so on this build's data"
NOT_COMPUTED = "⚠ not computable on this build's data"


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


def shown(result: ProseResult, notebook: bool = False) -> str:
    """What stands in the prose for a fill-in or a check: its value, nothing
    (a check that holds or was not evaluated), or a visible mark."""
    if result.passed is None:
        return "" if result.kind == CHECK else NOT_EVALUATED
    if result.passed:
        return "" if result.kind == CHECK else result.text
    mark = NOT_SO if result.kind == CHECK else NOT_COMPUTED
    if notebook:
        return f"**{mark}**"
    why = f"{result.kind}: {result.expression}"
    why += f" ({result.error})" if result.error else ""
    return f'<span class="result-not-so" title="{html.escape(why)}">{mark}</span>'


def bind_results(markdown: str, run: PageRun, notebook: bool = False) -> str:
    """The page's prose with each fill-in and check replaced by what it
    showed in `run` (its results are in the same page order)."""
    pieces, last = [], 0
    results = iter(run.results)
    for match in prose_expressions(markdown):
        result = next(results, None)
        expression = (match["fill_in"] or match["check"] or "").strip()
        if result is None or result.expression != expression:
            raise TutorialError(
                f"{run.page}: the page's fill-ins and checks changed during the "
                f"build (found '{expression}'); build again"
            )
        pieces += [markdown[last : match.start()], shown(result, notebook)]
        last = match.end()
    return "".join(pieces) + markdown[last:]


def other_inputs_note(inputs: Inputs) -> str:
    """A warning for the top of every tutorial page when the build used other
    data or genes than the shipped ones ("" when it did not)."""
    if not inputs.custom:
        return ""
    return (
        '!!! warning "Built on other data"\n'
        "    The prose of this page describes the shipped table and its results. "
        f"This build used the data file `{inputs.data}` and the genes "
        f"{', '.join(inputs.genes)}: the outputs, figures and numbers in the "
        "prose are results on those, and a sentence about results that does "
        f"not hold for them is marked **{NOT_SO}** where it stands.\n"
    )
