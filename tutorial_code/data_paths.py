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
# The five genes the tutorials' prose describes (on the shipped table).
DEFAULT_GENES = ("LINC00159", "EFTUD1P1", "C20orf202", "KRT17P8", "RPL7L1P9")


def data_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The CSV to use: explicit ``path`` > ``$GBM_DATA`` > the shipped file."""
    if path is not None:
        return Path(path).expanduser()
    from_env = os.environ.get(DATA_ENV_VAR)
    if from_env:
        return Path(from_env).expanduser()
    return SHIPPED_DATA


def genes_setting() -> list[str] | None:
    """The genes named in ``$GBM_GENES`` (comma-separated), or None when unset."""
    value = os.environ.get(GENES_ENV_VAR, "")
    genes = [gene.strip() for gene in value.split(",") if gene.strip()]
    return genes or None


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
