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

from mkdocs.utils.yaml import yaml_load  # noqa: E402

from hooks.render import notebooks  # noqa: E402
from hooks.tutorials import read_page, unexecuted  # noqa: E402


def execute(page: Path, out_dir: Path, site_url: str, cwd: Path) -> bool:
    source = read_page(page)
    _, learner = notebooks(source, unexecuted(source), site_url, note="")
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
    nbformat.write(learner, out_dir / f"{page.stem}-learner.ipynb")
    return True


def main(out_dir: Path, pages: list[Path]) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    site_url = yaml_load((ROOT / "mkdocs.yml").read_text())["site_url"]
    (ROOT / ".cache").mkdir(exist_ok=True)
    cwd = Path(tempfile.mkdtemp(prefix="kernel-cwd-", dir=ROOT / ".cache"))
    try:
        results = [execute(p.resolve(), out_dir, site_url, cwd) for p in pages]
    finally:
        shutil.rmtree(cwd, ignore_errors=True)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]))
