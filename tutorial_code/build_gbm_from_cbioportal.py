"""Build gbm_data.csv from the cBioPortal files of study gbm_cptac_2021.

Download and unpack the study archive yourself, then::

    python -m tutorial_code.build_gbm_from_cbioportal STUDY_DIR --out PATH

STUDY_DIR must hold data_mrna_seq_fpkm.txt (genes as rows, one column per
sample), data_clinical_patient.txt and data_clinical_sample.txt. The output has
one row per sample: log2(FPKM + 1) expression columns, then the clinical
columns (PATIENT_ID, SAMPLE_ID, patient attributes, sample attributes), written
as a properly quoted CSV that tutorial_code.gbm_data.load_gbm reads.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from difflib import get_close_matches
from pathlib import Path

import numpy as np
import pandas as pd

from tutorial_code.data_paths import CBIOPORTAL_MISSING, GBMDataError, parse_genes

EXPRESSION_FILE = "data_mrna_seq_fpkm.txt"
PATIENT_FILE = "data_clinical_patient.txt"
SAMPLE_FILE = "data_clinical_sample.txt"
GENE_COLUMN = "Hugo_Symbol"
GENE_ANNOTATION_COLUMNS = {"Hugo_Symbol", "Entrez_Gene_Id", "Cytoband"}
# Linear FPKM values routinely exceed this; log2(FPKM + 1) values rarely do.
LOG_SCALE_MAX_HINT = 30.0

Note = Callable[[str], None]


def study_file(study_dir: Path, name: str) -> Path:
    path = Path(study_dir) / name
    if not path.is_file():
        raise GBMDataError(
            f"{name} not found in {study_dir}. Download the cBioPortal study "
            "archive of gbm_cptac_2021, unpack it, and pass the unpacked folder "
            "(the one holding data_mrna_seq_fpkm.txt, data_clinical_patient.txt "
            "and data_clinical_sample.txt) as STUDY_DIR."
        )
    return path


def count_comment_lines(path: Path) -> int:
    """Number of leading '#' metadata lines before the header row."""
    count = 0
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.startswith("#"):
                break
            count += 1
    return count


def read_cbioportal_table(path: Path, **read_csv_args) -> pd.DataFrame:
    """A tab-separated cBioPortal file, skipping its leading '#' lines."""
    return pd.read_csv(
        path,
        sep="\t",
        skiprows=count_comment_lines(path),
        na_values=CBIOPORTAL_MISSING,
        **read_csv_args,
    )


def require_columns(table: pd.DataFrame, columns: Sequence[str], path: Path) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise GBMDataError(
            f"{path.name} has no column(s) {', '.join(missing)} (its header: "
            f"{', '.join(map(str, table.columns[:8]))}"
            f"{', ...' if len(table.columns) > 8 else ''}). Is this the file "
            "from the gbm_cptac_2021 study archive?"
        )


# ------------------------------------------------------------ expression


def drop_rows_without_symbol(genes: pd.DataFrame, note: Note) -> pd.DataFrame:
    symbols = genes[GENE_COLUMN].astype("string").str.strip()
    has_symbol = symbols.notna() & (symbols != "")
    if not has_symbol.all():
        note(f"dropped {int((~has_symbol).sum())} row(s) without a Hugo_Symbol")
    return genes.loc[has_symbol].assign(**{GENE_COLUMN: symbols[has_symbol]})


def keep_strongest_duplicate(
    genes: pd.DataFrame, sample_ids: list[str], note: Note
) -> pd.DataFrame:
    """Keep one row per symbol: the one with the highest mean expression."""
    duplicated = genes[GENE_COLUMN].duplicated(keep=False)
    if not duplicated.any():
        return genes
    n_symbols = genes.loc[duplicated, GENE_COLUMN].nunique()
    mean = genes[sample_ids].mean(axis=1)
    kept = (
        genes.assign(_mean=mean)
        .sort_values("_mean", ascending=False, kind="stable")
        .drop_duplicates(GENE_COLUMN, keep="first")
        .sort_index()
        .drop(columns="_mean")
    )
    note(
        f"{n_symbols} Hugo_Symbol(s) appeared on more than one row; kept the row "
        f"with the highest mean expression for each (dropped {len(genes) - len(kept)})"
    )
    return kept


def numeric_values(genes: pd.DataFrame, sample_ids: list[str]) -> pd.DataFrame:
    values = genes[sample_ids].apply(pd.to_numeric, errors="coerce")
    bad = values.isna() & genes[sample_ids].notna()
    if bad.to_numpy().any():
        row, column = np.argwhere(bad.to_numpy())[0]
        raise GBMDataError(
            f"{EXPRESSION_FILE} holds {int(bad.to_numpy().sum())} non-numeric "
            f"value(s), e.g. {genes[sample_ids].iat[row, column]!r} for gene "
            f"{genes[GENE_COLUMN].iat[row]} in sample {sample_ids[column]}. "
            "Check that the file is the unmodified study download."
        )
    return values


def to_log_scale(values: pd.DataFrame, already_log: bool, note: Note) -> pd.DataFrame:
    if already_log:
        note("--already-log given: expression values used as they are (no log2)")
        return values
    if (values < 0).to_numpy().any():
        raise GBMDataError(
            f"{EXPRESSION_FILE} has negative values, so it is not linear FPKM "
            "and log2(x + 1) would fail. It is probably log-scaled already: "
            "rerun with --already-log."
        )
    if values.max().max() <= LOG_SCALE_MAX_HINT:
        note(
            f"the largest value is {values.max().max():.1f}; linear FPKM is "
            "usually far larger. If the file is already log-scaled, rerun with "
            "--already-log"
        )
    note("applied log2(FPKM + 1)")
    return np.log2(values + 1)


def read_expression(
    path: Path, already_log: bool = False, note: Note = print
) -> pd.DataFrame:
    """Samples as rows, genes as columns, log2(FPKM + 1) values."""
    genes = read_cbioportal_table(path)
    require_columns(genes, [GENE_COLUMN], path)
    sample_ids = [c for c in genes.columns if c not in GENE_ANNOTATION_COLUMNS]
    if not sample_ids:
        raise GBMDataError(f"{path.name} has no sample columns after {GENE_COLUMN}.")
    genes = drop_rows_without_symbol(genes, note)
    genes = genes[[GENE_COLUMN]].join(numeric_values(genes, sample_ids))
    genes = keep_strongest_duplicate(genes, sample_ids, note)
    values = to_log_scale(genes[sample_ids], already_log, note)
    expression = values.set_axis(genes[GENE_COLUMN].to_list(), axis=0).T
    expression.index.name = "SAMPLE_ID"
    return expression.round(4)


def keep_genes(expression: pd.DataFrame, genes: Sequence[str]) -> pd.DataFrame:
    absent = [g for g in genes if g not in expression.columns]
    if absent:
        hints = [
            f"{g} (close: {', '.join(get_close_matches(g, expression.columns)) or '-'})"
            for g in absent
        ]
        raise GBMDataError(
            f"Gene(s) not in {EXPRESSION_FILE}: {'; '.join(hints)}. "
            "Fix the --genes list."
        )
    return expression[list(genes)]


# -------------------------------------------------------------- clinical


def read_clinical(study_dir: Path, note: Note = print) -> pd.DataFrame:
    """One row per sample: PATIENT_ID, SAMPLE_ID, patient then sample columns."""
    patient_path = study_file(study_dir, PATIENT_FILE)
    sample_path = study_file(study_dir, SAMPLE_FILE)
    patients = read_cbioportal_table(patient_path)
    samples = read_cbioportal_table(sample_path)
    require_columns(patients, ["PATIENT_ID"], patient_path)
    require_columns(samples, ["PATIENT_ID", "SAMPLE_ID"], sample_path)
    unknown = ~samples["PATIENT_ID"].isin(patients["PATIENT_ID"])
    if unknown.any():
        note(
            f"{int(unknown.sum())} sample(s) have a PATIENT_ID missing from "
            f"{PATIENT_FILE}; their patient columns are left empty"
        )
    clinical = samples.merge(
        patients, on="PATIENT_ID", how="left", suffixes=("_SAMPLE", "")
    )
    first = ["PATIENT_ID", "SAMPLE_ID"]
    patient_columns = [c for c in patients.columns if c not in first]
    rest = [c for c in clinical.columns if c not in first + patient_columns]
    clinical = clinical[first + patient_columns + rest]
    return clinical.set_axis(clinical["SAMPLE_ID"].to_list(), axis=0)


# ---------------------------------------------------------------- build


def join_expression_and_clinical(
    expression: pd.DataFrame, clinical: pd.DataFrame, note: Note = print
) -> pd.DataFrame:
    clashes = sorted(set(expression.columns) & set(clinical.columns))
    if clashes:
        raise GBMDataError(
            f"Gene and clinical column names clash: {', '.join(clashes)}. "
            "Drop those genes with --genes."
        )
    known = expression.index.isin(clinical.index)
    if not known.all():
        note(
            f"dropped {int((~known).sum())} expression sample(s) missing from "
            f"{SAMPLE_FILE}"
        )
    expression = expression.loc[known]
    not_profiled = len(clinical) - len(expression)
    if not_profiled:
        note(f"{not_profiled} clinical sample(s) have no expression data (left out)")
    table = expression.join(clinical, how="left")
    return table.reset_index(drop=True)


def build_gbm_table(
    study_dir: Path,
    already_log: bool = False,
    genes: Sequence[str] | None = None,
    note: Note = print,
) -> pd.DataFrame:
    """The tutorial CSV's content from an unpacked cBioPortal study folder."""
    study_dir = Path(study_dir)
    if not study_dir.is_dir():
        raise GBMDataError(
            f"Study folder not found: {study_dir}. Unpack the gbm_cptac_2021 "
            "archive from cBioPortal and pass that folder."
        )
    expression = read_expression(
        study_file(study_dir, EXPRESSION_FILE), already_log, note
    )
    if genes:
        expression = keep_genes(expression, genes)
    clinical = read_clinical(study_dir, note)
    return join_expression_and_clinical(expression, clinical, note)


def write_gbm_csv(table: pd.DataFrame, out: Path) -> None:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # pandas quotes fields with commas ("Current reformed smoker, more than ...")
    table.to_csv(out, index=False, lineterminator="\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Build the tutorial GBM CSV from cBioPortal study files."
    )
    parser.add_argument("study_dir", type=Path, help="unpacked gbm_cptac_2021 folder")
    parser.add_argument("--out", type=Path, required=True, help="CSV to write")
    parser.add_argument(
        "--already-log",
        action="store_true",
        help="the expression file is log-scaled already: skip log2(x + 1)",
    )
    parser.add_argument(
        "--genes",
        help="comma-separated genes to keep (default: all genes)",
    )
    args = parser.parse_args(argv)
    try:
        genes = parse_genes(args.genes, "--genes") if args.genes else None
        table = build_gbm_table(args.study_dir, args.already_log, genes)
    except GBMDataError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    write_gbm_csv(table, args.out)
    print(f"wrote {len(table)} samples x {table.shape[1]} columns to {args.out}")


if __name__ == "__main__":
    main()
