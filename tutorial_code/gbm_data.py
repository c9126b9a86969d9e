"""Load and clean the GBM CSV: the one data module every tutorial uses.

Library part (top level): path resolution, loading with malformed-row checks,
the smoking label, feature selection and the train/test split.
Page part (``main``): the story shown on docs/01_gbm_data.md.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import io
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from tutorial_code.data_paths import (
    DATA_ENV_VAR,
    SHIPPED_DATA,
    data_path,
    feature_genes,  # noqa: F401 (re-exported: tutorials import it from here)
)

# --8<-- [start:constants]
FEATURES = ["LINC00159", "EFTUD1P1", "C20orf202", "KRT17P8", "RPL7L1P9"]
LABEL = "smoking_status"  # 0 = non-smoker, 1 = smoker
TEST_SIZE = 0.2
SPLIT_SEED = 81
# --8<-- [end:constants]

SMOKING_COLUMN = "SMOKING_HISTORY"
# Expression columns come first in the CSV; the clinical block starts here.
FIRST_CLINICAL_COLUMN = "PATIENT_ID"

# --8<-- [start:smoking_categories]
SMOKING_CATEGORIES: dict[str, int] = {
    "Lifelong non-smoker: Less than 100 cigarettes smoked in lifetime": 0,
    "Current smoker: Includes daily and non-daily smokers": 1,
    "Current reformed smoker within past 15 years": 1,
    "Current reformed smoker, more than 15 years": 1,
}
# --8<-- [end:smoking_categories]


class GBMDataError(ValueError):
    """The GBM data cannot be used as it is; the message says what to do."""


class MalformedRowsWarning(UserWarning):
    """Some CSV rows had the wrong number of fields and were skipped."""


# ---------------------------------------------------------------- loading


def _where_path_came_from(path: str | os.PathLike[str] | None) -> str:
    if path is not None:
        return "passed explicitly"
    if os.environ.get(DATA_ENV_VAR):
        return f"from ${DATA_ENV_VAR}"
    return "the shipped default"


def _missing_file_message(csv_path: Path, source: str) -> str:
    return (
        f"GBM data file not found: {csv_path} ({source}). "
        f"The synthetic file shipped with the tutorials is {SHIPPED_DATA} "
        "(regenerate it with `python -m tutorial_code.make_synthetic_gbm`). "
        f"To use another file, set {DATA_ENV_VAR}=/path/to/gbm_data.csv "
        "or pass --data /path/to/gbm_data.csv."
    )


def _split_good_and_malformed(text: str) -> tuple[list[list[str]], list[int]]:
    """Parse CSV text with the csv module; return good records and bad line numbers.

    A record is malformed when its field count differs from the header's.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        return [], []
    good, bad_lines = [header], []
    for record in reader:
        if not record:  # blank line
            continue
        if len(record) == len(header):
            good.append(record)
        else:
            bad_lines.append(reader.line_num)
    return good, bad_lines


def _warn_malformed(csv_path: Path, bad_lines: list[int]) -> None:
    shown = ", ".join(map(str, bad_lines[:20]))
    more = f" (and {len(bad_lines) - 20} more)" if len(bad_lines) > 20 else ""
    warnings.warn(
        f"Skipped {len(bad_lines)} malformed row(s) in {csv_path.name} with the "
        f"wrong number of fields, at line(s) {shown}{more}. The usual cause is "
        "an unquoted comma inside a value (e.g. 'Current reformed smoker, more "
        "than 15 years'): write the CSV with quoting, as pandas.to_csv does.",
        MalformedRowsWarning,
        stacklevel=3,
    )


