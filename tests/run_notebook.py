"""Generate tutorial pages' learner notebooks (exercises without solutions) and
execute each top to bottom in a kernel whose working directory is a temporary
folder inside the repository (removed afterwards), as a learner who saved the
notebook somewhere in a clone would run it.

The notebooks share one kernel, cleared before each as a restart would clear
it: every name the last notebook defined and every tutorial_code module it
imported are forgotten, so a missing import or a name taken from another
notebook fails as in a fresh kernel. (A fresh kernel per notebook imported
torch, pandas and scikit-learn again each time, 3.8 CPU-seconds: the seven
notebooks took 38 CPU-seconds so, 20 in one kernel.)

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
from jupyter_client.manager import KernelManager

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mkdocs.utils.yaml import yaml_load  # noqa: E402

from hooks.render import notebooks  # noqa: E402
from hooks.tutorials import read_page, unexecuted  # noqa: E402

# Forget the course's modules, go back to the notebooks' folder, then forget
# every name (this cell's own helpers too).
CLEAR = """\
import os as _os, sys as _sys
for _name in [n for n in _sys.modules if n.split(".")[0] == "tutorial_code"]:
    del _sys.modules[_name]
_os.chdir(%r)
%%reset -f
"""


def run_cells(kernel: KernelManager, notebook) -> None:
    client = nbclient.NotebookClient(notebook, km=kernel, timeout=600)
    try:
        client.execute()
    finally:
        if client.kc is not None:
            client.kc.stop_channels()


def clear(kernel: KernelManager, cwd: Path) -> None:
    """Forget what the last notebook left in the kernel, as a restart would."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_code_cell(CLEAR % str(cwd)))
    run_cells(kernel, notebook)


def execute(page: Path, out_dir: Path, site_url: str, kernel: KernelManager) -> bool:
    source = read_page(page)
    _, learner = notebooks(source, unexecuted(source), site_url, note="")
    try:
        run_cells(kernel, learner)
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
    kernel = KernelManager(kernel_name="python3")
    kernel.start_kernel(cwd=str(cwd))
    try:
        results = []
        for page in pages:
            clear(kernel, cwd)
            results.append(execute(page.resolve(), out_dir, site_url, kernel))
    finally:
        kernel.shutdown_kernel(now=True)
        shutil.rmtree(cwd, ignore_errors=True)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]))
