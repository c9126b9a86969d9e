"""Where the tutorials' data lives and which genes they use: the one rule every
tutorial and the build use.

Kept free of heavy imports: the build's execution cache asks it which data file
to hash, and which genes, without importing pandas or torch.
"""

import os
from pathlib import Path

DATA_ENV_VAR = "GBM_DATA"
GENES_ENV_VAR = "GBM_GENES"
SHIPPED_DATA = Path(__file__).parent / "data" / "gbm_data.csv"
# The five genes the tutorials' prose describes (on the shipped table). The
# only copy of this list: everything else asks feature_genes().
DEFAULT_GENES = ("LINC00159", "EFTUD1P1", "C20orf202", "KRT17P8", "RPL7L1P9")

# cBioPortal writes these placeholders where a clinical value is unknown: the
# study builder reads them as missing, and so does the smoking label of a
# clinical table exported from cBioPortal as it is.
CBIOPORTAL_MISSING = [
    "[Not Available]",
    "[Not Applicable]",
    "[Not Evaluated]",
    "[Unknown]",
    "[Discrepancy]",
    "[Completed]",
    "[Not Reported]",
]


class GBMDataError(ValueError):
    """The GBM data cannot be used as it is; the message says what to do.

    Defined here, in the light module, so that there is one class however the
    tutorial modules are imported (``python -m tutorial_code.gbm_data`` runs
    that module twice: as ``__main__`` and as the package's module).
    """


def data_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The CSV to use: explicit ``path`` > ``$GBM_DATA`` > the shipped file."""
    if path is not None:
        return Path(path).expanduser()
    from_env = os.environ.get(DATA_ENV_VAR)
    if from_env:
        return Path(from_env).expanduser()
    return SHIPPED_DATA


def parse_genes(text: str, source: str) -> list[str]:
    """``"EGFR, PTEN"`` -> ``["EGFR", "PTEN"]``; empty entries or repeats are errors."""
    genes = [gene.strip() for gene in text.split(",")]
    example = f"{GENES_ENV_VAR}=EGFR,PTEN,TP53 or --genes EGFR,PTEN,TP53"
    if "" in genes:
        raise GBMDataError(
            f"The gene list {text!r} ({source}) has an empty entry (two commas in "
            f"a row, or a comma at either end). Name the genes separated by "
            f"single commas, e.g. {example}."
        )
    repeated = sorted({gene for gene in genes if genes.count(gene) > 1})
    if repeated:
        raise GBMDataError(
            f"The gene list {text!r} ({source}) names {', '.join(repeated)} more "
            "than once. Name each gene once."
        )
    return genes


def genes_setting() -> list[str] | None:
    """The genes named in ``$GBM_GENES`` (comma-separated), or None when unset."""
    value = os.environ.get(GENES_ENV_VAR, "")
    if not value.strip():
        return None
    genes = parse_genes(value, f"from ${GENES_ENV_VAR}")
    if len(genes) < 2:
        raise GBMDataError(
            f"The gene list {value!r} (from ${GENES_ENV_VAR}) names one gene: the "
            "tutorials need at least two (the regression predicts one gene from "
            f"the others). Name more, e.g. {GENES_ENV_VAR}={genes[0]},PTEN,TP53."
        )
    return genes


def feature_genes() -> list[str]:
    """The feature genes of every tutorial: ``$GBM_GENES``, else the default five."""
    return genes_setting() or list(DEFAULT_GENES)


def custom_inputs() -> dict[str, str] | None:
    """What differs from the shipped table and genes, for a note on every page
    (None when the build uses both)."""
    custom = {}
    if data_path().resolve() != SHIPPED_DATA.resolve():
        custom["data"] = str(data_path())
    if genes_setting() is not None:
        custom["genes"] = ", ".join(feature_genes())
    return custom or None
