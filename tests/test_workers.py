"""Pages run in worker processes during the build (hooks/workers.py).

Uses the tiny project of conftest.py: no torch, so the worker server starts
in a fraction of a second.
"""

import json
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import Future
from importlib.metadata import entry_points

import pytest
from hooks.early_start import StartWorkers
from mkdocs.utils.yaml import yaml_load

from hooks import cache, workers
from hooks.tutorials import ROOT, TutorialError


def submit_all(project, runner, pages=("01_first", "02_second")):
    """{page: (future, sections, key)} for pages handed to the runner."""
    submitted = {}
    for name in pages:
        page = project / "docs" / f"{name}.md"
        sections, key, _ = cache.lookup(page, project)
        future = runner.submit(page, key, project / cache.CACHE_DIR)
        submitted[name] = (future, sections, key)
    return submitted


def stdout_from_cache(project, name, sections, key):
    page = project / "docs" / f"{name}.md"
    run = cache.load(page, key, sections, project / cache.CACHE_DIR)
    assert run is not None, f"no valid cache entry for {name}"
    return run.stdout


def break_second_page(project, body):
    """Make docs/02_second.md run `body` (indented code) as its only section."""
    code = textwrap.indent(textwrap.dedent(body), " " * 4)
    (project / "tutorial_code/second.py").write_text(
        "def main():\n    # --8<-- [start:story]\n"
        + code
        + "    # --8<-- [end:story]\n"
    )


@pytest.mark.parametrize("count", [0, 2], ids=["in-process", "two-workers"])
def test_pages_run_and_land_in_the_cache(tiny_project, count):
    runner = workers.PageRunner(tiny_project, workers=count)
    try:
        expected = {"01_first": "double of 21 is 42\n", "02_second": "no helper here\n"}
        submitted = submit_all(tiny_project, runner)
        for name, (future, sections, key) in submitted.items():
            assert future.result(timeout=60) >= 0
            assert (
                stdout_from_cache(tiny_project, name, sections, key) == expected[name]
            )
    finally:
        runner.close()


def test_a_failing_page_names_module_and_line(tiny_project):
    break_second_page(tiny_project, 'x = 1\nraise ValueError("broken in a worker")\n')
    runner = workers.PageRunner(tiny_project, workers=2)
    try:
        future, *_ = submit_all(tiny_project, runner, ["02_second"])["02_second"]
        with pytest.raises(TutorialError) as failure:
            future.result(timeout=60)
    finally:
        runner.close()
    message = str(failure.value)
    assert "tutorial_code/second.py:4: ValueError: broken in a worker" in message
    assert not (tiny_project / cache.CACHE_DIR / "02_second.json").exists()


def test_a_worker_that_dies_is_reported_with_what_to_do(tiny_project):
    break_second_page(tiny_project, "import os\nos._exit(3)\n")
    runner = workers.PageRunner(tiny_project, workers=2)
    try:
        submitted = submit_all(tiny_project, runner)
        assert submitted["01_first"][0].result(timeout=60) >= 0  # others unharmed
        with pytest.raises(TutorialError) as failure:
            submitted["02_second"][0].result(timeout=60)
    finally:
        runner.close()
    message = str(failure.value)
    assert "02_second.md died" in message
    assert "exit status 3" in message
    assert "TUTORIALS_WORKERS=0" in message


def test_raw_writes_to_stdout_do_not_garble_the_replies(tiny_project):
    break_second_page(tiny_project, 'import os\nos.write(1, b"{not json\\n")\n')
    runner = workers.PageRunner(tiny_project, workers=1)
    try:
        submitted = submit_all(tiny_project, runner)
        assert all(f.result(timeout=60) >= 0 for f, *_ in submitted.values())
    finally:
        runner.close()


def test_closing_the_runner_stops_running_pages(tiny_project):
    break_second_page(tiny_project, "import time\ntime.sleep(60)\n")
    runner = workers.PageRunner(tiny_project, workers=1)
    future, *_ = submit_all(tiny_project, runner, ["02_second"])["02_second"]
    time.sleep(0.5)  # let it start
    started = time.perf_counter()
    runner.close()
    assert time.perf_counter() - started < 10
    with pytest.raises(TutorialError, match="stopped before this page finished"):
        future.result(timeout=10)


def test_worker_count_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(workers.WORKERS_ENV, "3")
    assert workers.worker_count() == 3
    monkeypatch.setenv(workers.WORKERS_ENV, "two")
    with pytest.raises(TutorialError, match="TUTORIALS_WORKERS='two' is not a number"):
        workers.worker_count()
    monkeypatch.delenv(workers.WORKERS_ENV)
    assert 1 <= workers.worker_count() <= workers.MAX_DEFAULT_WORKERS


