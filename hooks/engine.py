"""One build's tutorial pages: collect each page's sections, compute its key,
reuse the cached run or run the page, and hand back its outputs and figures.

Stale pages run side by side, each in a fresh process forked from a server
that has imported the tutorials' libraries once (multiprocessing's
forkserver). The design is described on docs/how_it_is_built.md; this module
knows nothing of MkDocs (the adapter is hooks/site_hooks.py).

As a command, it writes every tutorial's notebooks (full and learner) into a
folder without MkDocs, running stale pages as a build would (`make lab`):

    python -m hooks.engine notebooks notebooks/

Environment: TUTORIALS_EXECUTE=0 builds without running anything;
TUTORIALS_RERUN=1 ignores the cache; TUTORIALS_WORKERS=N runs at most N pages
at once (0: inside the build process, one after the other).
"""

from __future__ import annotations

import argparse
import ast
import atexit
import multiprocessing
import os
import queue
import signal
import sys
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from hooks.cache import CACHE_DIR, Inputs, lookup, read_inputs, run_and_save
from hooks.frame import FrameError
from hooks.notebooks import write_notebooks
from hooks.page_output import other_inputs_note
from hooks.tutorials import (
    ROOT,
    PageRun,
    Section,
    TutorialError,
    forget_tutorial_modules,
    is_tutorial,
    page_name,
    unexecuted_run,
)

EXECUTE_ENV = "TUTORIALS_EXECUTE"
WORKERS_ENV = "TUTORIALS_WORKERS"
MAX_DEFAULT_WORKERS = 4  # each process holds its own copy of the models and data
NOTEBOOK_DIR = Path(".cache") / "notebooks"  # under the project root
PRELOAD_ENV = "TUTORIALS_PRELOAD"  # read by hooks/worker_server.py, in the server


def executing() -> bool:
    return os.environ.get(EXECUTE_ENV, "1") != "0"


def worker_count() -> int:
    value = os.environ.get(WORKERS_ENV, "").strip()
    if not value:
        return min(len(os.sched_getaffinity(0)), MAX_DEFAULT_WORKERS)
    if not value.isdigit():
        raise TutorialError(
            f"{WORKERS_ENV}={value!r} is not a number: set it to 0 to run "
            "tutorials inside the build, or to how many may run at once"
        )
    return int(value)


