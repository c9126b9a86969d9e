"""Where the tutorials' data lives: the one rule every tutorial and the build use.

Kept free of heavy imports: the build's execution cache asks it which data file
to hash without importing pandas or torch.
"""

import os
from pathlib import Path

DATA_ENV_VAR = "GBM_DATA"
SHIPPED_DATA = Path(__file__).parent / "data" / "gbm_data.csv"


def data_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The CSV to use: explicit ``path`` > ``$GBM_DATA`` > the shipped file."""
    if path is not None:
        return Path(path).expanduser()
    from_env = os.environ.get(DATA_ENV_VAR)
    if from_env:
        return Path(from_env).expanduser()
    return SHIPPED_DATA
