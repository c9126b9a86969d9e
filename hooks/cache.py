"""Execution cache: a page's run is kept under a key that hashes everything the
run depends on, and reused until one of those inputs changes.

What the key covers, and why, is on docs/how_it_is_built.md. Entries are JSON
files ``.cache/tutorials/<page>-<key>.json`` (git-ignored, safe to delete),
written atomically with a checksum; a page keeps its few most recently used
entries, so switching the data or the genes back reuses the earlier run.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from hooks.tutorials import (
    ROOT,
    Cell,
    PageRun,
    ProseResult,
    Section,
    page_name,
    page_results,
    page_sections,
    run_page,
)

CACHE_DIR = Path(".cache") / "tutorials"  # under the project root
RERUN_ENV = "TUTORIALS_RERUN"
FORMAT = 3  # bump when the entry layout changes
KEEP_PER_PAGE = 3  # entries kept per page, most recently used first
RUNNER = Path(__file__).with_name("tutorials.py")  # its code is part of every key


# ------------------------------------------------------------------ inputs


@dataclass(frozen=True)
class Inputs:
    """What every page's run reads besides its code: the data file and the
    genes, as ``tutorial_code/data_paths.py`` resolves them."""

    data: str  # the data path
    data_digest: str  # sha256 of its bytes, or why it could not be read
    genes: tuple[str, ...]  # the feature genes the tutorials will use
    genes_set: bool  # chosen with GBM_GENES rather than the default
    custom: bool  # other data or genes than the shipped ones

    @property
    def digest(self) -> str:
        text = json.dumps([self.data_digest, self.genes, self.genes_set])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_inputs(root: Path = ROOT) -> Inputs:
    """The data and genes of this build. A data path that is missing, a
    directory or unreadable, or a malformed gene list, still gets a key: the
    page run then fails in the tutorials' code, with its own message."""
    rules = _data_paths_module(root)
    if rules is None:  # a project without data
        return Inputs("", "<none>", (), False, False)
    path = rules.data_path()
    try:
        with open(path, "rb") as data:
            digest = hashlib.file_digest(data, "sha256").hexdigest()
    except OSError as exc:
        digest = f"<unreadable: {type(exc).__name__}>"
    try:
        genes = tuple(rules.feature_genes())
    except ValueError:  # the tutorials' GBMDataError
        return Inputs(str(path), digest, ("<malformed>",), True, True)
    return Inputs(
        str(path),
        digest,
        genes,
        rules.genes_setting() is not None,
        rules.custom_inputs() is not None,
    )


def _data_paths_module(root: Path):
    """tutorial_code/data_paths.py of the project, loaded on its own: it is
    light, and importing the package here would shadow later edits."""
    path = root / "tutorial_code" / "data_paths.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location("_build_data_paths", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------ key


def local_imports(module: Path, root: Path) -> set[Path]:
    """Files of the tutorial_code modules that `module` imports, directly."""
    found = set()
    for name in imported_names(module.read_text(encoding="utf-8")):
        if name.split(".")[0] == "tutorial_code":
            path = root / (name.replace(".", "/") + ".py")
            if path.exists():
                found.add(path)
    return found