def third_party_imports(root: Path) -> list[str]:
    """Modules that tutorial_code imports at module level, other than its own
    and the standard library's: what the worker server imports once."""
    names = set()
    for module in sorted((root / "tutorial_code").glob("*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
    ours_or_stdlib = {"tutorial_code", "__future__", *sys.stdlib_module_names}
    found = sorted(n for n in names if n.split(".")[0] not in ours_or_stdlib)
    if "torch" in found:
        found.append("torch._dynamo")  # the first optimizer step imports it
    if any(name.split(".")[0] == "plotly" for name in found):
        # The first figure shown imports plotly's renderers, and with them
        # IPython and nbformat: a second of every page's time, else.
        found.append("plotly.io._renderers")
    return found


@dataclass
class PageJob:
    page: Path
    sections: list[Section] = field(default_factory=list)
    key: str = ""  # empty when execution is off
    run: PageRun | None = None  # None until the run is reused or done
    reused: bool = False
    future: Future | None = None  # the run in a worker process
    error: TutorialError | None = None  # found before the page could run


class Build:
    """The tutorial pages of one build. Creating it looks every page up in
    the cache and starts the stale ones in worker processes; `result(page)`
    waits for one page. A build with nothing to run starts no process."""

    def __init__(self, root: Path, pages: list[Path]):
        self.root = root
        self.execute = executing()
        self.workers = worker_count() if self.execute else 0
        self.cache_dir = root / CACHE_DIR
        forget_tutorial_modules()  # so that edits are seen by in-process runs
        self.inputs: Inputs = read_inputs(root)
        folder = self.inputs.digest if self.execute else "unexecuted"
        # One folder per data and genes: builds on other data never overwrite these.
        self.notebook_dir = root / NOTEBOOK_DIR / folder
        self.jobs = {page: self._plan(page) for page in pages}
        self._processes: set = set()  # the pages' processes still running
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stopping = False
        # In the order given, which is the order the pages are rendered (and
        # waited for) in: the site's renderer works on each page as its run is in.
        stale = [job for job in self.jobs.values() if job.run is None and job.key]
        if stale and self.workers:
            self._start_workers(stale)

    def _plan(self, page: Path) -> PageJob:
        job = PageJob(page)
        try:
            if not self.execute:
                job.run = unexecuted_run(page, self.root)
            else:
                job.sections, job.key, job.run = lookup(page, self.inputs, self.root)
                job.reused = job.run is not None
        except TutorialError as exc:
            job.error = exc
        return job

    # -------------------------------------------------------------- workers

    def _start_workers(self, stale: list[PageJob]) -> None:
        """Threads that each start a page's process, wait for its result and
        take the next page, until none is left: at most `workers` at once.
        Starting a process waits for the server's imports: not on the build's
        time."""
        self._context = multiprocessing.get_context("forkserver")
        # Read once, when the server starts (the first build of this process).
        os.environ[PRELOAD_ENV] = ",".join(third_party_imports(self.root))
        # The build's entry script and this module too: else every worker
        # process would import them again before its page could start.
        self._context.set_forkserver_preload(
            ["__main__", "hooks.worker_server", "hooks.engine"]
        )
        todo: queue.SimpleQueue = queue.SimpleQueue()
        for job in stale:
            job.future = Future()
            todo.put(job)
        # After Ctrl-C, stop the pages still running.
        atexit.register(self.close, cancel=True)
        env = dict(os.environ)  # the server may have started with another one
        for _ in range(min(self.workers, len(stale))):
            thread = threading.Thread(target=self._work, args=(todo, env), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _work(self, todo: queue.SimpleQueue, env: dict[str, str]) -> None:
        while True:
            try:
                job = todo.get_nowait()
            except queue.Empty:
                return
            if not job.future.set_running_or_notify_cancel():
                continue  # cancelled by close()
            try:
                job.future.set_result(self._run_in_process(job, env))
            except BaseException as exc:
                job.future.set_exception(exc)

    def _run_in_process(self, job: PageJob, env: dict[str, str]) -> PageRun:
        """Run one page in a process of its own; its run, or its error."""
        receive, send = self._context.Pipe(duplex=False)
        args = (job.page, job.key, self.root, self.cache_dir, env, send)
        process = self._context.Process(target=run_in_worker, args=args)
        process.start()
        send.close()  # the child holds the other end: EOF when it dies
        with self._lock:
            self._processes.add(process)
            stopping = self._stopping
        if stopping:  # close() ran while this process started
            process.terminate()
        try:
            outcome = receive.recv()
        except EOFError:
            outcome = None
        finally:
            receive.close()
            process.join()
            with self._lock:
                self._processes.discard(process)
        if outcome is None:
            raise TutorialError(
                f"the process running {job.page.name} stopped without a Python "
                f"error (exit code {process.exitcode}): killed, out of memory, or "
                f"a crash in native code. Build with {WORKERS_ENV}=0 to run the "
                "pages inside the build and see the crash."
            )
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def result(self, page: Path) -> PageJob:
        """The page's job with its run, waiting for it (or running it in this
        process with TUTORIALS_WORKERS=0). Raises TutorialError if it failed,
        or if a sentence's check fails on the shipped data and genes."""
        job = self.jobs[page]
        if job.error is not None:
            raise job.error
        if job.run is None and job.future is None:
            job.run = run_and_save(page, job.key, self.root, self.cache_dir)
        elif job.run is None:
            job.run = job.future.result()
        if job.run.not_so and not self.inputs.custom:
            raise TutorialError(not_so_on_shipped_data(page, job.run, self.root))
        return job

    def close(self, cancel: bool = False) -> None:
        """Wait for the pages' processes; with cancel, stop them instead and
        start no more."""
        if not self._threads:
            return
        atexit.unregister(self.close)
        with self._lock:
            self._stopping = cancel
            running = list(self._processes)
        if cancel:
            for job in self.jobs.values():
                if job.future is not None:
                    job.future.cancel()  # the pages not started yet
            for process in running:
                process.terminate()
        for thread in self._threads:
            thread.join()
        self._threads = []


def not_so_on_shipped_data(page: Path, run: PageRun, root: Path) -> str:
    """The sentences of a page whose checks fail (or fill-ins raise) on the
    shipped data, where the prose must hold: each with its expression."""
    lines = [f"{page_name(page, root)}: not so on the shipped data:"]
    for result in run.not_so:
        outcome = f"raised {result.error}" if result.error else "is false"
        lines.append(
            f'  "{result.sentence}"\n    {result.kind}: {result.expression} {outcome}'
        )
    lines.append("Correct the sentence, or its check or fill-in.")
    return "\n".join(lines)


def run_in_worker(
    page: Path, key: str, root: Path, cache_dir: Path, env: dict[str, str], send
) -> None:
    """In a page's own process: run the page, store its entry, send back its
    outputs (the namespace stays behind: it holds models and modules), or the
    error that stopped it."""
    # Ctrl-C reaches every process of the build: leave at once and quietly;
    # the build reports it.
    signal.signal(signal.SIGINT, lambda *_: os._exit(130))
    os.environ.clear()
    os.environ.update(env)
    try:
        run = run_and_save(page, key, root, cache_dir)
        run.namespace = {}
        send.send(run)
    except TutorialError as exc:
        send.send(exc)
    except Exception as exc:  # a bug of the build itself: say what it was
        send.send(TutorialError(f"{type(exc).__name__}: {exc}"))
    send.close()


# ------------------------------------------------------------------ notebooks


def tutorial_pages(docs: Path) -> list[Path]:
    """The pages under `docs` that show tutorial code, in file-name order."""
    return sorted(p.resolve() for p in docs.rglob("*.md") if is_tutorial(p))


def configured_site_url(root: Path) -> str:
    """site_url as the project's mkdocs.yml sets it, its !ENV tag read the way
    MkDocs reads it (the first variable set, else the last item)."""

    class Loader(yaml.SafeLoader):
        pass

    def env(loader, node):
        if isinstance(node, yaml.SequenceNode):
            *names, default = loader.construct_sequence(node)
        else:
            names, default = [loader.construct_scalar(node)], None
        return next((os.environ[n] for n in names if n in os.environ), default)

    Loader.add_constructor("!ENV", env)
    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    config = yaml.load((root / "mkdocs.yml").read_text(encoding="utf-8"), Loader)
    site_url = (config or {}).get("site_url")
    if not site_url:
        raise TutorialError(
            "mkdocs.yml sets no site_url: the notebooks link to the published "
            "site, so give its address there"
        )
    return site_url


def write_all_notebooks(root: Path, folder: Path, site_url: str) -> list[Path]:
    """Every tutorial's full and learner notebook, written into `folder` from
    the cached runs (running the stale pages first)."""
    pages = tutorial_pages(root / "docs")
    build = Build(root, pages)
    note = other_inputs_note(build.inputs)
    written: list[Path] = []
    try:
        for page in pages:
            run = build.result(page).run
            written += write_notebooks(folder, page, run, site_url, note)
    finally:
        build.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hooks.engine")
    commands = parser.add_subparsers(dest="command", required=True)
    notebooks = commands.add_parser(
        "notebooks",
        help="write every tutorial's full and learner notebook into FOLDER, "
        "running the pages whose cached run is stale",
    )
    notebooks.add_argument("folder", type=Path)
    notebooks.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        written = write_all_notebooks(root, args.folder, configured_site_url(root))
    except (TutorialError, FrameError) as exc:
        print(f"notebooks: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    # Through the module's own name, so that the worker processes find the
    # functions they run under it (not under __main__).
    from hooks.engine import main as engine_main

    sys.exit(engine_main())
