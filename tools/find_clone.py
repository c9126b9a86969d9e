# Find the clone of the course repository this notebook is in (the folder that
# holds tutorial_code/), from the working directory up, and import from it.
import sys
from pathlib import Path


def find_clone(start):
    for folder in [start, *start.parents]:
        if (folder / "tutorial_code").is_dir():
            return folder
    raise FileNotFoundError(
        f"No tutorial_code/ folder in {start} or above it. This notebook runs "
        "inside a clone of the course repository (see {site_url}): put it in "
        "any folder of the clone and open it from there."
    )


clone = find_clone(Path.cwd().resolve())
if str(clone) not in sys.path:
    sys.path.insert(0, str(clone))
