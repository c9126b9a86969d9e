"""Start a new tutorial: make new-tutorial NAME=my_topic [TITLE="My topic"].

Creates, ready to build and test unchanged:

- docs/NN_<name>.md         the page (NN = the next free number), its front
                            matter giving the frame (minutes, questions, ...)
- tutorial_code/<name>.py   the code it shows: imports, a figure function and
                            the story in main(), each a snippet section
- tests/test_<name>.py      a test of the module and of the claim the page makes
- mkdocs.yml                the page in the nav, after the last tutorial (the
                            build adds its notebook under "Notebooks" itself)

A bad name (not lowercase_with_underscores, a Python keyword, or a tutorial or
module that exists) stops with a message and creates nothing.
"""

from __future__ import annotations

import argparse
import json
import keyword
import re
import sys
from pathlib import Path
from string import Template

ROOT = Path(__file__).resolve().parent.parent
NAME = re.compile(r"[a-z][a-z0-9_]*")
TUTORIAL_ENTRY = re.compile(r"^(?P<indent>[ \t]*)- [^\n]*:[ \t]*\d\d_\w+\.md[ \t]*$")


class ScaffoldError(Exception):
    """The tutorial cannot be created; the message says why and what to do."""


# ------------------------------------------------------------------ checks


def check_name(name: str, root: Path) -> None:
    example = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "my_topic"
    if not example[0].isalpha():
        example = "my_" + example
    if not name:
        raise ScaffoldError("give the tutorial a name: make new-tutorial NAME=my_topic")
    if re.search(r"\s", name):
        raise ScaffoldError(
            f"'{name}' contains spaces; use lowercase words joined by "
            f"underscores, e.g. NAME={example}"
        )
    if name != name.lower():
        raise ScaffoldError(f"'{name}' has capitals; names are lowercase: {example}")
    if not NAME.fullmatch(name):
        raise ScaffoldError(
            f"'{name}' is not a module name: use lowercase letters, digits and "
            f"underscores, starting with a letter, e.g. {example}"
        )
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise ScaffoldError(
            f"'{name}' is a Python keyword, so tutorial_code.{name} could not be "
            f"imported; pick another name, e.g. {name}_tutorial"
        )
    taken = [
        *sorted((root / "docs").glob(f"[0-9][0-9]_{name}.md")),
        root / "tutorial_code" / f"{name}.py",
        root / "tutorial_code" / name,
        root / "tests" / f"test_{name}.py",
    ]
    existing = [p.relative_to(root).as_posix() for p in taken if p.exists()]
    if existing:
        raise ScaffoldError(
            f"a tutorial or module called '{name}' already exists "
            f"({', '.join(existing)}); pick another name"
        )


def next_number(root: Path) -> str:
    numbers = [int(p.name[:2]) for p in (root / "docs").glob("[0-9][0-9]_*.md")]
    number = max(numbers, default=-1) + 1
    if number > 99:
        raise ScaffoldError("docs/ already has pages 00 to 99; renumber them first")
    return f"{number:02d}"


# ------------------------------------------------------------------ mkdocs.yml


def yaml_text(text: str) -> str:
    """A nav title as YAML: plain when safe, else double-quoted."""
    return text if re.fullmatch(r"[A-Za-z][\w .,()'/-]*", text) else json.dumps(text)


def with_nav_entry(config: str, title: str, page: str) -> str:
    """mkdocs.yml with the page added after the last tutorial page of the nav.
    Edited as text, so comments and layout stay as they are."""
    lines = config.splitlines(keepends=True)
    last = [i for i, line in enumerate(lines) if TUTORIAL_ENTRY.match(line)]
    if not last:
        raise ScaffoldError(
            "mkdocs.yml lists no tutorial page (NN_<name>.md) in its nav; add "
            "the page to the nav by hand"
        )
    indent = TUTORIAL_ENTRY.match(lines[last[-1]])["indent"]
    entry = f"{indent}- {yaml_text(title)}: {page}\n"
    return "".join([*lines[: last[-1] + 1], entry, *lines[last[-1] + 1 :]])


def check_nav(config: str, page: str) -> None:
    from mkdocs.utils.yaml import yaml_load

    if f'"{page}"' not in json.dumps(yaml_load(config)["nav"]):
        raise ScaffoldError("could not add the page to the nav in mkdocs.yml")


# ------------------------------------------------------------------ templates

PAGE = Template("""\
---
teaching: 10
exercises: 0
questions:
  - "How does one gene's expression differ between smokers and non-smokers?"
objectives:
  - "Draw one gene's expression by smoking status"
keypoints:
  - "A strip plot shows every sample of each group."
---

# $title

!!! example "Prerequisites"
    - [The GBM data](./01_gbm_data.md) : how the table is loaded and labelled

<!-- Starter page made by make new-tutorial: see CONTRIBUTING.md. -->

This page looks at one gene's expression in smokers and in non-smokers. Every
code block comes from
`tutorial_code/$name.py`;
run them in order and you have the whole script. First the imports:

```python
--8<-- "tutorial_code/$name.py:imports"
```

A function that draws one gene, one point per sample:

```python
--8<-- "tutorial_code/$name.py:figure"
```

Load the labelled samples, count them, and draw the first of the five genes the
tutorials use:

```python
--8<-- "tutorial_code/$name.py:story"
```

Every labelled sample is one point in the figure.
<!-- claim: every_sample_plotted -->
""")

