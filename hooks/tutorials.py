"""A tutorial page, read once, and running its code.

`read_page` reads docs/NN_<stem>.md once into a `Page`: its frame (front
matter), its fill-ins and checks, and its body cut into blocks, each either
one snippet fence (with the section of tutorial_code it shows) or prose, and
each knowing the solution block it stands in. The site's Markdown, the
notebooks and the frame are all made from these blocks (hooks/render.py).
`run_page` runs the sections in page order in one namespace, as a kernel runs
a notebook's cells, recording what each prints and draws, and evaluates each
fill-in and check right after the code block before it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
import sys
import textwrap
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

import yaml
from mkdocs.utils.meta import YAML_RE, get_data

ROOT = Path(__file__).resolve().parent.parent

# A fence whose only content is one snippet line naming a section of a module.
SNIPPET_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?:py|python|python3)\b[^\n]*\n"
    r"(?P=indent)--8<--[ \t]+\"(?P<path>[^\":]+\.py):(?P<section>[\w.-]+)\"[ \t]*\n"
    r"(?P=indent)(?P=fence)[ \t]*$",
    re.MULTILINE,
)
SECTION_MARK = re.compile(r"^[ \t]*#\s*--8<--\s*\[(start|end):[\w.-]+\].*\n?", re.M)
# Any fenced code block: what looks like a fill-in or a check inside one is code.
CODE_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[^\n]*\n"
    r".*?^(?P=indent)(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
# In the prose: {{ expression }} (or {{ expression:spec }}) is a fill-in,
# <!-- check: expression --> a check of the sentence it follows.
PROSE_EXPRESSION = re.compile(r"\{\{(.+?)\}\}|<!--[ \t]*check:(.*?)-->", re.DOTALL)
FILL_IN, CHECK = "fill-in", "check"
# Where the prose before a fill-in or check starts: a blank line, an
# admonition's title, a code fence.
PARAGRAPH_START = re.compile(
    r"\n[ \t>]*\n|^[ \t]*(?:!!!|\?\?\?\+?|`{3,}|~{3,})[^\n]*\n", re.MULTILINE
)
# An admonition whose title line matches {}: that line, and every line after it
# indented deeper.
BLOCK = r"^(?P<indent>[ \t]*){}.*\n?(?:(?:[ \t]*\n)*(?P=indent)[ \t]+\S.*(?:\n|\Z))*"
# An exercise's solution, and a block other than a solution that the page shows
# folded ("??? info", ...; its code is folded in the notebooks too).
SOLUTION_BLOCK = re.compile(BLOCK.format(r"(?:!!!|\?\?\?\+?)[ \t]+solution\b"), re.M)
FOLDED_BLOCK = re.compile(BLOCK.format(r"\?\?\?[ \t]+(?!solution\b)"), re.M)
FRAME_KEYS = {"teaching": int, "exercises": int, "questions": list}
FRAME_KEYS |= {"objectives": list, "keypoints": list}


class TutorialError(Exception):
    """A page cannot be run or a section failed; the message says where."""


class FrameError(TutorialError):
    """A tutorial page's front matter lacks a key or has a bad value."""


@dataclass
class Section:
    module: str  # relative to the project root, e.g. tutorial_code/classifier.py
    name: str
    code: str  # dedented, as the page shows it
    first_line: int  # of the section's code in the module

    solution = property(lambda self: self.name.startswith("solution_"))


@dataclass
class ProseResult:
    """A fill-in or a check of a page's prose, and what it gave in the run."""

    page: str  # e.g. docs/04_classifier.md
    kind: str  # FILL_IN or CHECK
    expression: str  # as written; a fill-in's may end in !conversion and :spec
    after: int  # index of the section it is evaluated after
    sentence: str = ""  # the sentence it stands in (a check: the one it follows)
    text: str = ""  # a fill-in's value, as f"{expression}" formats it
    passed: bool | None = None  # None: not evaluated (execution off)
    error: str = ""  # what the expression raised, if it did


@dataclass
class Block:
    """A stretch of a page's body: a fence (`section` is what it shows), or
    prose, whose `parts` are its text with, between them, the index of each
    fill-in or check. `solution` numbers the solution block it is in; `folded`
    says it is in a block the page shows folded that is not a solution."""

    text: str
    solution: int | None = None
    folded: bool = False
    section: Section | None = None
    parts: list[str | int] = field(default_factory=list)

    indent = property(lambda self: self.text[: -len(self.text.lstrip(" \t")) or None])


