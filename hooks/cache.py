"""Execution cache: run a tutorial page once, reuse its outputs until an input changes.

The key of a page hashes everything its run depends on:

- the sections the page shows, in order (not its prose: editing text runs nothing);
- every tutorial module those sections come from, and every local module they
  import, followed through the import graph;
- the data file the tutorials read (``GBM_DATA`` or the shipped CSV, as
  ``tutorial_code/data_paths.py`` decides);
- ``requirements.txt``, the runner itself and the Python version.

Seeds live in the modules (``SPLIT_SEED``, the ``torch.manual_seed`` calls), so
they are part of the key through the module hashes.

Entries are JSON files under ``.cache/tutorials/`` (git-ignored; safe to
delete), one per page, written atomically and carrying a checksum: a corrupt or
partial entry is detected and rebuilt, never served.
Set ``TUTORIALS_RERUN=1`` to ignore the cache and run everything.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import sys
from pathlib import Path

from hooks.tutorials import (
    ROOT,
    Cell,
    PageRun,
    Section,
    make_importable,
    page_sections,
    run_page,
)

CACHE_DIR = Path(".cache") / "tutorials"  # under the project root
RERUN_ENV = "TUTORIALS_RERUN"
FORMAT = 1  # bump when the entry layout changes


def local_imports(module: Path, root: Path) -> set[Path]:
    """Files of the tutorial_code modules that `module` imports, directly."""
    found = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            if name.split(".")[0] == "tutorial_code":
                path = root / (name.replace(".", "/") + ".py")
                if path.exists():
                    found.add(path)
    return found


def import_closure(modules: set[Path], root: Path) -> set[Path]:
    """The modules plus everything they import locally, transitively."""
    seen: set[Path] = set()
    todo = list(modules)
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(local_imports(module, root) - seen)
    return seen


def data_file(root: Path) -> Path:
    """The data the tutorials read; resolved by the tutorials' own rule."""
    make_importable(root)
    from tutorial_code.data_paths import data_path

    return data_path()


def cache_key(sections: list[Section], root: Path = ROOT) -> str:
    digest = hashlib.sha256()

    def add(label: str, content: bytes) -> None:
        digest.update(f"{label}\0{len(content)}\0".encode())
        digest.update(content)

    add("format", str(FORMAT).encode())
    add("python", sys.version.encode())
    add("sections", json.dumps([[s.module, s.name] for s in sections]).encode())
    modules = import_closure({root / s.module for s in sections}, root)
    for module in sorted(modules):
        add(module.relative_to(root).as_posix(), module.read_bytes())
    for name in ("requirements.txt", "hooks/tutorials.py"):
        add(name, (root / name).read_bytes())
    data = data_file(root)
    add("data", data.read_bytes() if data.exists() else b"<missing>")
    return digest.hexdigest()


def _entry_path(page: Path, cache_dir: Path) -> Path:
    return cache_dir / f"{page.stem}.json"


def _checksum(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def save(run: PageRun, key: str, page: Path, cache_dir: Path) -> None:
    body = {
        "format": FORMAT,
        "key": key,
        "page": page.name,
        "seconds": run.seconds,
        "cells": [
            {
                "module": c.section.module,
                "section": c.section.name,
                "stdout": c.stdout,
                "figures": c.figures,
            }
            for c in run.cells
        ],
    }
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = _entry_path(page, cache_dir)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps({"checksum": _checksum(body), "body": body}))
    os.replace(partial, target)  # atomic: readers see the old entry or the new one


def load(
    page: Path, key: str, sections: list[Section], cache_dir: Path
) -> PageRun | None:
    """The cached run for this key, or None if absent, stale or damaged."""
    path = _entry_path(page, cache_dir)
    try:
        stored = json.loads(path.read_text())
        body = stored["body"]
        valid = (
            stored["checksum"] == _checksum(body)
            and body["format"] == FORMAT
            and body["key"] == key
            and [(c["module"], c["section"]) for c in body["cells"]]
            == [(s.module, s.name) for s in sections]
        )
    except (OSError, ValueError, KeyError, TypeError):
        valid = False
    if not valid:
        return None
    cells = [
        Cell(section, c["stdout"], c["figures"])
        for section, c in zip(sections, body["cells"], strict=True)
    ]
    return PageRun(str(page), cells, namespace={}, seconds=body["seconds"])


def lookup(
    page: Path, root: Path = ROOT, cache_dir: Path | None = None
) -> tuple[list[Section], str, PageRun | None]:
    """(sections, key, cached run or None) for a page; None also when
    TUTORIALS_RERUN=1 asks for a fresh run."""
    cache_dir = cache_dir or root / CACHE_DIR
    sections = page_sections(page.read_text(encoding="utf-8"), root)
    key = cache_key(sections, root)
    if os.environ.get(RERUN_ENV) == "1":
        return sections, key, None
    return sections, key, load(page, key, sections, cache_dir)


def run_and_save(page: Path, key: str, root: Path, cache_dir: Path) -> PageRun:
    """Run a page and store its entry under `key`."""
    run = run_page(page, root)
    save(run, key, page, cache_dir)
    return run


def cached_run(
    page: Path, root: Path = ROOT, cache_dir: Path | None = None
) -> tuple[PageRun, str, bool]:
    """(run, key, reused): the page's run, reused while its inputs are unchanged."""
    cache_dir = cache_dir or root / CACHE_DIR
    _, key, hit = lookup(page, root, cache_dir)
    if hit is not None:
        return hit, key, True
    return run_and_save(page, key, root, cache_dir), key, False
