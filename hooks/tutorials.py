"""A tutorial page's code, and running it: the sections a page shows, executed in
page order in one namespace, with what each prints and every figure it shows.

Part of the build engine described on docs/how_it_is_built.md; nothing here
knows about MkDocs.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import textwrap
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# A fence whose only content is one snippet line naming a section of a module.
SNIPPET_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?:py|python|python3)\b[^\n]*\n"
    r"(?P=indent)--8<--[ \t]+\"(?P<path>[^\":]+\.py):(?P<section>[\w.-]+)\"[ \t]*\n"
    r"(?P=indent)(?P=fence)[ \t]*$",
    re.MULTILINE,
)
SECTION_MARK = re.compile(r"^\s*#\s*--8<--\s*\[(?P<kind>start|end):(?P<name>[\w.-]+)\]")
SOLUTION_PREFIX = "solution_"  # exercise solutions (left out of learner notebooks)
CAPTURE_RENDERER = "tutorial-capture"
# Any fenced code block: what looks like a fill-in or a check inside one is code.
CODE_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[^\n]*\n"
    r".*?^(?P=indent)(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
# Results bound to the run, in a page's prose: {{ expression }} (or
# {{ expression:spec }}) is a fill-in, <!-- check: expression --> a check of
# the sentence it follows.
PROSE_EXPRESSION = re.compile(
    r"\{\{(?P<fill_in>.+?)\}\}|<!--[ \t]*check:(?P<check>.*?)-->", re.DOTALL
)
FILL_IN, CHECK = "fill-in", "check"
# Where the prose before a fill-in or check starts: a blank line, an
# admonition's title, a code fence.
PARAGRAPH_START = re.compile(
    r"\n[ \t>]*\n|^[ \t]*(?:!!!|\?\?\?\+?|`{3,}|~{3,})[^\n]*\n", re.MULTILINE
)


class TutorialError(Exception):
    """A tutorial section failed; the message names the module and line."""


@dataclass
class Section:
    module: str  # relative to the project root, e.g. tutorial_code/classifier.py
    name: str
    code: str  # dedented, as the page shows it
    first_line: int  # line number of the section's first code line in the module

    @property
    def solution(self) -> bool:
        return self.name.startswith(SOLUTION_PREFIX)


@dataclass
class Cell:
    section: Section
    stdout: str = ""
    figures: list[dict] = field(default_factory=list)


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
class PageRun:
    page: str
    cells: list[Cell]
    namespace: dict
    seconds: float
    results: list[ProseResult] = field(default_factory=list)  # in page order

    @property
    def checks(self) -> list[ProseResult]:
        return [r for r in self.results if r.kind == CHECK]

    @property
    def fill_ins(self) -> list[ProseResult]:
        return [r for r in self.results if r.kind == FILL_IN]

    @property
    def not_so(self) -> list[ProseResult]:
        """Checks that failed and fill-ins that raised."""
        return [r for r in self.results if r.passed is False]

    @property
    def stdout(self) -> str:
        return "".join(cell.stdout for cell in self.cells)

    @property
    def figures(self) -> list[dict]:
        return [fig for cell in self.cells for fig in cell.figures]


# ------------------------------------------------------------------ sections


def read_section(module: str, name: str, root: Path = ROOT) -> Section:
    """Return the named snippet section of a module, dedented as the page shows it."""
    lines = (root / module).read_text(encoding="utf-8").splitlines()
    start = end = None
    for number, line in enumerate(lines, start=1):
        mark = SECTION_MARK.match(line)
        if mark and mark["name"] == name:
            if mark["kind"] == "start":
                start = number
            elif start is not None:
                end = number
                break
    if start is None or end is None:
        raise TutorialError(f"{module}: no section '{name}' (expected start/end marks)")
    body = [line for line in lines[start : end - 1] if not SECTION_MARK.match(line)]
    return Section(module, name, textwrap.dedent("\n".join(body)) + "\n", start + 1)


def is_tutorial(page: Path) -> bool:
    """A Markdown page that shows at least one section of tutorial code."""
    return page.suffix == ".md" and bool(
        SNIPPET_FENCE.search(page.read_text(encoding="utf-8"))
    )


def page_sections(markdown: str, root: Path = ROOT) -> list[Section]:
    """The sections a page shows, in page order."""
    return [
        read_section(m["path"], m["section"], root)
        for m in SNIPPET_FENCE.finditer(markdown)
    ]


# ------------------------------------------------------------------ prose


def prose_expressions(markdown: str):
    """The fill-ins and checks of a page's Markdown (regex matches), in page
    order, outside fenced code blocks."""
    fences = [(m.start(), m.end()) for m in CODE_FENCE.finditer(markdown)]
    for match in PROSE_EXPRESSION.finditer(markdown):
        if not any(start <= match.start() < end for start, end in fences):
            yield match


def _sentence(markdown: str, match: re.Match) -> str:
    """The sentence a check follows, or that holds a fill-in, on one line: cut
    (best effort) at the previous sentence's end or the paragraph's start."""
    text = re.split(PARAGRAPH_START, markdown[: match.start()])[-1]
    if match["fill_in"] is not None:  # on to the end of its own sentence
        rest = markdown[match.start() :]
        text += re.split(r"(?<=[.!?])\s|\n[ \t>]*\n", rest, maxsplit=1)[0]
    text = " ".join(re.sub(r"<!--.*?-->", " ", text, flags=re.DOTALL).split())
    return re.split(r"(?<=[.!?])\s+(?=[\"“(\[*_`${]*[A-Z0-9{])", text)[-1]


def page_results(markdown: str, page: str) -> list[ProseResult]:
    """The page's fill-ins and checks, not evaluated yet, each placed after
    the last code block before it. One before the first is an error."""
    fence_ends = [m.end() for m in SNIPPET_FENCE.finditer(markdown)]
    results = []
    for match in prose_expressions(markdown):
        kind = FILL_IN if match["fill_in"] is not None else CHECK
        expression = (match["fill_in"] or match["check"] or "").strip()
        after = sum(end <= match.start() for end in fence_ends) - 1
        if after < 0:
            line = markdown.count("\n", 0, match.start()) + 1
            raise TutorialError(
                f"{page}:{line}: the {kind} '{expression}' comes before the "
                "page's first code block. It is evaluated right after the code "
                "block before it: move it below one"
            )
        sentence = _sentence(markdown, match)
        results.append(ProseResult(page, kind, expression, after, sentence))
    return results


def evaluate(result: ProseResult, namespace: dict) -> None:
    """Whether a check is true, or a fill-in's text (as the f-string field
    f"{expression}" gives it), in the page's namespace as it stands now. An
    expression that raises fails, its error kept."""
    if result.kind == CHECK:
        source = f"({result.expression}\n)"  # may span lines of prose
    else:  # triple quotes: the expression may hold either kind of quote
        quotes = "'''" if '"""' in result.expression else '"""'
        source = f"f{quotes}{{{result.expression}}}{quotes}"
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            value = eval(compile(source, result.page, "eval"), namespace)
            # bool() too may raise (an array has no single truth value)
            result.passed = bool(value) if result.kind == CHECK else True
    except Exception as exc:
        result.passed, result.error = False, f"{type(exc).__name__}: {exc}"
        return
    if result.kind == FILL_IN:
        result.text = value


# ------------------------------------------------------------------ figures


def figure_payload(fig_dict: dict) -> dict:
    """Plain JSON-ready figure data, small and without a baked-in theme.

    The template is dropped because the site styles figures for the reader's
    light or dark palette; numbers are rounded to keep each figure small.
    """
    data = _plain(fig_dict)
    data.setdefault("layout", {}).pop("template", None)
    return data


def _plain(value):
    import numpy as np

    if isinstance(value, dict):
        if set(value) in ({"dtype", "bdata"}, {"dtype", "bdata", "shape"}):
            return _plain(_decode_typed_array(value))
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float):
        return float(f"{value:.6g}")
    return value


def _decode_typed_array(spec: dict):
    import base64

    import numpy as np

    array = np.frombuffer(base64.b64decode(spec["bdata"]), dtype=spec["dtype"])
    if "shape" in spec:
        array = array.reshape([int(n) for n in str(spec["shape"]).split(",")])
    return array


@contextlib.contextmanager
def captured_figures(into: list[dict]):
    """Make ``fig.show()`` record the figure instead of opening a browser:
    a plotly renderer of our own is the default while the block runs."""
    import plotly.io as pio
    from plotly.io.base_renderers import ExternalRenderer

    class Capture(ExternalRenderer):
        def render(self, fig_dict):
            into.append(figure_payload(fig_dict))

    previous = pio.renderers.default
    pio.renderers[CAPTURE_RENDERER] = Capture()
    pio.renderers.default = CAPTURE_RENDERER
    try:
        yield
    finally:
        pio.renderers.default = previous


# ------------------------------------------------------------------ running


def _failure_location(exc: BaseException, root: Path) -> str:
    """The innermost frame inside tutorial_code/, as 'path:line'."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [
        f
        for f in frames
        if Path(f.filename).resolve().is_relative_to(root / "tutorial_code")
    ]
    frame = (ours or frames)[-1]
    path = Path(frame.filename)
    if path.is_absolute() and path.resolve().is_relative_to(root):
        path = path.resolve().relative_to(root)
    return f"{path}:{frame.lineno}"