@functools.lru_cache(maxsize=256)  # by source: the pages share most of their modules
def imported_names(source: str) -> tuple[str, ...]:
    """Every name an import statement in `source` could refer to as a module."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return tuple(names)


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


def _computes(result: ProseResult) -> list:
    """What a fill-in or a check computes, and where: not the prose around it."""
    return [result.kind, result.expression, result.after]


def cache_key(
    sections: list[Section],
    results: list[ProseResult],
    inputs: Inputs,
    root: Path = ROOT,
) -> str:
    digest = hashlib.sha256()

    def add(label: str, content: bytes) -> None:
        digest.update(f"{label}\0{len(content)}\0".encode())
        digest.update(content)

    add("format", str(FORMAT).encode())
    add("python", sys.version.encode())
    add("sections", json.dumps([[s.module, s.name] for s in sections]).encode())
    add("expressions", json.dumps([_computes(r) for r in results]).encode())
    for module in sorted(import_closure({root / s.module for s in sections}, root)):
        add(module.relative_to(root).as_posix(), module.read_bytes())
    requirements = root / "requirements.txt"
    add("requirements", requirements.read_bytes() if requirements.exists() else b"")
    add("runner", RUNNER.read_bytes())
    add("data", inputs.data_digest.encode())
    add("genes", json.dumps([inputs.genes, inputs.genes_set]).encode())
    return digest.hexdigest()


# ------------------------------------------------------------------ entries


def entry_path(page: Path, key: str, cache_dir: Path) -> Path:
    return cache_dir / f"{page.stem}-{key[:16]}.json"


def _entries(page: Path, cache_dir: Path) -> list[Path]:
    """The page's entries, most recently used first."""
    name = re.compile(rf"{re.escape(page.stem)}-[0-9a-f]{{16}}\.json")
    found = [p for p in cache_dir.glob(f"{page.stem}-*.json") if name.fullmatch(p.name)]
    return sorted(found, key=_mtime, reverse=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # removed by a build running beside this one
        return 0.0


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
                "solution": c.section.solution,
                "stdout": c.stdout,
                "figures": c.figures,
            }
            for c in run.cells
        ],
        "results": [[*_computes(r), r.text, r.passed, r.error] for r in run.results],
    }
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = entry_path(page, key, cache_dir)
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps({"checksum": _checksum(body), "body": body}))
    os.replace(partial, target)  # atomic: readers see the old entry or the new one
    prune(page, cache_dir)


def prune(page: Path, cache_dir: Path, keep: int = KEEP_PER_PAGE) -> None:
    for old in _entries(page, cache_dir)[keep:]:
        old.unlink(missing_ok=True)


def load(
    page: Path,
    key: str,
    sections: list[Section],
    results: list[ProseResult],
    cache_dir: Path,
) -> PageRun | None:
    """The cached run for this key, or None if absent, stale or damaged."""
    path = entry_path(page, key, cache_dir)
    try:
        stored = json.loads(path.read_text())
        body = stored["body"]
        valid = (
            stored["checksum"] == _checksum(body)
            and body["format"] == FORMAT
            and body["key"] == key
            and [(c["module"], c["section"]) for c in body["cells"]]
            == [(s.module, s.name) for s in sections]
            and [r[:3] for r in body["results"]] == [_computes(r) for r in results]
        )
        if valid:
            os.utime(path)  # used now: pruning keeps it
    except (OSError, ValueError, KeyError, TypeError):
        valid = False
    if not valid:
        return None
    cells = [
        Cell(section, c["stdout"], c["figures"])
        for section, c in zip(sections, body["cells"], strict=True)
    ]
    for result, stored in zip(results, body["results"], strict=True):
        result.text, result.passed, result.error = stored[3:]
    return PageRun(str(page), cells, {}, body["seconds"], results)


def lookup(
    page: Path, inputs: Inputs, root: Path = ROOT, cache_dir: Path | None = None
) -> tuple[list[Section], str, PageRun | None]:
    """(sections, key, cached run or None) for a page; None also when
    TUTORIALS_RERUN=1 asks for a fresh run."""
    cache_dir = cache_dir or root / CACHE_DIR
    markdown = page.read_text(encoding="utf-8")
    sections = page_sections(markdown, root)
    results = page_results(markdown, page_name(page, root))
    key = cache_key(sections, results, inputs, root)
    if os.environ.get(RERUN_ENV) == "1":
        return sections, key, None
    return sections, key, load(page, key, sections, results, cache_dir)


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
    _, key, hit = lookup(page, read_inputs(root), root, cache_dir)
    if hit is not None:
        return hit, key, True
    return run_and_save(page, key, root, cache_dir), key, False
