"""The GitHub workflows: valid against GitHub's workflow schema, running the
README's test command and only make targets and scripts that exist, with the
execution cache keyed on what the build hashes, a preview of the site on pull
requests and Pages on main."""

import fnmatch
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hooks.engine import CACHE_DIR
from hooks.tutorials import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
# Files every cache key hashes (hooks/engine.py): a change must change the CI key.
KEYED_FILES = ["tutorial_code/gbm_data.py", "hooks/tutorials.py", "requirements.txt"]


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())


def triggers(workflow: dict) -> dict:
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads `on` as True


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def runs(workflow: dict) -> list[str]:
    return [
        line for step in steps(workflow) for line in step.get("run", "").splitlines()
    ]


def uses(workflow: dict, action: str) -> list[dict]:
    return [s for s in steps(workflow) if s.get("uses", "").startswith(action + "@")]


def test_there_are_workflows_for_pull_requests_and_pages():
    assert {w.name for w in WORKFLOWS} == {"tests.yml", "pages.yml"}
    assert "pull_request" in triggers(load("tests.yml"))
    assert triggers(load("pages.yml"))["push"]["branches"] == ["main"]


def test_workflows_are_valid_github_workflows():
    """Checked offline against the schema that check-jsonschema ships."""
    checker = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [checker, "--builtin-schema", "vendor.github-workflows", *WORKFLOWS],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_runs_only_make_targets_and_scripts_that_exist(workflow):
    data = yaml.safe_load(workflow.read_text())
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([\w-]+):", makefile, re.MULTILINE))
    for line in runs(data):
        for target in re.findall(r"\bmake ([\w-]+)", line):
            assert target in targets, f"{workflow.name}: no make target {target}"
        script = line.split()[0]
        if "/" in script:
            path = ROOT / script
            assert path.is_file() and os.access(path, os.X_OK), f"{script} missing"


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_runs_the_readmes_test_command_with_chromium(workflow):
    readme = (ROOT / "README.md").read_text()
    ci_run = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme
    assert ".ci/run" in runs(yaml.safe_load(workflow.read_text()))
    assert ci_run.rstrip().endswith("make test")
    # `make test` itself installs the browser the tests drive, when it is missing.
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test: .*\bchromium\b", makefile, re.MULTILINE)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_execution_cache_is_restored_keyed_on_the_builds_inputs(workflow):
    data = yaml.safe_load(workflow.read_text())
    cache = [
        s for s in uses(data, "actions/cache") if s["with"]["path"] == str(CACHE_DIR)
    ]
    assert cache, f"{workflow.name}: .cache/tutorials is not restored"
    key = cache[0]["with"]["key"]
    hashed = [
        p.strip(" '") for p in re.search(r"hashFiles\((.*?)\)", key)[1].split(",")
    ]
    for path in KEYED_FILES:
        assert any(fnmatch.fnmatch(path, pattern) for pattern in hashed), path
    order = steps(data)
    tests = next(s for s in order if s.get("run") == ".ci/run")
    assert order.index(cache[0]) < order.index(tests), "restore before the tests"


def test_pull_requests_upload_the_built_site_as_a_preview():
    data = load("tests.yml")
    assert "make build" in runs(data)
    upload = uses(data, "actions/upload-artifact")
    assert upload and upload[0]["with"]["path"].rstrip("/") == "site"


def test_main_deploys_to_pages_with_this_repositorys_urls():
    data = load("pages.yml")
    assert data["permissions"]["pages"] == "write"
    assert data["permissions"]["id-token"] == "write"
    build = next(s for s in steps(data) if s.get("run") == "make build")
    assert build["env"]["SITE_URL"].startswith("${{ steps.pages.outputs.base_url }}")
    assert "github.repository" in build["env"]["REPO_URL"]
    assert uses(data, "actions/configure-pages")
    assert uses(data, "actions/upload-pages-artifact")[0]["with"]["path"] == "site/"
    deploy = data["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert deploy["environment"]["name"] == "github-pages"
    assert uses({"jobs": {"deploy": deploy}}, "actions/deploy-pages")
    config = (ROOT / "mkdocs.yml").read_text()
    assert re.search(r"^site_url: !ENV \[SITE_URL,", config, re.MULTILINE)
    assert re.search(r"^repo_url: !ENV \[REPO_URL,", config, re.MULTILINE)