@dataclass
class Page:
    path: Path
    name: str  # as messages name it: docs/04_classifier.md
    title: str
    frame: dict  # the front matter's teaching, exercises, questions, ...
    blocks: list[Block]
    results: list[ProseResult]  # its fill-ins and checks, in page order

    sections = property(lambda self: [b.section for b in self.blocks if b.section])


@dataclass
class Cell:
    section: Section
    stdout: str = ""
    figures: list[dict] = field(default_factory=list)


@dataclass
class PageRun:
    page: str
    cells: list[Cell]
    namespace: dict
    seconds: float
    results: list[ProseResult] = field(default_factory=list)  # in page order

    # What tests read: the checks, the fill-ins, those that did not hold (or
    # raised), and what the whole page printed and drew.
    checks = property(lambda self: [r for r in self.results if r.kind == CHECK])
    fill_ins = property(lambda self: [r for r in self.results if r.kind == FILL_IN])
    not_so = property(lambda self: [r for r in self.results if r.passed is False])
    stdout = property(lambda self: "".join(cell.stdout for cell in self.cells))
    figures = property(lambda self: [f for cell in self.cells for f in cell.figures])


# ------------------------------------------------------------------ reading


def is_tutorial(page: Path) -> bool:
    """A Markdown page that shows at least one section of tutorial code."""
    return page.suffix == ".md" and bool(SNIPPET_FENCE.search(page.read_text("utf-8")))


def read_section(module: str, name: str, root: Path = ROOT) -> Section:
    """The named snippet section of a module, dedented as the page shows it."""
    text = (root / module).read_text(encoding="utf-8")
    mark = r"^[ \t]*#\s*--8<--\s*\[{}:" + re.escape(name) + r"\]"
    between = mark.format("start") + r"[^\n]*\n(.*?)" + mark.format("end")
    found = re.search(between, text, re.MULTILINE | re.DOTALL)
    if not found:
        raise TutorialError(f"{module}: no section '{name}' (expected start/end marks)")
    code = textwrap.dedent(SECTION_MARK.sub("", found[1]))
    return Section(module, name, code, text.count("\n", 0, found.start(1)) + 1)


def read_frame(text: str, where: str) -> tuple[str, dict]:
    """(body, frame) of a page: MkDocs' own front-matter reader, and the frame
    checked: every key there, minutes whole numbers, lists of text."""
    body, meta = get_data(text)
    if not meta and (front := YAML_RE.match(text)):  # get_data hides YAML errors
        try:
            yaml.safe_load(front[1])
        except yaml.YAMLError as exc:
            line = exc.problem_mark.line + 2 if exc.problem_mark else "?"
            why = f"{where}: the front matter is not valid YAML at line {line} of "
            raise FrameError(f"{why}the page ({exc.problem}); quote a ': '") from None
    if missing := [key for key in FRAME_KEYS if key not in meta]:
        raise FrameError(
            f"{where}: the front matter lacks {', '.join(missing)} (see "
            "CONTRIBUTING.md, 'The frame of a tutorial page')"
        )
    for key, kind in FRAME_KEYS.items():
        value, give = meta[key], "the minutes as a whole number, e.g. 20"
        good = type(value) is int and value >= 0
        if kind is list:
            give = 'a list of text, one "- ..." line each (quote an item with a colon)'
            items = value if isinstance(value, list) else [None]
            good = items and all(isinstance(i, str) and i.strip() for i in items)
        if not good:
            raise FrameError(
                f"{where}: '{key}' in the front matter is {value!r}; give {give}"
            )
    return body, meta


