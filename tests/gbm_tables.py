"""Generated GBM tables for tests and measurements, at any size, from a seed.

- ``write_cbioportal_study``: a study folder in cBioPortal's formats (what
  ``build_gbm_from_cbioportal`` reads), realistic in size and in its quirks:
  ``Entrez_Gene_Id``, rows without a Hugo symbol, symbols on two rows, ``NA``
  values, ``#`` header lines, sample IDs that are not the patient IDs.
- ``write_project_table``: a CSV in the tutorials' layout with any number of
  samples, for timing the tutorials on large tables.

Nothing here is committed as data: the files are written when needed.
Run ``python tests/gbm_tables.py --help`` to write one by hand.
"""

from __future__ import annotations

import argparse
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


def project_table(n_samples: int, genes: list[str], seed: int = 11) -> pd.DataFrame:
    """A table in the tutorials' layout: expression columns, then clinical ones."""
    rng = np.random.default_rng(seed)
    smoking = smoking_histories(rng, n_samples)
    is_smoker = (smoking != SMOKING[0]).astype(float)
    values = log_expression(rng, len(genes), is_smoker).T.round(4)
    ids = patient_ids(n_samples)
    clinical = pd.DataFrame(
        {
            "PATIENT_ID": ids,
            "SAMPLE_ID": [f"{p}-T" for p in ids],
            "AGE": rng.integers(25, 85, size=n_samples),
            "SEX": rng.choice(["Male", "Female"], size=n_samples),
            "SMOKING_HISTORY": smoking,
        }
    )
    return pd.concat([pd.DataFrame(values, columns=genes), clinical], axis=1)


def write_project_table(
    path: Path, n_samples: int, genes: list[str], seed: int = 11
) -> Path:
    project_table(n_samples, genes, seed).to_csv(path, index=False, lineterminator="\n")
    return path


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
