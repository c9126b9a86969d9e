"""Run every tutorial page on the generated tables of ``gbm_tables.FUZZ_TABLES``.

    python tests/fuzz_pages.py report [TABLE ...]   # run, print the report
    python tests/fuzz_pages.py run OUT [TABLE ...]  # run, write OUT/<table>.json

Each table is written to a temporary folder and every page (``docs/NN_*.md``
with code) runs on it as the build runs it (``hooks.tutorials.run_page``, no
cache), with ``GBM_DATA`` and ``GBM_GENES`` set, in two processes. A page
that raises or warns has crashed; a page that runs reports the sentences
whose checks (``<!-- check: ... -->``) failed or whose fill-ins
(``{{ ... }}``) raised on that table: those the site marks "not so on this
build's data" when built on it. The test ``tests/test_fuzzed_tables.py``
reads the JSON files (``tests/conftest.py`` starts ``run`` in the background
as soon as the tests are collected). On the tables marked ``built`` the test
session builds the whole site instead, strictly; ``build_outcomes`` reads the
same outcomes from the runs that build saved.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gbm_tables import FUZZ_TABLES, FuzzTable  # noqa: E402

from hooks.engine import (  # noqa: E402
    CACHE_DIR,
    cache_key,
    load,
    preloaded,
    read_inputs,
)
from hooks.tutorials import (  # noqa: E402
    TutorialError,
    forget_tutorial_modules,
    is_tutorial,
    read_page,
    run_page,
)

PAGES = sorted(p for p in (ROOT / "docs").glob("[0-9][0-9]_*.md") if is_tutorial(p))


def marked(run) -> list[dict] | None:
    """What the site marks on this run, "not so on this build's data": the
    checks that failed and the fill-ins that raised (PageRun.results), as
    {"kind", "sentence", "expression", "error"}; None while the engine records
    no results."""
    results = getattr(run, "results", None)
    if results is None:
        return None
    return [
        {
            "kind": result.kind,
            "sentence": result.sentence,
            "expression": result.expression,
            "error": result.error,
        }
        for result in results
        if result.passed is False
    ]


def describe(table: FuzzTable) -> str:
    genes = ",".join(table.genes) if table.genes else "the default five"
    extras = [
        f"{n} {what}"
        for n, what in [
            (table.malformed, "malformed lines"),
            (table.missing_labels, "without a smoking history"),
            (table.missing_values, f"blank {table.blank_gene}"),
        ]
        if n
    ]
    return (
        f"{table.samples} samples, {table.smoker_share:.0%} smokers, genes {genes}"
        + (f"; {', '.join(extras)}" if extras else "")
    )


def run_one(table: FuzzTable, path: Path, page: Path) -> dict:
    """One page on one written table: {"error", "marked", "seconds", ...}."""
    os.environ.update(table.env(path))
    forget_tutorial_modules()  # each page imports the modules afresh
    start, cpu = time.perf_counter(), time.process_time()
    try:
        run = run_page(page)
    except TutorialError as exc:
        result = {"error": str(exc), "marked": None}
    else:
        result = {"error": None, "marked": marked(run)}
    result["seconds"] = round(time.perf_counter() - start, 2)
    result["cpu_seconds"] = round(time.process_time() - cpu, 2)
    return result


def import_what_pages_use() -> None:
    """Import the libraries the tutorials use, as the build's worker server
    does (hooks/engine.py: preloaded), so that the processes forked from
    this one start with them: torch, scikit-learn and plotly cost each
    process about 4 CPU-seconds to import."""
    for name in preloaded(ROOT):
        if name not in ("hooks.worker_server", "__main__"):  # the build's own
            with contextlib.suppress(ImportError):
                importlib.import_module(name)


def build_outcomes(table: FuzzTable, path: Path, build) -> dict:
    """Every page's outcome on a table the whole site was built on (`build`:
    the CompletedProcess of that strict build), as run_one gives it: the run
    the build saved in the execution cache, or the build's error."""
    with mock.patch.dict(os.environ, table.env(path)):
        inputs = read_inputs(ROOT)
    outcomes = {}
    for page in PAGES:
        source = read_page(page)
        run = load(source, cache_key(source, inputs, ROOT), ROOT / CACHE_DIR)
        if build.returncode != 0 or run is None:
            error = build.stderr[-3000:] or "the build saved no run of this page"
            outcomes[page.name] = {"error": error, "marked": None}
        else:
            outcomes[page.name] = {"error": None, "marked": marked(run)}
        outcomes[page.name]["cpu_seconds"] = None  # in the build's processes
    return {"table": table.name, "describe": describe(table), "pages": outcomes}


def run_tables(tables: list[FuzzTable], folder: Path, workers: int = 2) -> list:
    """Every page on every table, by `workers` processes that each take the
    next (table, page) run as they finish one: the largest tables' last pages
    (the slowest runs) first, so that the two end together. The results, per
    table: {"table", "describe", "pages": {page: outcome}}."""
    paths = {table.name: table.write(folder) for table in tables}
    runs = [(table, page) for table in tables for page in PAGES]
    runs.sort(key=lambda run: (run[0].samples, run[1].name), reverse=True)
    import_what_pages_use()
    fork = multiprocessing.get_context("fork")  # the workers inherit the imports
    with ProcessPoolExecutor(workers, mp_context=fork) as pool:
        outcomes = {
            (table.name, page.name): pool.submit(
                run_one, table, paths[table.name], page
            )
            for table, page in runs
        }
        return [
            {
                "table": table.name,
                "describe": describe(table),
                "pages": {
                    page.name: outcomes[table.name, page.name].result()
                    for page in PAGES
                },
            }
            for table in tables
        ]


def chosen(names: list[str]) -> list[FuzzTable]:
    known = {t.name: t for t in FUZZ_TABLES}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise SystemExit(f"unknown table(s) {unknown}; known: {list(known)}")
    return [known[n] for n in names] if names else FUZZ_TABLES


def report(results: list[dict]) -> str:
    """Per table and page: crashed (and why), or the sentences marked."""
    lines = []
    for result in results:
        lines.append(f"== {result['table']}: {result['describe']}")
        for page, outcome in result["pages"].items():
            cpu = outcome["cpu_seconds"]
            cost = "in the strict build" if cpu is None else f"{cpu:.1f} s CPU"
            head = f"  {page} ({cost}): "
            if outcome["error"]:
                first = outcome["error"].strip().splitlines()
                lines.append(head + "CRASH " + " | ".join(first[:2]))
            elif outcome["marked"] is None:
                lines.append(head + "ran (this engine records no checks yet)")
            elif not outcome["marked"]:
                lines.append(head + "ran, no sentence marked")
            else:
                by_sentence: dict[str, list[str]] = {}
                for mark in outcome["marked"]:
                    sentence = " ".join(mark["sentence"].split())
                    why = f"{mark['kind']} {mark['expression']}"
                    by_sentence.setdefault(sentence, []).append(why)
                lines.append(head + f"ran, {len(by_sentence)} sentence(s) marked:")
                for sentence, whys in by_sentence.items():
                    lines.append(f"    - {sentence}")
                    lines.append(f"      [{'; '.join(whys)}]")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("run", "report") or argv == ["run"]:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    out = Path(rest.pop(0)) if command == "run" else None
    folder = Path(tempfile.mkdtemp(prefix="fuzz-tables-"))
    try:
        results = run_tables(chosen(rest), folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for result in results:
            path = out / f"{result['table']}.json"
            path.write_text(json.dumps(result, indent=1))
    if command == "report":
        print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