def read_page(path: Path, root: Path = ROOT) -> Page:
    """The page, read once: its frame, results and blocks."""
    path = path.resolve()
    name = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    text = path.read_text(encoding="utf-8")
    body, frame = read_frame(text, name)
    fences = {m.start(): m for m in SNIPPET_FENCE.finditer(body)}
    code = [m.span() for m in CODE_FENCE.finditer(body)]
    solutions = [m.span() for m in SOLUTION_BLOCK.finditer(body)]
    folded = [m.span() for m in FOLDED_BLOCK.finditer(body)]
    results, spans = [], []
    for match in PROSE_EXPRESSION.finditer(body):
        if any(a <= match.start() < b for a, b in code):
            continue
        kind = FILL_IN if match[1] is not None else CHECK
        expression = (match[1] or match[2] or "").strip()
        after = sum(f.end() <= match.start() for f in fences.values()) - 1
        if after < 0:
            line = text.count("\n", 0, len(text) - len(body) + match.start()) + 1
            what = f"{name}:{line}: the {kind} '{expression}' comes before the page's"
            raise TutorialError(f"{what} first code block: move it below one")
        sentence = _sentence(body, match)
        results.append(ProseResult(name, kind, expression, after, sentence))
        spans.append(match.span())
    edges = sorted(
        {0, len(body)}.union(*[f.span() for f in fences.values()], *solutions)
    )
    blocks = []
    for a, b in zip(edges, edges[1:], strict=False):
        solution = next((n for n, (s, e) in enumerate(solutions) if s <= a < e), None)
        block = Block(body[a:b], solution, folded=any(s <= a < e for s, e in folded))
        if a in fences:
            block.section = read_section(fences[a]["path"], fences[a]["section"], root)
        else:
            at = a
            for n, (start, end) in enumerate(spans):
                if a <= start < b:
                    block.parts += [body[at:start], n]
                    at = end
            block.parts.append(body[at:b])
        blocks.append(block)
    title = re.search(r"^#[ \t]+(.+)$", body, re.MULTILINE)
    title = title[1].strip() if title else path.stem
    return Page(path, name, title, frame, blocks, results)


def _sentence(markdown: str, match: re.Match) -> str:
    """The sentence a check follows, or that holds a fill-in, on one line: cut
    (best effort) at the previous sentence's end or the paragraph's start."""
    text = re.split(PARAGRAPH_START, markdown[: match.start()])[-1]
    if match[1] is not None:  # a fill-in: on to the end of its own sentence
        rest = markdown[match.start() :]
        text += re.split(r"(?<=[.!?])\s|\n[ \t>]*\n", rest, maxsplit=1)[0]
    text = " ".join(re.sub(r"<!--.*?-->", " ", text, flags=re.DOTALL).split())
    return re.split(r"(?<=[.!?])\s+(?=[\"“(\[*_`${]*[A-Z0-9{])", text)[-1]


# ------------------------------------------------------------------ running


def figure_payload(value):
    """Plain JSON-ready figure data, numbers rounded to keep it small, without
    a baked-in theme (the site styles figures for the reader's palette)."""
    import base64

    import numpy as np

    if isinstance(value, dict) and set(value) - {"shape"} == {"dtype", "bdata"}:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = str(value.get("shape", len(array))).split(",")
        value = array.reshape([int(n) for n in shape])
    if isinstance(value, dict):
        plain = {key: figure_payload(item) for key, item in value.items()}
        plain.get("layout", {}).pop("template", None)
        return plain
    if isinstance(value, np.ndarray | np.generic):
        value = value.tolist()
    if isinstance(value, list | tuple):
        return [figure_payload(item) for item in value]
    return float(f"{value:.6g}") if isinstance(value, float) else value


@contextlib.contextmanager
def plotly_figures(figures: list[dict]):
    """While open, `fig.show()` appends the figure to `figures`: plotly's
    default renderer is one of ours."""
    import plotly.io as pio
    from plotly.io.base_renderers import ExternalRenderer

    class Capture(ExternalRenderer):
        def render(self, fig_dict):
            figures.append(figure_payload(fig_dict))

    previous, pio.renderers["tutorial-capture"] = pio.renderers.default, Capture()
    pio.renderers.default = "tutorial-capture"
    try:
        yield
    finally:
        pio.renderers.default = previous


# What a section draws, one capture per plotting library (sphinx-gallery's image
# scrapers are the model): each, while open, appends the figures shown to a list.
FIGURE_CAPTURES = [plotly_figures]


