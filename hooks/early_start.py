"""MkDocs plugin `tutorial-workers`: start the worker server before MkDocs has
loaded its other plugins.

MkDocs loads hooks (site_hooks.py) only after every plugin, and loading
mkdocs-jupyter (nbconvert, jupytext) takes it about a second. The worker server
(workers.py) needs seconds to import torch and the rest, and a build with a
stale page waits for that; listed first under `plugins:`, this plugin starts
the server as soon as MkDocs reads its own options. site_hooks.py then hands
the server the stale pages, and stops it if there are none.

`make install` registers the plugin (pyproject.toml, `pip install -e .`).
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.plugins import BasePlugin

from hooks import workers
from hooks.tutorials import TutorialError

_tried: set[Path] = set()  # `mkdocs serve` reloads the plugins for every rebuild


def worth_starting_early() -> bool:
    """Not when nothing can run, and not on one core, where the server's
    imports would only take turns with MkDocs's own start."""
    try:
        count = workers.worker_count()
    except TutorialError:
        return False  # site_hooks reports the bad value
    return workers.executing() and count > 0 and workers.cores() > 1


class StartWorkers(BasePlugin):
    def load_config(self, options, config_file_path=None):
        result = super().load_config(options, config_file_path)
        if config_file_path and worth_starting_early():
            root = Path(config_file_path).resolve().parent
            if root not in _tried:
                _tried.add(root)
                workers.shared_runner(root).start()
        return result