MODULE = Template('''\
"""$title: one gene's expression in smokers and in non-smokers.

Made by `make new-tutorial`; replace the example with your lesson. The page
docs/${number}_$name.md shows these sections in order, and the build runs
exactly that: the imports first, functions in their own sections, the story
(calls, prints, fig.show()) inside main().
"""

# --8<-- [start:imports]
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from tutorial_code.gbm_data import (
    FEATURES,
    LABEL,
    label_smoking_status,
    load_gbm,
    run_as_script,
)

# --8<-- [end:imports]


# --8<-- [start:figure]
def expression_by_status_figure(gbm: pd.DataFrame, gene: str) -> go.Figure:
    """One point per sample: the gene's expression, by smoking status."""
    status = gbm[LABEL].map({0: "non-smoker", 1: "smoker"}).rename("Smoking status")
    fig = px.strip(
        pd.concat([gbm[gene], status], axis=1),
        x="Smoking status",
        y=gene,
        template="plotly_white",
    )
    fig.update_layout(
        title=f"{gene} expression by smoking status",
        xaxis_title="Smoking status",
        yaxis_title=f"{gene}, log2(FPKM + 1)",
    )
    return fig


# --8<-- [end:figure]


def main():
    # --8<-- [start:story]
    gbm = label_smoking_status(load_gbm())
    counts = gbm[LABEL].value_counts().rename({0: "non-smoker", 1: "smoker"})
    print(counts.to_string())
    fig = expression_by_status_figure(gbm, FEATURES[0])
    fig.show()
    # --8<-- [end:story]


if __name__ == "__main__":
    run_as_script(main)
''')

TEST = Template('''\
"""tutorial_code/$name.py: its figure, and the claim its page makes."""

import pytest

$imports


@pytest.fixture(scope="module")
def gbm():
    return label_smoking_status(load_gbm())


def test_figure_has_a_title_and_both_axis_titles(gbm):
    fig = expression_by_status_figure(gbm, FEATURES[0])
    assert FEATURES[0] in fig.layout.title.text
    assert fig.layout.xaxis.title.text == "Smoking status"
    assert FEATURES[0] in fig.layout.yaxis.title.text


def test_figure_puts_each_group_in_its_own_column(gbm):
    fig = expression_by_status_figure(gbm, FEATURES[0])
    columns = {x for trace in fig.data for x in trace.x}
    assert columns == {"non-smoker", "smoker"}


def test_page_shows_one_figure(page_run):
    assert len(page_run("$name").figures) == 1


def test_claim_every_sample_plotted(page_run, gbm):
    figure = page_run("$name").figures[0]
    assert sum(len(trace["y"]) for trace in figure["data"]) == len(gbm)
''')


# ------------------------------------------------------------------ scaffold

GBM_DATA_IMPORT = (
    "from tutorial_code.gbm_data import FEATURES, label_smoking_status, load_gbm"
)


def title_from(name: str) -> str:
    return name.replace("_", " ").strip().capitalize()


def planned_files(name: str, title: str, root: Path) -> dict[Path, str]:
    """Every file to write (mkdocs.yml included), checked before any is written."""
    check_name(name, root)
    number = next_number(root)
    page = f"{number}_{name}.md"
    imports = sorted(  # in the order ruff's isort wants them
        [
            (name, f"from tutorial_code.{name} import expression_by_status_figure"),
            ("gbm_data", GBM_DATA_IMPORT),
        ]
    )
    values = {
        "name": name,
        "title": title,
        "number": number,
        "imports": "\n".join(line for _, line in imports),
    }
    config = with_nav_entry(
        (root / "mkdocs.yml").read_text(encoding="utf-8"), title, page
    )
    check_nav(config, page)
    return {
        root / "docs" / page: PAGE.substitute(values),
        root / "tutorial_code" / f"{name}.py": MODULE.substitute(values),
        root / "tests" / f"test_{name}.py": TEST.substitute(values),
        root / "mkdocs.yml": config,
    }


def write_all(files: dict[Path, str]) -> None:
    """Write every file, or (if one fails) none: new files are removed again."""
    written: list[tuple[Path, str | None]] = []
    try:
        for path, text in files.items():
            before = path.read_text(encoding="utf-8") if path.exists() else None
            path.write_text(text, encoding="utf-8")
            written.append((path, before))
    except OSError:
        for path, before in reversed(written):
            if before is None:
                path.unlink()
            else:
                path.write_text(before, encoding="utf-8")
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="make new-tutorial NAME=...", description=__doc__.splitlines()[0]
    )
    parser.add_argument("name", help="lowercase_with_underscores, e.g. survival")
    parser.add_argument("--title", help="the page title (default: from the name)")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    name, root = args.name.strip(), args.root.resolve()
    title = (args.title or "").strip() or title_from(name)
    try:
        files = planned_files(name, title, root)
        write_all(files)
    except ScaffoldError as error:
        print(f"new-tutorial: {error}", file=sys.stderr)
        return 2
    page, module, test = (p.relative_to(root).as_posix() for p in list(files)[:3])
    print(
        f"Created {page}, {module} and {test}, and added the page to the nav "
        "in mkdocs.yml.\nNext:\n"
        "  make serve                           preview it at http://127.0.0.1:8000\n"
        f"  .venv/bin/python -m pytest {test}   run its tests\n"
        "Then write your lesson in the page and the module; see CONTRIBUTING.md."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