def run_cell(section: Section, namespace: dict, root: Path = ROOT) -> Cell:
    """Execute one section in the page's namespace (a solution's too, as a
    kernel would), recording what it prints and draws. An exception, or any
    warning, stops it with the module's line."""
    cell, stdout = Cell(section), io.StringIO()
    where = f"\n  while running section '{section.name}' of {section.module}"
    # Padded with blank lines: tracebacks point at the module's own lines.
    source = "\n" * (section.first_line - 1) + section.code
    with contextlib.ExitStack() as stack:
        caught = stack.enter_context(warnings.catch_warnings(record=True))
        stack.enter_context(contextlib.redirect_stdout(stdout))
        for capture in FIGURE_CAPTURES:
            stack.enter_context(capture(cell.figures))
        warnings.simplefilter("always")
        # OpenBLAS's AVX-512 kernels now and then raise the invalid-value flag
        # of a matmul whose result is fine (seen about once in twenty builds
        # inside scikit-learn's logistic regression, never reproducible). A
        # real NaN there would still break the fit, and the claims' tests.
        matmul = "invalid value encountered in matmul"
        warnings.filterwarnings("ignore", matmul, RuntimeWarning, r"sklearn\.")
        try:
            exec(compile(source, str(root / section.module), "exec"), namespace)
        except Exception as exc:
            at = _failure_location(exc, root.resolve())
            raise TutorialError(f"{at}: {type(exc).__name__}: {exc}{where}") from exc
    if caught:
        w = caught[0]
        what = f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}"
        raise TutorialError(f"{what}{where} (tutorials must run without warnings)")
    cell.stdout = stdout.getvalue()
    return cell


def _failure_location(exc: BaseException, root: Path) -> str:
    """The innermost frame inside tutorial_code/ (else the last), 'path:line'."""
    frames = [
        (Path(f.filename), f.lineno) for f in traceback.extract_tb(exc.__traceback__)
    ]
    frames = [(p.resolve() if p.is_absolute() else p, n) for p, n in frames]
    ours = [f for f in frames if f[0].is_relative_to(root / "tutorial_code")]
    path, line = (ours or frames)[-1]
    return f"{path.relative_to(root) if path.is_relative_to(root) else path}:{line}"


def evaluate(result: ProseResult, namespace: dict) -> None:
    """Whether a check is true, or a fill-in's text (as the f-string field
    f"{expression}" gives it), in the namespace as it stands now. An
    expression that raises fails, its error kept."""
    quotes = "'''" if '"""' in result.expression else '"""'  # it may hold either
    source = f"f{quotes}{{{result.expression}}}{quotes}"
    if result.kind == CHECK:
        source = f"({result.expression}\n)"  # it may span lines of prose
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            value = eval(compile(source, result.page, "eval"), namespace)
            # bool() too may raise (an array has no single truth value)
            result.passed = bool(value) if result.kind == CHECK else True
        result.text = value if result.kind == FILL_IN else ""
    except Exception as exc:
        result.passed, result.error = False, f"{type(exc).__name__}: {exc}"


def run_page(page: str | Path | Page, root: Path = ROOT) -> PageRun:
    """Run the code a page shows, in page order, as the build does, and each
    fill-in and check of its prose right after the code block before it. The
    code runs from the project root and imports tutorial_code from it (both
    are put back afterwards)."""
    if not isinstance(page, Page):
        page = read_page(root / page, root)  # an absolute path stays as it is
    namespace = {"__name__": "__tutorial__", "__builtins__": __builtins__}
    results = [dataclasses.replace(result) for result in page.results]
    start, cells = time.perf_counter(), []
    with mock.patch.object(sys, "path", [str(root), *sys.path]), contextlib.chdir(root):
        for index, section in enumerate(page.sections):
            cells.append(run_cell(section, namespace, root))
            for result in (r for r in results if r.after == index):
                evaluate(result, namespace)
    seconds = time.perf_counter() - start
    return PageRun(str(page.path), cells, namespace, seconds, results)


def unexecuted(page: Page) -> PageRun:
    """The page's run when nothing runs: no outputs, nothing evaluated."""
    return PageRun(
        str(page.path), [Cell(s) for s in page.sections], {}, 0, page.results
    )


def forget_tutorial_modules() -> None:
    """Drop imported tutorial modules so that edits are seen by the next run."""
    for name in [n for n in sys.modules if n.split(".")[0] == "tutorial_code"]:
        del sys.modules[name]
