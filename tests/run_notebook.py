"""Generate a tutorial page's notebook and execute it top to bottom in a fresh
kernel whose working directory is the repository root.

    python tests/run_notebook.py docs/NN_<stem>.md OUT_DIR

Writes OUT_DIR/NN_<stem>.ipynb with its outputs; exits non-zero if a cell fails.
"""

import sys
from pathlib import Path

import nbclient
import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hooks.notebooks import page_notebook  # noqa: E402
from hooks.tutorials import unexecuted_run  # noqa: E402


def main(page: Path, out_dir: Path) -> None:
    notebook = page_notebook(page.read_text(encoding="utf-8"), unexecuted_run(page))
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT)}},  # the kernel's cwd
    )
    client.execute()
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, out_dir / f"{page.stem}.ipynb")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]))
