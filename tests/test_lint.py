"""Lint: ruff (rules and formatting) over all the Python, codespell over the docs
and code. `make lint` and pre-commit run the very same commands."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hooks.tutorials import ROOT

BIN = Path(sys.executable).parent


def lint_commands() -> list[str]:
    """The recipe of `make lint`, with $(BIN) spelled out."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe, "no lint target in the Makefile"
    return [
        line.strip().replace("$(BIN)", ".venv/bin") for line in recipe[1].splitlines()
    ]


@pytest.mark.parametrize("command", lint_commands())
def test_lint_command_passes(command):
    tool, *args = command.split()
    result = subprocess.run(
        [BIN / Path(tool).name, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    fix = "run `make format`" if "ruff" in tool else "fix the spelling"
    assert result.returncode == 0, (
        f"`{command}` failed ({fix}; a word that is right goes in "
        f"tools/codespell_words.txt):\n{result.stdout}{result.stderr}"
    )


def test_lint_covers_code_tests_hooks_and_tools():
    assert lint_commands()[:3] == [
        ".venv/bin/ruff check .",
        ".venv/bin/ruff format --check .",
        ".venv/bin/codespell",
    ]
    listed = subprocess.run(
        [BIN / "ruff", "check", "--show-files", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout
    for folder in ("tutorial_code", "tests", "hooks", "tools"):
        assert f"/{folder}/" in listed, f"ruff does not see {folder}/"
    assert "/docs/" not in listed  # pages hold snippet lines, not Python


def test_pre_commit_runs_the_same_commands_offline():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert all(repo["repo"] == "local" for repo in config["repos"])
    assert all(hook["language"] == "system" for hook in hooks)  # no downloads
    assert [hook["entry"] for hook in hooks] == lint_commands()
    assert all(hook.get("pass_filenames") is False for hook in hooks)
    valid = subprocess.run(
        [BIN / "pre-commit", "validate-config", ".pre-commit-config.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert valid.returncode == 0, valid.stdout + valid.stderr


def test_spelling_word_list_is_the_one_codespell_uses():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'ignore-words = "tools/codespell_words.txt"' in pyproject
    words = (ROOT / "tools" / "codespell_words.txt").read_text().splitlines()
    entries = [w for w in words if w and not w.startswith("#")]
    assert entries and all(w == w.lower() and " " not in w for w in entries)
