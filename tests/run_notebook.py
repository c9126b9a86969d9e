"""Generate tutorial pages' notebooks and execute each top to bottom in a fresh
kernel whose working directory is the repository root.

    python tests/run_notebook.py OUT_DIR docs/NN_<stem>.md [...]

Writes OUT_DIR/NN_<stem>.ipynb with its outputs, or OUT_DIR/NN_<stem>.error.txt
if a cell failed; exits non-zero if any failed.
"""

import sys
import traceback
from pathlib import Path

import nbclient
import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hooks.notebooks import page_notebook  # noqa: E402
from hooks.tutorials import unexecuted_run  # noqa: E402


def execute(page: Path, out_dir: Path) -> bool:
    notebook = page_notebook(page.read_text(encoding="utf-8"), unexecuted_run(page))
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT)}},  # the kernel's cwd
    )
    try:
        client.execute()
    except Exception:
        (out_dir / f"{page.stem}.error.txt").write_text(traceback.format_exc())
        return False
    nbformat.write(notebook, out_dir / f"{page.stem}.ipynb")
    return True


def main(out_dir: Path, pages: list[Path]) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    results = [execute(page.resolve(), out_dir) for page in pages]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]))
