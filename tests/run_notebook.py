"""Generate tutorial pages' learner notebooks (exercises without solutions) and
execute each top to bottom in a fresh kernel whose working directory is a
temporary folder inside the repository (removed afterwards), as a learner who
saved the notebook somewhere in a clone would run it.

    python tests/run_notebook.py OUT_DIR docs/NN_<stem>.md [...]

Writes OUT_DIR/NN_<stem>-learner.ipynb with its outputs, or
OUT_DIR/NN_<stem>.error.txt if a cell failed; exits non-zero if any failed.
"""

import shutil
import sys
import tempfile
import traceback
from pathlib import Path

import nbclient
import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hooks.engine import configured_site_url  # noqa: E402
from hooks.notebooks import notebook_paths, page_notebooks  # noqa: E402
from hooks.tutorials import unexecuted_run  # noqa: E402


def execute(page: Path, out_dir: Path, site_url: str, cwd: Path) -> bool:
    _, learner = page_notebooks(page, unexecuted_run(page), site_url)
    client = nbclient.NotebookClient(
        learner,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},  # the kernel's cwd
    )
    try:
        client.execute()
    except Exception:
        (out_dir / f"{page.stem}.error.txt").write_text(traceback.format_exc())
        return False
    nbformat.write(learner, notebook_paths(out_dir, page)[1])
    return True


def main(out_dir: Path, pages: list[Path]) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    site_url = configured_site_url(ROOT)
    (ROOT / ".cache").mkdir(exist_ok=True)
    cwd = Path(tempfile.mkdtemp(prefix="kernel-cwd-", dir=ROOT / ".cache"))
    try:
        results = [execute(p.resolve(), out_dir, site_url, cwd) for p in pages]
    finally:
        shutil.rmtree(cwd, ignore_errors=True)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]))
