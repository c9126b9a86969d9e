"""Run every tutorial page on the generated tables of ``gbm_tables.FUZZ_TABLES``.

    python tests/fuzz_pages.py report [TABLE ...]   # run, print the report
    python tests/fuzz_pages.py run OUT_DIR [TABLE ...|--part K/N]
                                   # run, write OUT_DIR/<table>.json

Each table is written to a temporary folder and every page (``docs/NN_*.md``
with code) runs on it as the build runs it (``hooks.tutorials.run_page``, no
cache), with ``GBM_DATA`` and ``GBM_GENES`` set. A page that raises or warns
has crashed; a page that runs reports the results sentences whose checks
(``<!-- check: ... -->``) failed on that table: they are the sentences the
site marks "not so on this build's data" when built on it. The test
``tests/test_fuzzed_tables.py`` reads the JSON files (``tests/conftest.py``
starts ``run`` in the background as soon as the tests are collected).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gbm_tables import FUZZ_TABLES, FuzzTable  # noqa: E402

from hooks.tutorials import (  # noqa: E402
    TutorialError,
    forget_tutorial_modules,
    is_tutorial,
    run_page,
)

PAGES = sorted(p for p in (ROOT / "docs").glob("[0-9][0-9]_*.md") if is_tutorial(p))


def failed_checks(run) -> list[dict] | None:
    """The run's checks that did not hold, as {"sentence", "expression",
    "error"}; None while the engine records no checks (PageRun.checks)."""
    checks = getattr(run, "checks", None)
    if checks is None:
        return None
    failed = []
    for check in checks:
        if getattr(check, "passed", getattr(check, "ok", True)):
            continue
        failed.append(
            {
                "sentence": str(getattr(check, "sentence", "")),
                "expression": str(getattr(check, "expression", "")),
                "error": str(getattr(check, "error", "") or ""),
            }
        )
    return failed


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


def run_table(table: FuzzTable, folder: Path) -> dict:
    """Every page on one table: {page: {"error", "seconds", "failed_checks"}}."""
    path = table.write(folder)
    saved = dict(os.environ)
    os.environ.update(table.env(path))
    pages = {}
    try:
        for page in PAGES:
            forget_tutorial_modules()  # each page imports the modules afresh
            start = time.perf_counter()
            try:
                run = run_page(page)
            except TutorialError as exc:
                result = {"error": str(exc), "failed_checks": None}
            else:
                result = {"error": None, "failed_checks": failed_checks(run)}
            result["seconds"] = round(time.perf_counter() - start, 2)
            pages[page.name] = result
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return {"table": table.name, "describe": describe(table), "pages": pages}


def parts(n: int) -> list[list[FuzzTable]]:
    """The tables in n groups of about equal run time (a table's time grows
    with its samples, over a fixed cost of starting each page)."""
    groups: list[list[FuzzTable]] = [[] for _ in range(n)]
    cost = [0] * n
    for table in sorted(FUZZ_TABLES, key=lambda t: -t.samples):
        k = cost.index(min(cost))
        groups[k].append(table)
        cost[k] += 300 + table.samples
    return groups


def chosen(names: list[str]) -> list[FuzzTable]:
    if names[:1] == ["--part"]:
        k, n = map(int, names[1].split("/"))
        return parts(n)[k - 1]
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
            head = f"  {page} ({outcome['seconds']:.1f} s): "
            if outcome["error"]:
                first = outcome["error"].strip().splitlines()
                lines.append(head + "CRASH " + " | ".join(first[:2]))
            elif outcome["failed_checks"] is None:
                lines.append(head + "ran (this engine records no checks yet)")
            elif not outcome["failed_checks"]:
                lines.append(head + "ran, no sentence marked")
            else:
                lines.append(head + f"ran, {len(outcome['failed_checks'])} marked:")
                for check in outcome["failed_checks"]:
                    sentence = " ".join(check["sentence"].split())
                    lines.append(f"    - {sentence}  [{check['expression']}]")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("run", "report") or argv == ["run"]:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    out = Path(rest.pop(0)) if command == "run" else None
    folder = Path(tempfile.mkdtemp(prefix="fuzz-tables-"))
    results = []
    try:
        for table in chosen(rest):
            result = run_table(table, folder)
            results.append(result)
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
                (out / f"{table.name}.json").write_text(json.dumps(result, indent=1))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if command == "report":
        print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
