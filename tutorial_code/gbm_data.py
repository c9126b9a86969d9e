"""Load and clean the GBM CSV: the one data module every tutorial uses.

Library part (top level): path resolution, loading with checks that give every
bad table a clear message, the smoking label, feature selection, gene
suggestions and the train/test split.
Page part (``main``): the story shown on docs/01_gbm_data.md.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import io
import os
import stat
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from tutorial_code.data_paths import (
    CBIOPORTAL_MISSING,
    DATA_ENV_VAR,
    DEFAULT_GENES,
    GENES_ENV_VAR,
    SHIPPED_DATA,
    GBMDataError,  # defined there, imported from here by the tutorials
    data_path,
    feature_genes,  # tutorials import it from here too
)
from tutorial_code.make_synthetic_gbm import show_ceiling  # the page's ceiling

# --8<-- [start:constants]
LABEL = "smoking_status"  # 0 = non-smoker, 1 = smoker
TEST_SIZE = 0.2
SPLIT_SEED = 81
# --8<-- [end:constants]

# The default genes, for code written before genes became a setting. Tutorial
# code calls feature_genes() instead, which also honours $GBM_GENES and --genes.
FEATURES = list(DEFAULT_GENES)

SMOKING_COLUMN = "SMOKING_HISTORY"
# Expression columns come first in the CSV; the clinical block starts here.
FIRST_CLINICAL_COLUMN = "PATIENT_ID"
# Expression values are log2-scaled: log2(FPKM + 1) in the shipped table runs
# from 0 to 14, real exports of the study hold values from about 6 to 27. A
# value above the maximum means a linear scale (2**40 FPKM does not happen).
EXPRESSION_RANGE = (0.0, 40.0)

# --8<-- [start:smoking_categories]
SMOKING_CATEGORIES: dict[str, int] = {
    "Lifelong non-smoker: Less than 100 cigarettes smoked in lifetime": 0,
    "Current smoker: Includes daily and non-daily smokers": 1,
    "Current reformed smoker within past 15 years": 1,
    "Current reformed smoker, more than 15 years": 1,
}
# --8<-- [end:smoking_categories]

# ---------------------------------------------------------------- loading

LAYOUT_HINT = (
    "The tutorials expect a comma-separated UTF-8 CSV with one row per sample: "
    "expression columns first, then PATIENT_ID, SAMPLE_ID and the clinical "
    "columns, as build_gbm_from_cbioportal writes it."
)


def _where_path_came_from(path: str | os.PathLike[str] | None) -> str:
    if path is not None:
        return "passed explicitly"
    if os.environ.get(DATA_ENV_VAR):
        return f"from ${DATA_ENV_VAR} or --data"
    return "the shipped default"


def _missing_file_message(csv_path: Path, source: str) -> str:
    return (
        f"GBM data file not found: {csv_path} ({source}). "
        f"The synthetic file shipped with the tutorials is {SHIPPED_DATA} "
        "(regenerate it with `python -m tutorial_code.make_synthetic_gbm`). "
        f"To use another file, set {DATA_ENV_VAR}=/path/to/gbm_data.csv "
        "or pass --data /path/to/gbm_data.csv."
    )


def _check_regular_file(csv_path: Path, source: str) -> None:
    """A missing path, a folder or a special file gets its own message."""
    try:
        mode = csv_path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise GBMDataError(_missing_file_message(csv_path, source)) from None
    except OSError as error:
        raise GBMDataError(_unreadable_message(csv_path, source, error)) from None
    if stat.S_ISDIR(mode):
        raise GBMDataError(
            f"{csv_path} ({source}) is a directory, not a CSV file. Point "
            f"{DATA_ENV_VAR} or --data to the CSV file itself, e.g. "
            f"{csv_path / 'gbm_data.csv'}."
        )
    if not stat.S_ISREG(mode):
        raise GBMDataError(
            f"{csv_path} ({source}) is not a regular file (a pipe, socket or "
            "device). Save the table to a file and point to that."
        )


def _unreadable_message(csv_path: Path, source: str, error: OSError) -> str:
    return (
        f"{csv_path} ({source}) cannot be read: {error.strerror or error}. "
        f"Give yourself read permission (chmod u+r {csv_path}) or copy the file "
        "somewhere you can read it."
    )


def _open(csv_path: Path, source: str, **open_args):
    try:
        return csv_path.open(**open_args)
    except OSError as error:
        raise GBMDataError(_unreadable_message(csv_path, source, error)) from None


def _looks_utf16(head: bytes) -> bool:
    """A byte-order mark, or the zero byte UTF-16 puts beside each ASCII letter
    (always on the same side: odd offsets little-endian, even ones big-endian)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    even, odd = head[0::2].count(0), head[1::2].count(0)
    return max(even, odd) > 0.4 * (len(head) // 2) and min(even, odd) == 0


def _check_text_start(csv_path: Path, head: bytes) -> None:
    """Compressed, binary and UTF-16 files, recognised from their first bytes."""
    if not head.strip():
        raise GBMDataError(f"{csv_path} is empty. {LAYOUT_HINT}")
    if head.startswith(b"\x1f\x8b"):
        raise GBMDataError(
            f"{csv_path} is gzip-compressed, not CSV text. Decompress it first "
            f"(gunzip -k {csv_path}) and point {DATA_ENV_VAR} or --data to the "
            "decompressed .csv."
        )
    if head.startswith(b"PK\x03\x04"):
        raise GBMDataError(
            f"{csv_path} is a ZIP archive or an Excel workbook, not CSV text. "
            "Unpack it, or save the sheet as 'CSV UTF-8 (comma delimited)'."
        )
    if _looks_utf16(head):
        raise GBMDataError(
            f"{csv_path} is UTF-16 text, not UTF-8. Convert it (iconv -f UTF-16 "
            "-t UTF-8 in.csv > out.csv, or choose 'CSV UTF-8' in a spreadsheet's "
            "Save As)."
        )
    if b"\x00" in head:
        raise GBMDataError(
            f"{csv_path} is a binary file, not CSV text (it holds NUL bytes). "
            f"{LAYOUT_HINT}"
        )


def _first_undecodable_line(csv_path: Path) -> tuple[int, bytes]:
    """Line number and bad byte of the first line that is not valid UTF-8."""
    with csv_path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as error:
                return number, line[error.start : error.start + 1]
    return 0, b""


def _not_utf8_message(csv_path: Path) -> str:
    line, byte = _first_undecodable_line(csv_path)
    return (
        f"{csv_path} is not UTF-8 text: line {line} holds the byte "
        f"0x{byte.hex().upper()}, which UTF-8 does not allow. The file is probably "
        "Latin-1 or Windows-1252: re-save it as UTF-8 (iconv -f latin1 -t utf-8 "
        "in.csv > out.csv, or 'CSV UTF-8' in a spreadsheet's Save As)."
    )


class _LineTap:
    """Hands lines to the csv reader and keeps them, to pass records on verbatim."""

    def __init__(self, lines: Iterator[str]):
        self.lines = lines
        self.taken: list[str] = []

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        self.taken.append(line)
        return line

    def release(self) -> str:
        text = "".join(self.taken)
        self.taken.clear()
        return text


class WellFormedRows(io.TextIOBase):
    """The CSV text without its malformed records, read as pandas reads a file.

    One pass: the csv module splits the text into records as pandas asks for
    more; a record whose field count differs from the header's is left out,
    its first line number kept in ``bad_lines`` and what is wrong with it in
    ``kinds``. Nothing is held beyond one chunk, so memory does not grow with
    the file.
    """

    def __init__(self, handle, csv_path: Path):
        self.tap = _LineTap(iter(handle))
        self.reader = csv.reader(self.tap)
        self.header = next(self.reader, None)
        self.pending = self.tap.release()
        self.bad_lines: list[int] = []
        # first line -> "short" (too few fields), "long" (too many) or the
        # last line of a record that runs on over several lines
        self.kinds: dict[int, str | int] = {}
        self.good_rows = 0
        if not self.header:
            raise GBMDataError(f"{csv_path} is empty. {LAYOUT_HINT}")

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        size = -1 if size is None else size
        pieces, length = [self.pending], len(self.pending)
        while size < 0 or length < size:
            first_line = self.reader.line_num + 1
            record = next(self.reader, None)
            if record is None:
                break
            raw = self.tap.release()
            if not record:  # a blank line
                continue
            if len(record) == len(self.header):
                pieces.append(raw)
                length += len(raw)
                self.good_rows += 1
            else:
                self.bad_lines.append(first_line)
                if self.reader.line_num > first_line:  # a quote left open
                    self.kinds[first_line] = self.reader.line_num
                elif len(record) < len(self.header):
                    self.kinds[first_line] = "short"
                else:
                    self.kinds[first_line] = "long"
        text = "".join(pieces)
        if 0 <= size < len(text):
            text, self.pending = text[:size], text[size:]
        else:
            self.pending = ""
        return text


def _check_header(csv_path: Path, header: list[str]) -> None:
    if len(header) == 1:
        for name, delimiter in [("tab", "\t"), ("semicolon", ";")]:
            if delimiter in header[0]:
                raise GBMDataError(
                    f"{csv_path} looks {name}-separated: its header has no commas "
                    f"but {header[0].count(delimiter)} {name}s. Save it with commas"
                    " between fields (e.g. pandas.read_csv(path, sep="
                    f"{delimiter!r}).to_csv(new_path, index=False))."
                )
    repeated = {name: n for name, n in Counter(header).items() if n > 1}
    if repeated:
        shown = ", ".join(
            f"{name} ({n} times)" for name, n in list(repeated.items())[:5]
        )
        more = f" and {len(repeated) - 5} more" if len(repeated) > 5 else ""
        raise GBMDataError(
            f"{csv_path} has {len(repeated)} repeated column name(s): {shown}{more}. "
            "Every column needs its own name. A gene on several rows of a "
            "cBioPortal export is kept once by build_gbm_from_cbioportal: "
            "rebuild the table with it, or drop or rename the repeats."
        )


def _check_row_counts(csv_path: Path, rows: WellFormedRows) -> None:
    bad = len(rows.bad_lines)
    if rows.good_rows == 0 and bad == 0:
        raise GBMDataError(
            f"{csv_path} has a header row but no data rows. {LAYOUT_HINT}"
        )
    if bad > rows.good_rows:
        raise GBMDataError(
            f"{csv_path}: {bad} of {bad + rows.good_rows} data rows have a "
            f"different number of fields than the header ({len(rows.header)}), "
            f"first at line(s) {_line_list(rows.bad_lines, 5)}. The likely cause is "
            "a delimiter other than a comma in the rows, commas inside values "
            "that are not quoted, or lines cut short by an interrupted export: "
            "export the table again and write it with pandas.to_csv, which "
            "quotes values that hold commas."
        )


def _line_list(lines: Sequence[int], limit: int = 20) -> str:
    shown = ", ".join(map(str, lines[:limit]))
    return shown + (f" (and {len(lines) - limit} more)" if len(lines) > limit else "")


def _read_well_formed(csv_path: Path, source: str) -> pd.DataFrame:
    with _open(csv_path, source, mode="rb") as handle:
        _check_text_start(csv_path, handle.read(4096))
    try:
        with _open(csv_path, source, encoding="utf-8-sig", newline="") as handle:
            rows = WellFormedRows(handle, csv_path)
            _check_header(csv_path, rows.header)
            gbm = pd.read_csv(rows, low_memory=False)
    except UnicodeDecodeError:
        raise GBMDataError(_not_utf8_message(csv_path)) from None
    _check_row_counts(csv_path, rows)
    # read_csv gives one block per column; a later added column (the label)
    # would then make pandas warn about a fragmented frame. copy() joins them.
    gbm = gbm.copy()
    gbm.attrs["source"] = str(csv_path)
    gbm.attrs["malformed_lines"] = rows.bad_lines
    gbm.attrs["malformed_kinds"] = rows.kinds
    return gbm


def load_gbm(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Read the GBM CSV (one row per sample) and check it can be used.

    Malformed rows (the wrong number of fields) are skipped, not fatal: their
    line numbers are kept in ``gbm.attrs["malformed_lines"]`` (what is wrong
    with each in ``gbm.attrs["malformed_kinds"]``) for
    :func:`cleaning_report`. Every other problem raises a GBMDataError that
    names the file, the problem and what to do.
    """
    csv_path = data_path(path)
    source = _where_path_came_from(path)
    _check_regular_file(csv_path, source)
    gbm = _read_well_formed(csv_path, source)
    _check_layout(gbm)
    _check_sample_ids(gbm)
    _check_expression_values(gbm)
    smoking_history(gbm)  # the label column is there and its values are known
    return gbm


def _in_file(frame: pd.DataFrame) -> str:
    source = frame.attrs.get("source")
    return f" in {source}" if source else ""


def clinical_columns(gbm: pd.DataFrame) -> list[str]:
    """The clinical block: from PATIENT_ID to the end (else the text columns)."""
    if FIRST_CLINICAL_COLUMN in gbm.columns:
        start = gbm.columns.get_loc(FIRST_CLINICAL_COLUMN)
        return list(gbm.columns[start:])
    return [c for c in gbm.columns if not pd.api.types.is_numeric_dtype(gbm[c])]


def expression_columns(gbm: pd.DataFrame) -> list[str]:
    """The gene columns: everything before the clinical block."""
    clinical = set(clinical_columns(gbm))
    return [c for c in gbm.columns if c not in clinical]


def _check_layout(gbm: pd.DataFrame) -> None:
    """Which columns are genes is known only from where the clinical block starts."""
    if FIRST_CLINICAL_COLUMN not in gbm.columns:
        raise GBMDataError(
            f"The data{_in_file(gbm)} has no {FIRST_CLINICAL_COLUMN} column, so its "
            f"expression columns (those before {FIRST_CLINICAL_COLUMN}) cannot be "
            f"told from clinical ones. {LAYOUT_HINT}"
        )


def _check_sample_ids(gbm: pd.DataFrame) -> None:
    if "SAMPLE_ID" not in gbm.columns:
        return
    counts = gbm["SAMPLE_ID"].value_counts()
    repeated = counts[counts > 1]
    if len(repeated):
        shown = ", ".join(f"{s} ({n} rows)" for s, n in repeated.head(5).items())
        raise GBMDataError(
            f"SAMPLE_ID repeats{_in_file(gbm)}: {len(repeated)} sample(s) have more "
            f"than one row, e.g. {shown}. Each row must be one sample: remove "
            "repeated rows, or give different samples different IDs."
        )


def _first_cell(gbm: pd.DataFrame, mask: pd.DataFrame) -> str:
    row, column = np.argwhere(mask.to_numpy())[0]
    value = gbm[mask.columns[column]].iloc[row]
    shown = repr(value) if isinstance(value, str) else f"{float(value):g}"
    return f"{shown} in column {mask.columns[column]}, {_row_name(gbm, gbm.index[row])}"


def _check_expression_values(gbm: pd.DataFrame) -> None:
    """Expression columns hold numbers on a log2 scale (missing values allowed)."""
    genes = expression_columns(gbm)
    text_columns = gbm[genes].select_dtypes(exclude="number").columns
    if len(text_columns):
        text = gbm[text_columns]
        not_numbers = text.notna() & text.apply(pd.to_numeric, errors="coerce").isna()
        raise GBMDataError(
            f"{int(not_numbers.to_numpy().sum())} expression value(s){_in_file(gbm)} "
            f"are not numbers, e.g. {_first_cell(gbm, not_numbers)}. Expression "
            "values must be numbers; leave missing values empty (or NA)."
        )
    values = gbm[genes]
    infinite = pd.DataFrame(np.isinf(values.to_numpy()), columns=genes)
    if infinite.to_numpy().any():
        raise GBMDataError(
            f"{int(infinite.to_numpy().sum())} expression value(s){_in_file(gbm)} are "
            f"infinite, e.g. {_first_cell(gbm, infinite)}. Replace them with real "
            "values or leave them empty (missing)."
        )
    low, high = EXPRESSION_RANGE
    expected = (
        f"The tutorials expect log2(FPKM + 1) values from {low:g} to about {high:g} "
        "(the shipped table: 0 to 14; real exports of the study: about 6 to 27)"
    )
    if (values < low).to_numpy().any():
        below = pd.DataFrame((values < low).to_numpy(), columns=genes)
        raise GBMDataError(
            f"Expression values below {low:g}{_in_file(gbm)}, e.g. "
            f"{_first_cell(gbm, below)}. {expected}. Negative values suggest "
            "z-scores or log2(FPKM) without the + 1: use the FPKM file and "
            "build_gbm_from_cbioportal."
        )
    if (values > high).to_numpy().any():
        above = pd.DataFrame((values > high).to_numpy(), columns=genes)
        raise GBMDataError(
            f"Expression values up to {float(np.nanmax(values.to_numpy())):.6g}"
            f"{_in_file(gbm)}, e.g. {_first_cell(gbm, above)}: this looks like a "
            f"linear scale, not a log scale. {expected}. Apply log2(x + 1) "
            "(build_gbm_from_cbioportal does, unless given --already-log)."
        )


# --------------------------------------------------------------- cleaning


def _normalised(category: str) -> str:
    """Case and runs of spaces do not matter: 'current smoker:  includes ...'."""
    return " ".join(category.split()).casefold()


_CATEGORY_BY_NORMALISED = {_normalised(c): c for c in SMOKING_CATEGORIES}


def _unknown_categories_message(unknown: Sequence[str], where: str) -> str:
    known = "; ".join(repr(c) for c in SMOKING_CATEGORIES)
    return (
        f"{SMOKING_COLUMN}{where} has {len(unknown)} unrecognised value(s): "
        f"{', '.join(repr(u) for u in unknown)}. Known categories (case and "
        f"spacing may differ): {known}. Fix the spelling in the CSV, or add the "
        "category to SMOKING_CATEGORIES in tutorial_code/gbm_data.py with its "
        "0/1 label."
    )


def smoking_history(gbm: pd.DataFrame) -> pd.Series:
    """The SMOKING_HISTORY column with each value spelled as in
    SMOKING_CATEGORIES (case and spacing variants accepted; missing values,
    and cBioPortal's placeholders such as '[Not Available]', are missing); an
    unknown category is an error."""
    if SMOKING_COLUMN not in gbm.columns:
        raise GBMDataError(
            f"The data{_in_file(gbm)} has no {SMOKING_COLUMN} column, so there is "
            "no smoking label. Use a CSV built by build_gbm_from_cbioportal.py "
            "(clinical columns included) or the shipped synthetic file."
        )
    recorded = gbm[SMOKING_COLUMN].mask(gbm[SMOKING_COLUMN].isin(CBIOPORTAL_MISSING))
    history = recorded.map(
        lambda value: (
            _CATEGORY_BY_NORMALISED.get(_normalised(value), value)
            if isinstance(value, str)
            else value
        )
    )
    unknown = sorted({str(v) for v in history.dropna()} - set(SMOKING_CATEGORIES))
    if unknown:
        raise GBMDataError(_unknown_categories_message(unknown, _in_file(gbm)))
    return history


# --8<-- [start:label_smoking_status]
def label_smoking_status(gbm):
    """A new DataFrame: the rows of ``gbm`` with a smoking history,
    plus the 0/1 column LABEL."""
    history = smoking_history(gbm).dropna()
    labelled = gbm.loc[history.index]
    status = history.map(SMOKING_CATEGORIES).astype(int)
    return labelled.assign(**{LABEL: status})


# --8<-- [end:label_smoking_status]


def _absent_genes_message(gbm: pd.DataFrame, absent: Sequence[str]) -> str:
    columns = expression_columns(gbm)
    # Compared without case: 'egfr' is close to EGFR.
    by_folded = {column.casefold(): column for column in columns}
    hints = []
    for gene in absent:
        folded = difflib.get_close_matches(gene.casefold(), by_folded, 3, 0.6)
        close = [by_folded[f] for f in folded]
        if gene in gbm.columns:
            hints.append(f"{gene} (a clinical column, not a gene)")
        elif close:
            hints.append(f"{gene} (close: {', '.join(close)})")
        else:
            hints.append(f"{gene} (no similar column)")
    return (
        f"Gene(s) not in the expression columns{_in_file(gbm)}: {'; '.join(hints)}. "
        f"The genes come from ${GENES_ENV_VAR} or --genes (default: the five "
        "genes of the shipped table); name genes the table has, e.g. from "
        "`python -m tutorial_code.gbm_data --suggest-genes 10`."
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
                f"Column {gene}{_in_file(gbm)} holds {int(not_numbers.sum())} "
                f"non-numeric value(s), e.g. {gbm.at[first, gene]!r} in "
                f"{_row_name(gbm, first)}. Expression values must be numbers; "
                "leave missing values empty (or NA)."
            )
        numeric[gene] = values.astype(float)
    return pd.DataFrame(numeric, index=gbm.index)


def select_features(
    gbm: pd.DataFrame, genes: Sequence[str] | None = None
) -> tuple[pd.DataFrame, pd.Series]:
    """X (float gene columns) and y (LABEL); rows missing a gene are dropped.

    ``genes`` defaults to :func:`feature_genes` ($GBM_GENES, else the five).
    """
    genes = feature_genes() if genes is None else list(genes)
    absent = [g for g in genes if g not in expression_columns(gbm)]
    if absent:
        raise GBMDataError(_absent_genes_message(gbm, absent))
    if LABEL not in gbm.columns:
        raise GBMDataError(
            f"No {LABEL} column: call label_smoking_status(gbm) before select_features."
        )
    values = _as_numeric(gbm, genes)
    blank = [gene for gene in genes if len(values) and values[gene].isna().all()]
    if blank:
        raise GBMDataError(
            f"Gene column(s) {', '.join(blank)}{_in_file(gbm)} hold no value in "
            "any labelled row, so every sample would be dropped. Choose other "
            "genes (python -m tutorial_code.gbm_data --suggest-genes 10 lists "
            "candidates), or fill in the column."
        )
    X = values.dropna()
    X.attrs["source"] = gbm.attrs.get("source")  # for the split's messages
    y = gbm.loc[X.index, LABEL].astype(int)
    return X, y


def suggest_genes(gbm: pd.DataFrame, n: int = 10) -> pd.Series:
    """The ``n`` expression columns whose values vary most (standard deviation),
    most variable first: candidates for $GBM_GENES. The label plays no part."""
    genes = expression_columns(gbm)
    if n < 1:
        raise GBMDataError(f"Ask for at least one gene (got {n}).")
    spread = gbm[genes].std().dropna().sort_values(ascending=False, kind="stable")
    return spread.head(n).rename("standard deviation")


def gene_not_in_use(gbm: pd.DataFrame, prefer: str) -> str:
    """A gene column that :func:`feature_genes` leaves out: ``prefer`` if the
    table has it, else the table's first such column."""
    unused = [g for g in expression_columns(gbm) if g not in feature_genes()]
    if not unused:
        raise GBMDataError(
            f"Every gene column{_in_file(gbm)} is already in use "
            f"({', '.join(feature_genes())}), so there is none to add. Set "
            "GBM_GENES to fewer genes, or use a table with more gene columns."
        )
    return prefer if prefer in unused else unused[0]


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


def _check_splittable(y: pd.Series, test_size: float, where: str) -> None:
    counts = y.value_counts()
    if len(counts) == 1:
        only = int(counts.index[0])
        raise GBMDataError(
            f"Only one class is left after cleaning{where} ({LABEL} = {only} for "
            f"all {len(y)} rows), so there is nothing to classify. Check "
            f"{SMOKING_COLUMN} in the CSV: both smokers and non-smokers are needed."
        )
    needed = _min_rows_to_split(test_size)
    if len(y) < needed or (counts < 2).any():
        n_smokers, n_others = int(counts.get(1, 0)), int(counts.get(0, 0))
        raise GBMDataError(
            f"Too few rows to split{where}: after cleaning there are {n_others} "
            f"non-smoker(s) and {n_smokers} smoker(s). A stratified split with "
            f"test_size={test_size} needs at least {needed} rows and at least 2 "
            "of each class (one for the training rows, one for the test rows); "
            "use a larger data file."
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
    where = _in_file(X)
    if len(y) == 0:
        raise GBMDataError(
            f"No rows left after cleaning{where}: every row lacked a smoking "
            "history or a selected gene value. Check the CSV (see cleaning_report)."
        )
    _check_splittable(y, test_size, where)
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
    """How many rows each cleaning step removed, and which lines were malformed."""

    rows_read: int
    missing_smoking_history: int
    missing_selected_gene: int
    rows_kept: int
    malformed_lines: list[int] = field(default_factory=list)
    # first line -> "short", "long" or the last line of a run-on record
    malformed_kinds: dict[int, str | int] = field(default_factory=dict)
    source: str = ""

    @property
    def malformed_skipped(self) -> int:
        return len(self.malformed_lines)

    def __str__(self) -> str:
        lines = [
            ("malformed rows skipped", self.malformed_skipped),
            ("rows read", self.rows_read),
            ("dropped: no SMOKING_HISTORY", self.missing_smoking_history),
            ("dropped: missing a selected gene", self.missing_selected_gene),
            ("rows kept", self.rows_kept),
        ]
        width = max(len(name) for name, _ in lines)
        text = "\n".join(f"{name:<{width}}  {count:>5}" for name, count in lines)
        if self.malformed_lines:
            text += "\n" + self.malformed_note()
        return text

    def malformed_note(self) -> str:
        """Which lines were skipped, and the likely cause of each kind."""
        kind = self.malformed_kinds
        short = [n for n in self.malformed_lines if kind.get(n) == "short"]
        long = [n for n in self.malformed_lines if kind.get(n) == "long"]
        run_on = [n for n in self.malformed_lines if isinstance(kind.get(n), int)]
        kinds = []
        if short:
            kinds.append(
                f"{len(short)} cut short (fewer fields than the header, as an "
                f"interrupted export or copy leaves them) at line(s) "
                f"{_line_list(short)}"
            )
        if long:
            kinds.append(
                f"{len(long)} with more fields than the header (usually an "
                f"unquoted comma inside a value) at line(s) {_line_list(long)}"
            )
        if run_on:
            spans = [f"{n}-{kind[n]}" for n in run_on]
            kinds.append(
                f"{len(run_on)} running on over several lines (a quote opened "
                "and not closed on its line, as when a line is cut short inside "
                f"a quoted value) at lines {_line_list(spans)}"
            )
        return (
            f"note: skipped {self.malformed_skipped} malformed row(s) of "
            f"{Path(self.source).name or 'the CSV'}: {'; '.join(kinds)}. Fix those "
            "lines, or export the table again (pandas.to_csv quotes values that "
            "hold commas)."
        )


def cleaning_report(
    gbm: pd.DataFrame, genes: Sequence[str] | None = None
) -> CleaningReport:
    """Run the cleaning steps on a loaded frame and count what each removed."""
    labelled = label_smoking_status(gbm)
    X, _ = select_features(labelled, genes)
    return CleaningReport(
        rows_read=len(gbm),
        missing_smoking_history=len(gbm) - len(labelled),
        missing_selected_gene=len(labelled) - len(X),
        rows_kept=len(X),
        malformed_lines=list(gbm.attrs.get("malformed_lines", [])),
        malformed_kinds=dict(gbm.attrs.get("malformed_kinds", {})),
        source=gbm.attrs.get("source", ""),
    )


# ------------------------------------------------------------- scripts


def script_parser(description: str | None = None) -> argparse.ArgumentParser:
    """The options every tutorial module takes on its command line."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--data",
        metavar="PATH",
        help=f"GBM CSV to use (default: ${DATA_ENV_VAR}, else {SHIPPED_DATA.name})",
    )
    parser.add_argument(
        "--genes",
        metavar="G1,G2,...",
        help=f"feature genes, comma-separated (default: ${GENES_ENV_VAR}, else "
        f"{','.join(DEFAULT_GENES)})",
    )
    return parser


def use_script_options(args: argparse.Namespace) -> None:
    """--data and --genes set $GBM_DATA and $GBM_GENES, which every module reads."""
    if args.data:
        os.environ[DATA_ENV_VAR] = args.data
    if args.genes is not None:
        os.environ[GENES_ENV_VAR] = args.genes


def exit_on_data_error(story: Callable[[], object]) -> None:
    """Run ``story``; a GBMDataError becomes one ``error: ...`` line, status 2."""
    try:
        feature_genes()  # a malformed gene list fails before any work is done
        story()
    except GBMDataError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def run_as_script(
    main: Callable[[], object], argv: Sequence[str] | None = None
) -> None:
    """Entry point of every tutorial module: ``--data PATH``, ``--genes G1,G2``."""
    use_script_options(script_parser().parse_args(argv))
    exit_on_data_error(main)


def print_gene_suggestions(n: int) -> None:
    suggestions = suggest_genes(load_gbm(), n)
    print(suggestions.round(3).to_string())
    print(f"\n{GENES_ENV_VAR}={','.join(suggestions.index)}")


def script(argv: Sequence[str] | None = None) -> None:
    """This module's command line: the page's story, or --suggest-genes N."""
    parser = script_parser(description="Load, clean and split the GBM table.")
    parser.add_argument(
        "--suggest-genes",
        type=int,
        metavar="N",
        help="print the N most variable genes of the table (candidates for "
        f"${GENES_ENV_VAR}) instead of the story",
    )
    args = parser.parse_args(argv)
    use_script_options(args)
    if args.suggest_genes is None:
        exit_on_data_error(main)
    else:
        exit_on_data_error(lambda: print_gene_suggestions(args.suggest_genes))


def main() -> None:
    # --8<-- [start:load]
    from tutorial_code.gbm_data import load_gbm

    gbm = load_gbm()
    print(f"{gbm.shape[0]} samples x {gbm.shape[1]} columns")
    # --8<-- [end:load]

    # --8<-- [start:clinical]
    from tutorial_code.gbm_data import clinical_columns

    clinical = gbm[clinical_columns(gbm)]
    columns = ", ".join(clinical.columns)
    print(f"{clinical.shape[1]} clinical columns: {columns}")
    first_rows = clinical.drop(columns="SMOKING_HISTORY").head()
    print(first_rows.to_string(index=False))
    # --8<-- [end:clinical]

    # --8<-- [start:smoking_counts]
    from tutorial_code.gbm_data import smoking_history

    print(smoking_history(gbm).value_counts(dropna=False).to_string())
    # --8<-- [end:smoking_counts]

    # --8<-- [start:label]
    from tutorial_code.gbm_data import LABEL

    labelled = label_smoking_status(gbm)
    counts = labelled[LABEL].value_counts().sort_index()
    print(counts.rename({0: "0 (non-smoker)", 1: "1 (smoker)"}).to_string())
    # --8<-- [end:label]

    # --8<-- [start:solution_count_by_hand]
    recorded = smoking_history(gbm).value_counts()  # missing ones left out
    smokers_by_hand = 0
    for category, n in recorded.items():
        if SMOKING_CATEGORIES[category] == 1:
            smokers_by_hand += n
    non_smokers_by_hand = recorded.sum() - smokers_by_hand
    print("smokers by hand:", smokers_by_hand, end="  ")
    print("non-smokers:", non_smokers_by_hand)
    # --8<-- [end:solution_count_by_hand]

    # --8<-- [start:report]
    from tutorial_code.gbm_data import cleaning_report

    report = cleaning_report(gbm)
    print(report)
    # --8<-- [end:report]

    # --8<-- [start:genes]
    from tutorial_code.gbm_data import feature_genes

    genes = feature_genes()  # $GBM_GENES or --genes, else the default five
    print(f"{len(genes)} feature genes: {', '.join(genes)}")
    # --8<-- [end:genes]

    # --8<-- [start:features]
    from tutorial_code.gbm_data import select_features

    X, y = select_features(labelled, genes)
    print(f"X: {X.shape}, y: {y.shape}, smokers: {y.mean():.0%}")
    # --8<-- [end:features]

    # --8<-- [start:split]
    from tutorial_code.gbm_data import split_and_scale

    split = split_and_scale(X, y)
    for name, labels in [("train", split.y_train), ("test", split.y_test)]:
        print(f"{name}: {len(labels)} rows, {int(labels.sum())} smokers")
    print("scaler means (train rows):", split.scaler.mean_.round(2))
    # --8<-- [end:split]

    # --8<-- [start:prevalence]
    prevalence = y.mean()  # the share of smokers: y is 1 for a smoker
    print(f"smokers: {y.sum()} of {len(y)} samples")
    print(f"prevalence: {prevalence:.1%}")
    # --8<-- [end:prevalence]

    # --8<-- [start:majority_baseline]
    import pandas as pd

    larger = 1 if prevalence > 0.5 else 0  # the larger class
    guess = pd.Series(larger, index=y.index)  # the same answer for everyone
    baseline_accuracy = (guess == y).mean()
    recall = {}  # a class's recall: the share of its samples guessed right
    for label in (0, 1):
        recall[label] = (guess[y == label] == label).mean()
    baseline_balanced = (recall[0] + recall[1]) / 2
    print(f"always answering {larger}: accuracy {baseline_accuracy:.1%}")
    print(f"recall of non-smokers {recall[0]:.0%}, of smokers {recall[1]:.0%}")
    print(f"balanced accuracy (the mean of the two): {baseline_balanced:.0%}")
    # --8<-- [end:majority_baseline]

    # --8<-- [start:solution_other_rule]
    # Smoked in the last 15 years: long-ago quitters become 0.
    recent_rule = dict(SMOKING_CATEGORIES)
    recent_rule["Current reformed smoker, more than 15 years"] = 0
    recent = smoking_history(gbm).map(recent_rule).dropna().astype(int)
    print(recent.value_counts().sort_index().to_string())
    recent_share = recent.mean()  # the share of smokers
    ever_share = labelled[LABEL].mean()
    shares = {"ever smoked": ever_share, "recently": recent_share}
    for rule, share in shares.items():
        larger_share = max(share, 1 - share)
        print(f"{rule}: {share:.0%} smokers, larger class {larger_share:.0%}")
    # --8<-- [end:solution_other_rule]

    show_ceiling()

    # --8<-- [start:suggest_genes]
    from tutorial_code.gbm_data import suggest_genes

    candidates = suggest_genes(gbm, 10)
    print(candidates.round(2).to_string())
    # --8<-- [end:suggest_genes]

    # --8<-- [start:solution_variable_genes]
    ranking = suggest_genes(gbm, len(gbm.columns))  # every gene, ranked
    rank = {gene: i + 1 for i, gene in enumerate(ranking.index)}
    for gene in genes:
        print(f"{gene:<10} rank {rank[gene]:>2} of {len(rank)}")
    in_top_ten = [gene for gene in genes if rank[gene] <= 10]
    print("among the ten most variable:", ", ".join(in_top_ten) or "none")
    # --8<-- [end:solution_variable_genes]


if __name__ == "__main__":
    script()
