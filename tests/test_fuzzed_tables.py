"""Every tutorial page runs on generated tables that span what users bring.

The pages run in the background (tests/fuzz_pages.py, started by conftest as
soon as the tests are collected) on the tables of ``gbm_tables.FUZZ_TABLES``:
10 to 60 % smokers, 30 to 2,000 samples, 2 to 8 feature genes, tables without
the default genes, malformed lines and missing labels. No page may crash on
any of them. On the table with few smokers the whole site is built instead,
strictly, as an instructor would build it. The sentences whose checks fail
on a table (marked for the reader on such a build) are listed by
``python tests/fuzz_pages.py report``, and by
``test_report_names_every_table_and_page`` (shown with ``pytest -rP``).

Run alone: ``.venv/bin/python -m pytest tests/test_fuzzed_tables.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fuzz_pages import PAGES, report
from gbm_tables import DEFAULT_GENES, FUZZ_TABLES, csv_lines, project_table

from tutorial_code.gbm_data import (
    cleaning_report,
    label_smoking_status,
    load_gbm,
    select_features,
)

# Crashes seen on these tables, each for its page's owner to fix (issue 17,
# item 3). Strict: when the page is fixed the test passes, and fails until
# the entry is removed here.
KNOWN_CRASHES: dict[tuple[str, str], str] = {}


def cases() -> list:
    """(table, page) pairs, a known crash marked as an expected failure."""
    pairs = []
    for table in FUZZ_TABLES:
        for page in PAGES:
            reason = KNOWN_CRASHES.get((table.name, page.name))
            marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
            pairs.append(pytest.param(table.name, page.name, marks=marks))
    return pairs


@pytest.mark.parametrize(("table", "page"), cases())
def test_page_runs_on_generated_table(fuzzed_tables, table, page):
    results, process, _ = fuzzed_tables
    assert table in results, process.stderr
    outcome = results[table]["pages"][page]
    assert outcome["error"] is None, f"{page} on {table}: {outcome['error']}"


BUILT = [t for t in FUZZ_TABLES if t.built]


@pytest.mark.parametrize("table", BUILT, ids=lambda t: t.name)
def test_the_whole_site_builds_strictly_on_the_table(fuzzed_tables, table):
    """As an instructor builds it on a table of their own: strictly, with
    their genes, the generator's numbers unsaid, and every sentence whose
    check fails on this table marked where it stands."""
    results, _, sites = fuzzed_tables
    site, build = sites[table.name]
    assert build.returncode == 0, build.stderr[-4000:]
    assert "WARNING" not in build.stderr, build.stderr
    page = (site / "01_gbm_data" / "index.html").read_text()
    assert f"{len(table.genes)} feature genes: {', '.join(table.genes)}" in page
    regression = (site / "03_linear_regression" / "index.html").read_text()
    printed = "".join(
        re.findall(r'<div class="admonition output">(.*?)</code>', regression, re.S)
    )
    assert "R² ceiling: unknown" in printed and "from the generator" not in printed
    for name, outcome in results[table.name]["pages"].items():
        built = (site / Path(name).stem / "index.html").read_text()
        marks = built.count('<span class="result-not-so"')  # one per result
        assert marks == len(outcome["marked"]), name
    assert any(outcome["marked"] for outcome in results[table.name]["pages"].values())


def test_report_names_every_table_and_page(fuzzed_tables):
    results, _, _ = fuzzed_tables
    text = report([results[t.name] for t in FUZZ_TABLES if t.name in results])
    print(text)
    for table in FUZZ_TABLES:
        assert f"== {table.name}:" in text
    assert text.count("01_gbm_data.md") == len(FUZZ_TABLES)


# ------------------------------------------------- the tables are what they say


def test_tables_span_the_range_users_bring():
    shares = [t.smoker_share for t in FUZZ_TABLES]
    samples = [t.samples for t in FUZZ_TABLES]
    n_genes = [len(t.genes or DEFAULT_GENES) for t in FUZZ_TABLES]
    assert min(shares) <= 0.1 and max(shares) >= 0.6
    assert min(samples) <= 30 and max(samples) >= 2000
    assert min(n_genes) <= 2 and max(n_genes) >= 8
    lacking = [t for t in FUZZ_TABLES if not set(DEFAULT_GENES) & set(t.columns)]
    assert lacking and all(t.genes for t in lacking)
    mixed = [t for t in FUZZ_TABLES if t.genes and set(t.genes) & set(DEFAULT_GENES)]
    assert any(set(t.genes) - set(DEFAULT_GENES) for t in mixed)
    assert any(t.malformed and t.missing_labels for t in FUZZ_TABLES)


@pytest.mark.parametrize("table", FUZZ_TABLES, ids=lambda t: t.name)
def test_written_table_loads_as_specified(tmp_path, monkeypatch, table):
    path = table.write(tmp_path)
    for name, value in table.env(path).items():
        monkeypatch.setenv(name, value)
    gbm = load_gbm()
    X, y = select_features(label_smoking_status(gbm))
    clean = cleaning_report(gbm)
    assert clean.malformed_skipped == table.malformed
    assert clean.rows_read == table.samples
    # Malformed lines are drawn among all rows, so a missing label or blank
    # value may fall on one of them.
    assert table.missing_labels - table.malformed <= clean.missing_smoking_history
    assert clean.missing_smoking_history <= table.missing_labels
    assert clean.missing_selected_gene <= table.missing_values
    assert list(X.columns) == list(table.genes or DEFAULT_GENES)
    assert abs(y.mean() - table.smoker_share) < 0.02
    assert list(gbm.columns[: len(table.columns)]) == list(table.columns)


def test_tables_are_written_as_pandas_writes_them():
    """gbm_tables writes the numbers itself (pandas is slow on wide tables):
    the same lines as pandas' to_csv, blanks and quoted values included."""
    table = project_table(40, DEFAULT_GENES, smoker_share=0.5, missing_labels=2)
    table.iloc[3, 1] = float("nan")
    pandas_lines = table.to_csv(index=False, lineterminator="\n").splitlines()
    assert csv_lines(table, len(DEFAULT_GENES)) == pandas_lines
    assert any('"' in line for line in pandas_lines)  # a quoted smoking history