def run_cell(section: Section, namespace: dict, root: Path = ROOT) -> Cell:
    """Execute one section in the page's namespace, capturing output and figures.

    Every section, an exercise's solution too, runs in that one namespace, as
    cells do in a notebook's kernel: a solution that changed what later
    sections show is caught by running the learner notebook (no solutions).
    """
    cell = Cell(section)
    stdout = io.StringIO()
    # Pad with blank lines so tracebacks point at the module's own line numbers.
    source = "\n" * (section.first_line - 1) + section.code
    code = compile(source, str(root / section.module), "exec")
    with (
        warnings.catch_warnings(record=True) as caught,
        contextlib.redirect_stdout(stdout),
        captured_figures(cell.figures),
    ):
        warnings.simplefilter("always")
        # OpenBLAS's AVX-512 kernels now and then raise the invalid-value flag
        # of a matmul whose result is fine (seen about once in twenty builds
        # inside scikit-learn's logistic regression, never reproducible). A
        # real NaN there would still break the fit, and the claims' tests.
        warnings.filterwarnings(
            "ignore",
            message="invalid value encountered in matmul",
            category=RuntimeWarning,
            module=r"sklearn\.",
        )
        try:
            exec(code, namespace)
        except Exception as exc:
            where = _failure_location(exc, root)
            raise TutorialError(
                f"{where}: {type(exc).__name__}: {exc}\n"
                f"  while running section '{section.name}' of {section.module}"
            ) from exc
    if caught:
        w = caught[0]
        raise TutorialError(
            f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}\n"
            f"  while running section '{section.name}' of {section.module} "
            "(tutorials must run without warnings)"
        )
    cell.stdout = stdout.getvalue()
    return cell