def load_gbm(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Read the GBM CSV (one row per sample); skip and report malformed rows.

    The line numbers of skipped rows are kept in ``gbm.attrs["malformed_lines"]``
    so that :func:`cleaning_report` can count them.
    """
    csv_path = data_path(path)
    if not csv_path.is_file():
        raise GBMDataError(_missing_file_message(csv_path, _where_path_came_from(path)))
    text = csv_path.read_text(encoding="utf-8-sig")
    records, bad_lines = _split_good_and_malformed(text)
    if not records:
        raise GBMDataError(
            f"{csv_path} is empty. Point {DATA_ENV_VAR} or --data to a CSV with a "
            "header row and one row per sample."
        )
    if bad_lines:
        _warn_malformed(csv_path, bad_lines)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(records)
    buffer.seek(0)
    gbm = pd.read_csv(buffer)
    gbm.attrs["malformed_lines"] = bad_lines
    return gbm


def clinical_columns(gbm: pd.DataFrame) -> list[str]:
    """The clinical block: from PATIENT_ID to the end (else the text columns)."""
    if FIRST_CLINICAL_COLUMN in gbm.columns:
        start = gbm.columns.get_loc(FIRST_CLINICAL_COLUMN)
        return list(gbm.columns[start:])
    return [c for c in gbm.columns if not pd.api.types.is_numeric_dtype(gbm[c])]


# --------------------------------------------------------------- cleaning


def _unknown_categories_message(unknown: Sequence[str]) -> str:
    known = "\n  ".join(SMOKING_CATEGORIES)
    return (
        f"{SMOKING_COLUMN} has {len(unknown)} unrecognised value(s): "
        f"{', '.join(repr(u) for u in unknown)}. Known categories:\n  {known}\n"
        "Fix the spelling in the CSV, or add the category to SMOKING_CATEGORIES "
        "in tutorial_code/gbm_data.py with its 0/1 label."
    )


def smoking_history(gbm: pd.DataFrame) -> pd.Series:
    """The SMOKING_HISTORY column, whitespace-trimmed and checked against
    SMOKING_CATEGORIES (missing values stay missing)."""
    if SMOKING_COLUMN not in gbm.columns:
        raise GBMDataError(
            f"The data has no {SMOKING_COLUMN} column, so there is no smoking "
            "label. Use a CSV built by build_gbm_from_cbioportal.py (clinical "
            "columns included) or the shipped synthetic file."
        )
    history = gbm[SMOKING_COLUMN].map(
        lambda value: value.strip() if isinstance(value, str) else value
    )
    unknown = sorted({str(v) for v in history.dropna()} - set(SMOKING_CATEGORIES))
    if unknown:
        raise GBMDataError(_unknown_categories_message(unknown))
    return history


# --8<-- [start:label_smoking_status]
def label_smoking_status(gbm):
    """A new DataFrame: the rows of ``gbm`` with a smoking history, plus LABEL."""
    history = smoking_history(gbm).dropna()
    labelled = gbm.loc[history.index]
    return labelled.assign(**{LABEL: history.map(SMOKING_CATEGORIES).astype(int)})


# --8<-- [end:label_smoking_status]


def _absent_genes_message(absent: Sequence[str], columns: Sequence[str]) -> str:
    hints = []
    for gene in absent:
        close = difflib.get_close_matches(gene, columns, n=3, cutoff=0.6)
        if close:
            hints.append(f"{gene} (close: {', '.join(close)})")
        else:
            hints.append(f"{gene} (no similar column)")
    return (
        f"Gene column(s) not in the data: {'; '.join(hints)}. Check the spelling "
        "or pass genes=[...] with columns the CSV has."
    )


def _row_name(gbm: pd.DataFrame, index_label: object) -> str:
    if "SAMPLE_ID" in gbm.columns:
        return f"sample {gbm.at[index_label, 'SAMPLE_ID']} (row {index_label})"
    return f"row {index_label}"


def _as_numeric(gbm: pd.DataFrame, genes: Sequence[str]) -> pd.DataFrame:
    """Selected gene columns as floats; text that is not a number is an error."""
    numeric = {}
    for gene in genes:
        values = pd.to_numeric(gbm[gene], errors="coerce")
        not_numbers = values.isna() & gbm[gene].notna()
        if not_numbers.any():
            first = not_numbers.idxmax()
            raise GBMDataError(
                f"Column {gene} holds {int(not_numbers.sum())} non-numeric "
                f"value(s), e.g. {gbm.at[first, gene]!r} in "
                f"{_row_name(gbm, first)}. Expression values must be numbers; "
                "leave missing values empty (or NA)."
            )
        numeric[gene] = values.astype(float)
    return pd.DataFrame(numeric, index=gbm.index)


def select_features(
    gbm: pd.DataFrame, genes: Sequence[str] = FEATURES
) -> tuple[pd.DataFrame, pd.Series]:
    """X (float gene columns) and y (LABEL); rows missing a gene are dropped."""
    genes = list(genes)
    absent = [g for g in genes if g not in gbm.columns]
    if absent:
        raise GBMDataError(_absent_genes_message(absent, list(gbm.columns)))
    if LABEL not in gbm.columns:
        raise GBMDataError(
            f"No {LABEL} column: call label_smoking_status(gbm) before select_features."
        )
    X = _as_numeric(gbm, genes).dropna()
    y = gbm.loc[X.index, LABEL].astype(int)
    return X, y


# --------------------------------------------------------------- splitting


@dataclass
class Split:
    """Train/test tensors, standardised with a scaler fitted on train only."""

    X_train: torch.Tensor
    X_test: torch.Tensor
    y_train: torch.Tensor
    y_test: torch.Tensor
    scaler: StandardScaler
    feature_names: list[str]


def _min_rows_to_split(test_size: float) -> int:
    """Smallest n with at least 2 test rows and 2 training rows."""
    n = 4
    while int(np.ceil(test_size * n)) < 2 or n - int(np.ceil(test_size * n)) < 2:
        n += 1
    return n


def _check_splittable(y: pd.Series, test_size: float) -> None:
    counts = y.value_counts()
    if len(counts) == 1:
        only = int(counts.index[0])
        raise GBMDataError(
            f"Only one class is left after cleaning ({LABEL} = {only} for all "
            f"{len(y)} rows), so there is nothing to classify. Check "
            f"{SMOKING_COLUMN} in the CSV: both smokers and non-smokers are needed."
        )
    needed = _min_rows_to_split(test_size)
    if len(y) < needed or (counts < 2).any():
        raise GBMDataError(
            f"Too few rows to split: {len(y)} row(s) after cleaning "
            f"(per class: {counts.sort_index().to_dict()}). A stratified split "
            f"with test_size={test_size} needs at least {needed} rows and at "
            "least 2 of each class; use a larger data file."
        )


def _tensor(values: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(values, dtype=np.float32))


def split_and_scale(
    X: pd.DataFrame,
    y: pd.Series,
    test_size: float = TEST_SIZE,
    seed: int = SPLIT_SEED,
) -> Split:
    """Stratified train/test split; standardise with the training rows' stats."""
    if len(y) == 0:
        raise GBMDataError(
            "No rows left after cleaning: every row lacked a smoking history or a "
            "selected gene value. Check the CSV (see cleaning_report)."
        )
    _check_splittable(y, test_size)
    X_train, X_test, y_train, y_test = train_test_split(
        X.to_numpy(dtype=float),
        y.to_numpy(dtype=float),
        test_size=test_size,
        random_state=seed,
        stratify=y.to_numpy(),
    )
    scaler = StandardScaler().fit(X_train)
    return Split(
        X_train=_tensor(scaler.transform(X_train)),
        X_test=_tensor(scaler.transform(X_test)),
        y_train=_tensor(y_train),
        y_test=_tensor(y_test),
        scaler=scaler,
        feature_names=list(X.columns),
    )


# --------------------------------------------------------------- reporting


@dataclass
class CleaningReport:
    """How many rows each cleaning step removed."""

    rows_read: int
    malformed_skipped: int
    missing_smoking_history: int
    missing_selected_gene: int
    rows_kept: int

    def __str__(self) -> str:
        lines = [
            ("malformed rows skipped", self.malformed_skipped),
            ("rows read", self.rows_read),
            ("dropped: no SMOKING_HISTORY", self.missing_smoking_history),
            ("dropped: missing a selected gene", self.missing_selected_gene),
            ("rows kept", self.rows_kept),
        ]
        width = max(len(name) for name, _ in lines)
        return "\n".join(f"{name:<{width}}  {count:>5}" for name, count in lines)


def cleaning_report(
    gbm: pd.DataFrame, genes: Sequence[str] = FEATURES
) -> CleaningReport:
    """Run the cleaning steps on a loaded frame and count what each removed."""
    labelled = label_smoking_status(gbm)
    X, _ = select_features(labelled, genes)
    return CleaningReport(
        rows_read=len(gbm),
        malformed_skipped=len(gbm.attrs.get("malformed_lines", [])),
        missing_smoking_history=len(gbm) - len(labelled),
        missing_selected_gene=len(labelled) - len(X),
        rows_kept=len(X),
    )


# ------------------------------------------------------------- scripts


def run_as_script(main: Callable[[], object]) -> None:
    """Entry point of every tutorial module: ``--data PATH`` sets $GBM_DATA."""
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--data",
        metavar="PATH",
        help=f"GBM CSV to use (default: ${DATA_ENV_VAR}, else {SHIPPED_DATA.name})",
    )
    args = parser.parse_args()
    if args.data:
        os.environ[DATA_ENV_VAR] = args.data
    try:
        main()
    except GBMDataError as error:
        raise SystemExit(f"error: {error}") from None


