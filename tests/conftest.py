"""Shared fixtures: one run of each tutorial page and one strict build per session."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hooks.tutorials import ROOT, run_page

MKDOCS = Path(sys.executable).with_name("mkdocs")


def page_file(stem: str) -> Path:
    """docs/NN_<stem>.md for a tutorial stem."""
    matches = sorted((ROOT / "docs").glob(f"[0-9][0-9]_{stem}.md"))
    assert matches, f"no page docs/NN_{stem}.md"
    return matches[0]


@pytest.fixture(scope="session")
def page_run():
    """page_run(stem) -> the PageRun the build makes for docs/NN_<stem>.md."""
    runs = {}

    def get(stem: str):
        if stem not in runs:
            runs[stem] = run_page(page_file(stem))
        return runs[stem]

    return get


def build_site(project: Path, site_dir: Path) -> subprocess.CompletedProcess:
    # Force a real run: the build under test must not just replay the cache.
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "TUTORIALS_RERUN": "1"}
    return subprocess.run(
        [str(MKDOCS), "build", "--strict", "--site-dir", str(site_dir)],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    """The site built once with `mkdocs build --strict`; (site dir, process result)."""
    site = tmp_path_factory.mktemp("built") / "site"
    result = build_site(ROOT, site)
    return site, result
