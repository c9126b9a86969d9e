"""Generated GBM tables for tests and measurements, at any size, from a seed.

- ``write_cbioportal_study``: a study folder in cBioPortal's formats (what
  ``build_gbm_from_cbioportal`` reads), realistic in size and in its quirks:
  ``Entrez_Gene_Id``, rows without a Hugo symbol, symbols on two rows, ``NA``
  values, ``#`` header lines, sample IDs that are not the patient IDs.
- ``write_project_table``: a CSV in the tutorials' layout with any number of
  samples, for timing the tutorials on large tables; optionally with a given
  share of smokers, rows without a smoking history, blank gene values and
  malformed lines, as real exports have them.
- ``FUZZ_TABLES``: the two tables, written by ``write_project_table``, on which
  ``tests/fuzz_pages.py`` runs every tutorial page (10-60 % smokers, 30-2,000
  samples, 2-8 genes, with and without the default genes).

Nothing here is committed as data: the files are written when needed.
Run ``python tests/gbm_tables.py --help`` to write one by hand.
"""

from __future__ import annotations

import argparse
import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

SMOKING = [
    "Lifelong non-smoker: Less than 100 cigarettes smoked in lifetime",
    "Current smoker: Includes daily and non-daily smokers",
    "Current reformed smoker within past 15 years",
    "Current reformed smoker, more than 15 years",
]
SMOKING_PROBS = [0.5, 0.2, 0.15, 0.15]
# Named genes (GBM drivers) among the generated symbols; the first three carry
# a smoking effect so a model has something to find.
NAMED_GENES = ["EGFR", "PTEN", "TP53", "IDH1", "MGMT", "CDKN2A", "NF1", "PDGFRA"]
SIGNAL_GENES = NAMED_GENES[:3]


def gene_symbols(n_genes: int) -> list[str]:
    numbered = [f"GENE{k:05d}" for k in range(n_genes - len(NAMED_GENES))]
    return NAMED_GENES + numbered


def patient_ids(n: int) -> list[str]:
    return [f"C3{'LN'[k % 2]}-{k:05d}" for k in range(n)]