def test_the_server_preloads_the_tutorials_libraries_but_not_their_code():
    preload = workers.third_party_imports(ROOT)
    for name in ("torch", "torch._dynamo", "pandas", "sklearn.model_selection"):
        assert name in preload
    assert not [n for n in preload if n.split(".")[0] in ("tutorial_code", "os", "csv")]


def test_a_page_submitted_after_the_server_died_fails_instead_of_hanging(tiny_project):
    runner = workers.PageRunner(tiny_project, workers=1)
    try:
        first, *_ = submit_all(tiny_project, runner, ["01_first"])["01_first"]
        assert first.result(timeout=60) >= 0
        runner._server.kill()  # as the OOM killer would
        runner._server.wait()
        future, *_ = submit_all(tiny_project, runner, ["02_second"])["02_second"]
        with pytest.raises(TutorialError, match="stopped before this page finished"):
            future.result(timeout=10)
    finally:
        runner.close()


# ------------------------------------------------------------------ scheduling


def test_the_build_waits_for_a_free_core_before_its_own_heavy_work():
    runs = [Future(), Future(), Future()]
    runs[0].set_result(1.0)  # finished runs do not count
    waiter = threading.Thread(
        target=workers.wait_for_a_free_core, args=(runs, 2), daemon=True
    )
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive(), "returned while two pages kept both cores busy"
    runs[2].set_result(2.0)
    waiter.join(10)
    assert not waiter.is_alive()


def test_a_core_left_free_means_no_wait():
    started = time.perf_counter()
    workers.wait_for_a_free_core([Future()], 2)
    workers.wait_for_a_free_core([], 1)
    assert time.perf_counter() - started < 0.1


def test_the_preload_is_frozen_out_of_the_garbage_collector():
    script = (
        "import gc, json\n"
        "from hooks.workers import preload_modules\n"
        "preload_modules(['json', 'no_such_module_here'])\n"
        "print(json.dumps([gc.isenabled(), gc.get_freeze_count()]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    enabled, frozen = json.loads(done.stdout)
    assert enabled, "the collector must be back on for the pages' own garbage"
    assert frozen > 1000


# ------------------------------------------------------------------ early start


def start_early(project):
    """What MkDocs does with the plugin while it reads mkdocs.yml."""
    StartWorkers().load_config({}, str(project / "mkdocs.yml"))
    return workers._shared.get(project.resolve())


def test_the_plugin_starts_the_server_and_an_unused_one_is_stopped(
    tiny_project, monkeypatch
):
    monkeypatch.setattr(workers, "cores", lambda: 2)
    monkeypatch.delenv(workers.WORKERS_ENV, raising=False)
    monkeypatch.delenv(workers.EXECUTE_ENV, raising=False)
    runner = start_early(tiny_project)
    try:
        assert runner is not None and runner._server.poll() is None
        workers.stop_if_unused(tiny_project.resolve())
        assert runner._server is None
    finally:
        workers.discard_runners()


def test_a_server_given_a_page_is_kept(tiny_project, monkeypatch):
    monkeypatch.setattr(workers, "cores", lambda: 2)
    runner = start_early(tiny_project)
    try:
        future, *_ = submit_all(tiny_project, runner, ["01_first"])["01_first"]
        assert future.result(timeout=60) >= 0
        workers.stop_if_unused(tiny_project.resolve())
        assert runner._server.poll() is None
    finally:
        workers.discard_runners()


@pytest.mark.parametrize(
    "env, cores",
    [({"TUTORIALS_EXECUTE": "0"}, 2), ({"TUTORIALS_WORKERS": "0"}, 2), ({}, 1)],
    ids=["execution-off", "in-process", "one-core"],
)
def test_no_early_start_when_it_cannot_help(tiny_project, monkeypatch, env, cores):
    monkeypatch.setattr(workers, "cores", lambda: cores)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        assert start_early(tiny_project) is None
    finally:
        workers.discard_runners()


def test_the_plugin_is_installed_and_loads_before_the_others():
    plugins = yaml_load((ROOT / "mkdocs.yml").read_text())["plugins"]
    assert plugins[0] == "tutorial-workers", "it must load before mkdocs-jupyter"
    names = {e.name for e in entry_points(group="mkdocs.plugins")}
    assert "tutorial-workers" in names, "run `make install` to register it"