def main() -> None:
    # --8<-- [start:imports]
    # Tutorials import the data layer like this (it lives in this very module).
    from tutorial_code.gbm_data import (
        LABEL,
        cleaning_report,
        clinical_columns,
        label_smoking_status,
        load_gbm,
        select_features,
        smoking_history,
        split_and_scale,
    )

    # --8<-- [end:imports]

    # --8<-- [start:load]
    gbm = load_gbm()
    print(f"{gbm.shape[0]} samples x {gbm.shape[1]} columns")
    # --8<-- [end:load]

    # --8<-- [start:clinical]
    clinical = gbm[clinical_columns(gbm)]
    print(f"{clinical.shape[1]} clinical columns: {', '.join(clinical.columns)}")
    print(clinical.drop(columns="SMOKING_HISTORY").head().to_string(index=False))
    # --8<-- [end:clinical]

    # --8<-- [start:smoking_counts]
    print(smoking_history(gbm).value_counts(dropna=False).to_string())
    # --8<-- [end:smoking_counts]

    # --8<-- [start:label]
    labelled = label_smoking_status(gbm)
    counts = labelled[LABEL].value_counts().sort_index()
    print(counts.rename({0: "0 (non-smoker)", 1: "1 (smoker)"}).to_string())
    # --8<-- [end:label]

    # --8<-- [start:report]
    print(cleaning_report(gbm))
    # --8<-- [end:report]

    # --8<-- [start:features]
    X, y = select_features(labelled)
    print(f"X: {X.shape}, y: {y.shape}, smokers: {y.mean():.0%}")
    # --8<-- [end:features]

    # --8<-- [start:split]
    split = split_and_scale(X, y)
    for name, labels in [("train", split.y_train), ("test", split.y_test)]:
        print(f"{name}: {len(labels)} rows, {int(labels.sum())} smokers")
    print("scaler means (train rows):", split.scaler.mean_.round(2))
    # --8<-- [end:split]


if __name__ == "__main__":
    run_as_script(main)
