"""Generate the synthetic stand-in for the cBioPortal GBM export.

The file has the layout of a CSV built from cBioPortal study ``gbm_cptac_2021``
(see ``build_gbm_from_cbioportal.py``): one row per tumour sample, expression
columns first (log2(FPKM + 1)-like values), then clinical columns. The values
are random draws with a small planted smoking signal, so the tutorials have
something learnable without shipping patient data.

Regenerate (byte-identical) with::

    python -m tutorial_code.make_synthetic_gbm [--out PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_OUT = Path(__file__).parent / "data" / "gbm_data.csv"
SEED = 2023
N_SAMPLES = 96

# Expression columns in file order: the five tutorial features are mixed in
# with glioma driver genes and other lncRNA/pseudogene-like names.
GENES = [
    "EGFR",
    "PTEN",
    "TP53",
    "LINC00159",
    "IDH1",
    "NF1",
    "PDGFRA",
    "CDKN2A",
    "EFTUD1P1",
    "MGMT",
    "PIK3CA",
    "RB1",
    "ATRX",
    "C20orf202",
    "CDK4",
    "MDM2",
    "SOX2",
    "OLIG2",
    "GFAP",
    "KRT17P8",
    "VIM",
    "CHI3L1",
    "MALAT1",
    "NEAT1",
    "RPL7L1P9",
    "LINC01088",
    "HNRNPA1P48",
    "RPS26P11",
    "MIR4435-2HG",
    "TERT",
]

# Shift of the smokers' mean, in units of the gene's own SD. Only these genes
# carry signal; every other column is noise around its gene mean.
SMOKING_EFFECT_SD = {"LINC00159": 1.0, "C20orf202": -0.9, "KRT17P8": 0.8}

# Genes that share one latent factor (loading), giving them some correlation.
SHARED_FACTOR_LOADING = {
    "LINC00159": 0.5,
    "EFTUD1P1": 0.4,
    "KRT17P8": 0.35,
    "RPL7L1P9": -0.45,
    "EGFR": 0.3,
    "CHI3L1": 0.3,
}

SMOKING_HISTORY_PROBS = {
    "Lifelong non-smoker: Less than 100 cigarettes smoked in lifetime": 0.5,
    "Current smoker: Includes daily and non-daily smokers": 0.2,
    "Current reformed smoker within past 15 years": 0.15,
    "Current reformed smoker, more than 15 years": 0.15,
}
NON_SMOKER = "Lifelong non-smoker: Less than 100 cigarettes smoked in lifetime"
TUMOR_SITES = ["Frontal lobe", "Temporal lobe", "Parietal lobe", "Occipital lobe"]

N_MISSING_SMOKING = 6
N_MISSING_AGE = 3
GENE_WITH_MISSING_VALUES = "EFTUD1P1"
N_MISSING_GENE = 2


def make_patient_ids(rng: np.random.Generator, n: int) -> list[str]:
    numbers = rng.choice(np.arange(1, 4000), size=n, replace=False)
    prefixes = rng.choice(["C3L", "C3N"], size=n, p=[0.6, 0.4])
    return sorted(f"{p}-{k:05d}" for p, k in zip(prefixes, numbers, strict=True))


def make_smoking_history(rng: np.random.Generator, n: int) -> np.ndarray:
    categories = list(SMOKING_HISTORY_PROBS)
    probs = list(SMOKING_HISTORY_PROBS.values())
    return rng.choice(categories, size=n, p=probs)


def make_expression(rng: np.random.Generator, is_smoker: np.ndarray) -> pd.DataFrame:
    n = len(is_smoker)
    shared = rng.standard_normal(n)
    columns = {}
    for gene in GENES:
        mean = rng.uniform(1.5, 10.5)
        sd = rng.uniform(0.6, 1.8)
        loading = SHARED_FACTOR_LOADING.get(gene, 0.0)
        noise = rng.standard_normal(n)
        z = loading * shared + np.sqrt(1 - loading**2) * noise
        z = z + SMOKING_EFFECT_SD.get(gene, 0.0) * is_smoker
        columns[gene] = np.clip(mean + sd * z, 0.0, 14.0).round(4)
    return pd.DataFrame(columns)


def make_clinical(rng: np.random.Generator, smoking: np.ndarray) -> pd.DataFrame:
    n = len(smoking)
    patient_ids = make_patient_ids(rng, n)
    age = np.clip(rng.normal(58, 12, size=n), 21, 88).round().astype(int)
    return pd.DataFrame(
        {
            "PATIENT_ID": patient_ids,
            # one tumour sample per patient, as in the CPTAC study
            "SAMPLE_ID": patient_ids,
            "AGE": pd.array(age, dtype="Int64"),
            "SEX": rng.choice(["Male", "Female"], size=n, p=[0.6, 0.4]),
            "SMOKING_HISTORY": pd.array(smoking, dtype=object),
            "TUMOR_SITE": rng.choice(TUMOR_SITES, size=n, p=[0.4, 0.3, 0.2, 0.1]),
        }
    )


def punch_holes(rng: np.random.Generator, gbm: pd.DataFrame) -> pd.DataFrame:
    """Blank out a few values so the cleaning steps have something to drop."""
    gbm = gbm.copy()
    rows = rng.permutation(len(gbm))
    no_smoking = rows[:N_MISSING_SMOKING]
    no_gene = rows[N_MISSING_SMOKING : N_MISSING_SMOKING + N_MISSING_GENE]
    no_age = rng.choice(len(gbm), size=N_MISSING_AGE, replace=False)
    gbm.loc[no_smoking, "SMOKING_HISTORY"] = None
    gbm.loc[no_gene, GENE_WITH_MISSING_VALUES] = np.nan
    gbm.loc[no_age, "AGE"] = pd.NA
    return gbm


def make_synthetic_gbm(seed: int = SEED, n: int = N_SAMPLES) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    smoking = make_smoking_history(rng, n)
    is_smoker = (smoking != NON_SMOKER).astype(float)
    expression = make_expression(rng, is_smoker)
    clinical = make_clinical(rng, smoking)
    return punch_holes(rng, pd.concat([expression, clinical], axis=1))


def write_csv(gbm: pd.DataFrame, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    # fixed line ending so the file is byte-identical on every platform
    gbm.to_csv(out, index=False, lineterminator="\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="CSV to write")
    args = parser.parse_args(argv)
    gbm = make_synthetic_gbm()
    write_csv(gbm, args.out)
    print(f"wrote {len(gbm)} rows x {gbm.shape[1]} columns to {args.out}")


if __name__ == "__main__":
    main()