def make_importable(root: Path) -> None:
    """Let tutorial code import tutorial_code.* as it does from the project root."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))


def forget_tutorial_modules() -> None:
    """Drop imported tutorial modules so edits are picked up on the next run."""
    for name in [
        n for n in sys.modules if n == "tutorial_code" or n.startswith("tutorial_code.")
    ]:
        del sys.modules[name]


def page_name(page: Path, root: Path = ROOT) -> str:
    """A page as messages name it: docs/01_x.md, relative to the project."""
    page = page.resolve()
    return page.relative_to(root).as_posix() if page.is_relative_to(root) else str(page)


def run_page(page: str | Path, root: Path = ROOT) -> PageRun:
    """Run the code a page shows, in page order, as the build does, and each
    fill-in and check of its prose right after the code block before it."""
    page_path = Path(page) if Path(page).is_absolute() else root / page
    markdown = page_path.read_text(encoding="utf-8")
    sections = page_sections(markdown, root)
    results = page_results(markdown, page_name(page_path, root))
    namespace = {"__name__": "__tutorial__", "__builtins__": __builtins__}
    make_importable(root)
    start = time.perf_counter()
    cells = []
    with contextlib.chdir(root):
        for index, section in enumerate(sections):
            cells.append(run_cell(section, namespace, root))
            for result in results:
                if result.after == index:
                    evaluate(result, namespace)
    seconds = time.perf_counter() - start
    return PageRun(str(page), cells, namespace, seconds, results)


def unexecuted_run(page: Path, root: Path = ROOT) -> PageRun:
    """A page's sections with no outputs and its fill-ins and checks not
    evaluated: for builds with execution turned off."""
    markdown = page.read_text(encoding="utf-8")
    sections = page_sections(markdown, root)
    results = page_results(markdown, page_name(page, root))
    return PageRun(str(page), [Cell(s) for s in sections], {}, 0.0, results)
