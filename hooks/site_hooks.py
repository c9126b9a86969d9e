"""MkDocs hook (listed under `hooks:` in mkdocs.yml): registers the tutorials'
plugin (hooks/site.py) with each build's configuration, where it keeps that
build's state."""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)


def on_config(config, **kwargs):
    # MkDocs loads this file by path, with only hooks/ on sys.path, and restores
    # sys.path afterwards. The engine is the package `hooks` of the project root,
    # imported here and, by name, by the pages' worker processes, whose server
    # copies this process's sys.path: the build's one process-wide change.
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    from hooks.site import TutorialsPlugin

    config.plugins["tutorials"] = TutorialsPlugin(config)
    return config