def smoking_histories(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.choice(SMOKING, size=n, p=SMOKING_PROBS)


def log_expression(
    rng: np.random.Generator, n_genes: int, is_smoker: np.ndarray
) -> np.ndarray:
    """genes x samples, log2(FPKM + 1)-like values in [0, 14]."""
    means = rng.uniform(1.0, 10.0, size=(n_genes, 1))
    values = means + rng.normal(0.0, 1.0, size=(n_genes, len(is_smoker)))
    values[: len(SIGNAL_GENES)] += 0.9 * is_smoker
    return np.clip(values, 0.0, 14.0)


def write_table(frame: pd.DataFrame, path: Path, comment_lines: int = 0) -> None:
    """Tab-separated, after ``comment_lines`` '#' lines as cBioPortal writes them."""
    header = "\t".join(map(str, frame.columns))
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for kind in ["Name", "Description", "STRING", "1"][:comment_lines]:
            handle.write("#" + "\t".join(kind for _ in frame.columns) + "\n")
        handle.write(header + "\n")
        frame.to_csv(handle, sep="\t", index=False, header=False, lineterminator="\n")


def write_cbioportal_study(
    folder: Path, n_genes: int = 20_000, n_samples: int = 100, seed: int = 11
) -> Path:
    """Write the three study files the builder reads into ``folder``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    patients = patient_ids(n_samples)
    samples = [f"{p}-T" for p in patients]  # sample IDs differ from patient IDs
    smoking = smoking_histories(rng, n_samples)
    is_smoker = (smoking != SMOKING[0]).astype(float)

    fpkm = 2 ** log_expression(rng, n_genes, is_smoker) - 1
    symbols = np.array(gene_symbols(n_genes), dtype=object)
    symbols[rng.choice(np.arange(len(NAMED_GENES), n_genes), 40, replace=False)] = ""
    duplicated = rng.choice(np.arange(len(NAMED_GENES), n_genes), 30, replace=False)
    symbols[duplicated] = symbols[duplicated - 1]  # a symbol on two rows
    expression = pd.DataFrame(fpkm.round(3), columns=samples)
    expression[expression.columns[:5]] = expression[expression.columns[:5]].mask(
        rng.random((n_genes, 5)) < 0.001
    )  # a few NA values
    expression.insert(0, "Entrez_Gene_Id", np.arange(1, n_genes + 1) * 7)
    expression.insert(0, "Hugo_Symbol", symbols)
    write_table(expression, folder / "data_mrna_seq_fpkm.txt")

    smoking = smoking.astype(object)
    smoking[:3] = "[Not Available]"
    patient = pd.DataFrame(
        {
            "PATIENT_ID": patients,
            "AGE": rng.integers(25, 85, size=n_samples),
            "SEX": rng.choice(["Male", "Female"], size=n_samples),
            "SMOKING_HISTORY": smoking,
        }
    )
    write_table(patient, folder / "data_clinical_patient.txt", comment_lines=4)
    sample = pd.DataFrame(
        {
            "PATIENT_ID": patients,
            "SAMPLE_ID": samples,
            "TUMOR_SITE": rng.choice(["Frontal lobe", "Temporal lobe"], n_samples),
        }
    )
    write_table(sample, folder / "data_clinical_sample.txt", comment_lines=4)
    return folder


def exact_smoking(rng: np.random.Generator, n: int, smoker_share: float) -> np.ndarray:
    """Histories of which exactly round(smoker_share * n) are smokers (of any
    of the three smoker categories), in random order."""
    n_smokers = round(smoker_share * n)
    smokers = rng.choice(SMOKING[1:], size=n_smokers)
    histories = np.concatenate([smokers, np.full(n - n_smokers, SMOKING[0])])
    return rng.permutation(histories)


def project_table(
    n_samples: int,
    genes: list[str],
    seed: int = 11,
    smoker_share: float | None = None,
    missing_labels: int = 0,
    missing_values: int = 0,
    blank_gene: str | None = None,
) -> pd.DataFrame:
    """A table in the tutorials' layout: expression columns, then clinical ones.

    Smokers are drawn at random (about half), or are exactly ``smoker_share``
    of the labelled rows. The first three gene columns carry a smoking effect.
    ``missing_labels`` rows get no smoking history and ``missing_values`` rows
    a blank value in ``blank_gene`` (default: the first gene column).
    """
    rng = np.random.default_rng(seed)
    if smoker_share is None:
        smoking = smoking_histories(rng, n_samples)
    else:
        labelled = exact_smoking(rng, n_samples - missing_labels, smoker_share)
        smoking = rng.permutation(np.append(labelled, [""] * missing_labels))
    is_smoker = np.isin(smoking, SMOKING[1:]).astype(float)
    values = log_expression(rng, len(genes), is_smoker).T.round(4)
    ids = patient_ids(n_samples)
    clinical = pd.DataFrame(
        {
            "PATIENT_ID": ids,
            "SAMPLE_ID": [f"{p}-T" for p in ids],
            "AGE": rng.integers(25, 85, size=n_samples),
            "SEX": rng.choice(["Male", "Female"], size=n_samples),
            "SMOKING_HISTORY": pd.Series(smoking, dtype=object).replace("", None),
        }
    )
    table = pd.concat([pd.DataFrame(values, columns=genes), clinical], axis=1)
    if missing_values:
        rows = rng.choice(n_samples, size=missing_values, replace=False)
        table.loc[rows, blank_gene or genes[0]] = np.nan
    return table


def csv_lines(table: pd.DataFrame, n_genes: int) -> list[str]:
    """The lines pandas' to_csv writes for a table whose first n_genes
    columns are numbers, four times faster on a wide table (pandas formats
    it column by column: 3.7 s for 60,000 genes): Python's repr of a float
    is what pandas writes, and a blank for a missing value."""
    clinical = table.iloc[:, n_genes:].to_csv(index=False, lineterminator="\n")
    numbers = (
        [",".join(map(str, table.columns[:n_genes]))]
        + [
            ",".join("" if v != v else repr(v) for v in row)  # v != v: NaN
            for row in table.iloc[:, :n_genes].to_numpy().tolist()
        ]
    )
    return [f"{a},{b}" for a, b in zip(numbers, clinical.splitlines(), strict=True)]


def write_project_table(
    path: Path,
    n_samples: int,
    genes: list[str],
    seed: int = 11,
    malformed: int = 0,
    **options,
) -> Path:
    """The table as CSV; ``malformed`` more lines are added that the loader
    must skip: half cut short (their last field lost), half with an unquoted
    comma inside a value (a field too many). ``options`` go to project_table."""
    table = project_table(n_samples + malformed, genes, seed, **options)
    lines = csv_lines(table, len(genes))
    bad = np.random.default_rng(seed).choice(
        np.arange(1, len(lines)), size=malformed, replace=False
    )
    for k, line in enumerate(bad):
        if k % 2:  # a field too many
            lines[line] += ",extra"
        else:  # the last field lost, quoted or not
            fields = next(csv.reader([lines[line]]))[:-1]
            out = io.StringIO()
            csv.writer(out, lineterminator="").writerow(fields)
            lines[line] = out.getvalue()
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class FuzzTable:
    """A generated table and the genes the tutorials are pointed to on it
    (``genes=None``: GBM_GENES unset, the five default genes)."""

    name: str
    samples: int  # well-formed rows
    smoker_share: float  # of the labelled rows
    columns: tuple[str, ...]  # the table's gene columns
    genes: tuple[str, ...] | None
    malformed: int = 0
    missing_labels: int = 0
    missing_values: int = 0
    blank_gene: str | None = None
    seed: int = 5
    # Built as a whole site, strictly, as an instructor builds it (the test
    # session's build), instead of page by page (tests/fuzz_pages.py).
    built: bool = False

    def write(self, folder: Path) -> Path:
        return write_project_table(
            folder / f"{self.name}.csv",
            self.samples,
            list(self.columns),
            seed=self.seed,
            malformed=self.malformed,
            smoker_share=self.smoker_share,
            missing_labels=self.missing_labels,
            missing_values=self.missing_values,
            blank_gene=self.blank_gene,
        )

    def env(self, path: Path) -> dict[str, str]:
        """GBM_DATA and GBM_GENES for the tutorials on this table."""
        return {"GBM_DATA": str(path), "GBM_GENES": ",".join(self.genes or ())}


DEFAULT_GENES = ["LINC00159", "EFTUD1P1", "C20orf202", "KRT17P8", "RPL7L1P9"]
# Two tables (each costs every page's run, the larger one most of the test
# session's time) that together span the range a user's table may have: 10 to
# 60 % smokers, 30 to 2,000 samples, 2 to 8 feature genes set with GBM_GENES,
# the default genes absent or mixed with others; malformed lines, missing
# labels and blank gene values. (The shipped table covers the default genes
# with GBM_GENES unset.) The first is also the site a strict build must make
# on a table with few smokers: the test session builds the whole site on it.
FUZZ_TABLES = [
    FuzzTable(
        "few_smokers_30_samples_8_other_genes",
        samples=30,
        smoker_share=0.1,
        columns=tuple(gene_symbols(12)),
        genes=tuple(NAMED_GENES),
        built=True,
    ),
    FuzzTable(
        "most_smokers_2000_samples_2_mixed_genes_messy",
        samples=2000,
        smoker_share=0.6,
        columns=tuple(["EGFR", "PTEN"] + DEFAULT_GENES + ["TP53", "IDH1", "MGMT"]),
        genes=("EGFR", "LINC00159"),
        malformed=6,
        missing_labels=40,
        missing_values=10,
        blank_gene="KRT17P8",
    ),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="kind", required=True)
    study = sub.add_parser("study", help="a cBioPortal-format study folder")
    study.add_argument("folder", type=Path)
    study.add_argument("--genes", type=int, default=20_000)
    study.add_argument("--samples", type=int, default=100)
    table = sub.add_parser("table", help="a CSV in the tutorials' layout")
    table.add_argument("out", type=Path)
    table.add_argument("--samples", type=int, required=True)
    table.add_argument(
        "--genes",
        default="LINC00159,EFTUD1P1,C20orf202,KRT17P8,RPL7L1P9",
        help="comma-separated gene columns",
    )
    args = parser.parse_args(argv)
    if args.kind == "study":
        write_cbioportal_study(args.folder, args.genes, args.samples)
    else:
        write_project_table(args.out, args.samples, args.genes.split(","))


if __name__ == "__main__":
    main()
