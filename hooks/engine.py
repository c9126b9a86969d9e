"""One build's tutorial pages: each read once, keyed on everything its run
depends on, its cached run reused or the page run, and the run handed back.

Stale pages run side by side, each in a process of its own forked from a server
that imported the tutorials' libraries once (multiprocessing's forkserver),
started in page order by a thread each. Why, and what the key covers, is on
docs/how_it_is_built.md. Nothing here knows about MkDocs (hooks/site.py does).

Environment: TUTORIALS_EXECUTE=0 runs nothing; TUTORIALS_RERUN=1 ignores the
cache; TUTORIALS_WORKERS=N runs at most N pages at once (0: in this process).
"""

from __future__ import annotations

import ast
import atexit
import dataclasses
import functools
import gc
import hashlib
import importlib.util
import json
import multiprocessing
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from hooks import tutorials
from hooks.tutorials import Cell, Page, PageRun, ProseResult, Section, TutorialError

CACHE_DIR = Path(".cache") / "tutorials"  # under the project root
KEEP_PER_PAGE = 3  # cache entries kept per page, the most recently used


@dataclass(frozen=True)
class Inputs:
    """What every run reads besides its code: the data file and the genes, as
    tutorial_code/data_paths.py resolves them."""

    data: str = ""  # the data path
    data_digest: str = "<none>"  # sha256 of its bytes, or why it is unreadable
    genes: tuple[str, ...] = ()
    genes_set: bool = False  # chosen with GBM_GENES rather than the default
    custom: bool = False  # other data or genes than the shipped ones

    @property
    def digest(self) -> str:
        text = json.dumps([self.data_digest, self.genes, self.genes_set])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_inputs(root: Path) -> Inputs:
    """The data and genes of this build. A data path that cannot be read, or a
    malformed gene list, still gets a key: the page then fails in the
    tutorials' code, whose message says what to do."""
    path = root / "tutorial_code" / "data_paths.py"
    if not path.is_file():  # a project without data
        return Inputs()
    # Loaded on its own: importing the package here would shadow later edits.
    spec = importlib.util.spec_from_file_location("_build_data_paths", path)
    rules = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rules)
    data = rules.data_path()
    try:
        digest = hashlib.sha256(Path(data).read_bytes()).hexdigest()
    except OSError as exc:
        digest = f"<unreadable: {type(exc).__name__}>"
    try:
        genes, chosen = tuple(rules.feature_genes()), rules.genes_setting() is not None
    except ValueError:  # the tutorials' GBMDataError
        return Inputs(str(data), digest, ("<malformed>",), True, True)
    return Inputs(str(data), digest, genes, chosen, rules.custom_inputs() is not None)


@functools.lru_cache(maxsize=256)  # by source: the pages share most modules
def imported_names(source: str) -> list[str]:
    """Every name an import statement in `source` could refer to as a module."""
    names = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return names


def cache_key(page: Page, inputs: Inputs, root: Path) -> str:
    """A hash of everything the page's run depends on: the sections it shows,
    its fill-ins' and checks' expressions (not the prose around them), the
    source of every tutorial_code module they import (followed through the
    imports), the data and genes, the requirements, the runner, Python."""
    requirements = root / "requirements.txt"
    parts = [
        sys.version,
        [[s.module, s.name] for s in page.sections],
        [[r.kind, r.expression, r.after] for r in page.results],
        requirements.read_text() if requirements.exists() else "",
        Path(tutorials.__file__).read_text(),
        [inputs.data_digest, inputs.genes, inputs.genes_set],
    ]
    seen, todo = set(), [root / s.module for s in page.sections]
    while todo:
        if (module := todo.pop()) not in seen:
            seen.add(module)
            for name in imported_names(module.read_text(encoding="utf-8")):
                path = root / (name.replace(".", "/") + ".py")
                if name.split(".")[0] == "tutorial_code" and path.exists():
                    todo.append(path)
    parts += [[m.relative_to(root).as_posix(), m.read_text()] for m in sorted(seen)]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def save(run: PageRun, page: Page, key: str, cache_dir: Path) -> None:
    """Store a run. A page keeps its few most recently used entries, so that
    switching the data or the genes back reuses the earlier run."""
    body = dataclasses.asdict(dataclasses.replace(run, namespace={}))
    target = cache_dir / f"{page.path.stem}-{key[:16]}.json"
    cache_dir.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps({"key": key, **body}))
    os.replace(temporary, target)  # whole, at once
    by_use = sorted(cache_dir.glob(f"{page.path.stem}-*.json"), key=_last_used)
    for old in by_use[:-KEEP_PER_PAGE]:
        old.unlink(missing_ok=True)


def _last_used(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # removed by a build running beside this one
        return 0.0


def load(page: Page, key: str, cache_dir: Path) -> PageRun | None:
    """The cached run for this key, or None if absent or damaged."""
    path = cache_dir / f"{page.path.stem}-{key[:16]}.json"
    try:
        body = json.loads(path.read_text())
        if body.pop("key") != key:
            return None
        run = PageRun(**{**body, "page": str(page.path)})
        run.cells = [Cell(Section(**c.pop("section")), **c) for c in run.cells]
        run.results = [ProseResult(**result) for result in run.results]
        os.utime(path)  # used now: kept among the most recent
        return run
    except (OSError, ValueError, KeyError, TypeError):
        return None


def preloaded(root: Path) -> list[str]:
    """What the worker server imports once: its set-up, the build's entry
    script, the engine, and what tutorial_code imports, but not its own
    modules (so that an edit is always seen) and the standard library."""
    modules = (root / "tutorial_code").glob("*.py")
    names = {n for m in modules for n in imported_names(m.read_text(encoding="utf-8"))}
    # (A name that is no module, a function imported from one, fails to import
    # there and is skipped.) The first optimizer step imports torch._dynamo; the
    # first figure shown, plotly's renderers (with IPython and nbformat): a
    # second of every page's time, else.
    extra = {"torch": "torch._dynamo", "plotly": "plotly.io._renderers"}
    names |= {extra[top] for top in {n.split(".")[0] for n in names} & extra.keys()}
    ours = {"tutorial_code", "__future__", *sys.stdlib_module_names}
    found = sorted(name for name in names if name.split(".")[0] not in ours)
    return ["hooks.worker_server", "__main__", "hooks.engine", *found]


def worker_count() -> int:
    """TUTORIALS_WORKERS, or one per core, at most four by default: each
    process holds its own copy of the models and data."""
    workers = os.environ.get("TUTORIALS_WORKERS", "").strip()
    if workers and not workers.isdigit():
        why = "set it to 0 to run tutorials inside the build, or to how many at once"
        raise TutorialError(f"TUTORIALS_WORKERS={workers!r} is not a number: {why}")
    return int(workers) if workers else min(len(os.sched_getaffinity(0)), 4)


@dataclass
class Job:
    page: Page | None = None  # None if it could not be read
    key: str = ""  # empty when execution is off
    run: PageRun | None = None  # None until reused or done
    reused: bool = False
    error: BaseException | None = None  # why it could not be read, or run
    thread: threading.Thread | None = None  # running it in a process of its own


class Build:
    """The tutorial pages of one build. Creating it reads every page (one whose
    frame lacks a key raises FrameError at once), looks it up in the cache and
    starts the stale ones, each in a process of its own; `result(path)` waits
    for one. A build with nothing to run starts no process."""

    def __init__(self, root: Path, paths: list[Path]):
        self.root, self.cache_dir = root, root / CACHE_DIR
        self.execute = os.environ.get("TUTORIALS_EXECUTE", "1") != "0"
        self.inputs = read_inputs(root)
        # One folder per data and genes: builds on other data never overwrite it.
        folder = self.inputs.digest if self.execute else "unexecuted"
        self.notebook_dir = root / ".cache" / "notebooks" / folder
        self.jobs = {path: self._plan(path) for path in paths}
        self.processes, self.lock, self.stopping = set(), threading.Lock(), False
        stale = [job for job in self.jobs.values() if job.key and job.run is None]
        if stale and (workers := worker_count()):
            self._start(stale, workers)

    def _plan(self, path: Path) -> Job:
        try:
            job = Job(tutorials.read_page(path, self.root))
        except tutorials.FrameError:
            raise
        except TutorialError as exc:
            return Job(error=exc)
        if not self.execute:
            job.run = tutorials.unexecuted(job.page)
            return job
        job.key = cache_key(job.page, self.inputs, self.root)
        if os.environ.get("TUTORIALS_RERUN") != "1":
            job.run = load(job.page, job.key, self.cache_dir)
        job.reused = job.run is not None
        return job

    def _start(self, stale: list[Job], workers: int) -> None:
        """A thread per stale page, started in page order (the order they are
        rendered in), each running its page in a process of its own once one
        of `workers` slots is free."""
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(preloaded(self.root))  # at its start
        slots, env = threading.Semaphore(workers), dict(os.environ)
        atexit.register(self.close, cancel=True)  # after Ctrl-C: stop them
        for job in stale:
            job.thread = threading.Thread(target=self._work, args=(job, env, slots))
            job.thread.daemon = True  # Ctrl-C does not wait for it
            job.thread.start()

    def _work(self, job: Job, env: dict[str, str], slots: threading.Semaphore):
        """Run the page in a process of its own (the server's environment may
        be older than `env`, the build's): its run, or its error, in `job`."""
        receive, send = self.context.Pipe(duplex=False)
        args = (job.page, job.key, self.root, env, send)
        process = self.context.Process(target=run_in_worker, args=args)
        try:
            with slots:
                with self.lock:  # close() sees this process, or stops its start
                    if self.stopping:
                        raise TutorialError("the build was stopped")
                    process.start()
                    self.processes.add(process)
                send.close()  # the child holds the other end: EOF when it dies
                outcome = receive.recv()
        except EOFError:
            outcome = TutorialError(
                f"the process running {job.page.path.name} stopped without a "
                "Python error: killed, out of memory, or a crash in native code. "
                "Build with TUTORIALS_WORKERS=0 to see the crash."
            )
        except BaseException as exc:
            outcome = exc
        if process.pid is not None:
            process.join()
        with self.lock:
            self.processes.discard(process)
        failed = isinstance(outcome, BaseException)
        job.run, job.error = (None, outcome) if failed else (outcome, None)

    def result(self, path: Path) -> Job:
        """The page's job with its run, waiting for it (or running it here with
        TUTORIALS_WORKERS=0). Raises TutorialError if it failed, or if a
        sentence's check fails on the shipped data and genes."""
        job = self.jobs[path]
        # A timed wait, again and again: Python sees Ctrl-C only between waits
        # when the kernel hands SIGINT to another thread of the build.
        while job.thread is not None and job.thread.is_alive():
            job.thread.join(0.1)
        if job.error is not None:
            raise job.error
        if job.run is None:
            tutorials.forget_tutorial_modules()  # so that edits are seen
            job.run = tutorials.run_page(job.page, self.root)
            save(job.run, job.page, job.key, self.cache_dir)
        if job.run.not_so and not self.inputs.custom:
            lines = [f"{job.page.name}: not so on the shipped data:"]
            for r in job.run.not_so:
                outcome = f"raised {r.error}" if r.error else "is false"
                lines.append(
                    f'  "{r.sentence}"\n    {r.kind}: {r.expression} {outcome}'
                )
            lines.append("Correct the sentence, or its check or fill-in.")
            raise TutorialError("\n".join(lines))
        return job

    def close(self, cancel: bool = False) -> None:
        """Wait for the pages' processes; with cancel, stop them instead and
        start no more."""
        atexit.unregister(self.close)
        with self.lock:
            self.stopping = cancel
            for process in self.processes if cancel else ():
                process.terminate()
        for job in self.jobs.values():
            if job.thread is not None:
                job.thread.join()


def run_in_worker(page: Page, key: str, root: Path, env: dict, send) -> None:
    """In a page's own process: run it, store its entry, send back its run
    (the namespace stays: it holds models and modules), or its error."""
    # Ctrl-C reaches every process of the build: leave at once and quietly;
    # the build reports it.
    signal.signal(signal.SIGINT, lambda *_: os._exit(130))
    gc.freeze()  # what the server imported: never scanned again
    gc.enable()
    os.environ.clear()  # this process's own, set to the build's as it is now
    os.environ.update(env)
    try:
        run = tutorials.run_page(page, root)
        save(run, page, key, root / CACHE_DIR)
        send.send(dataclasses.replace(run, namespace={}))
    except Exception as exc:  # not a TutorialError: a bug of the build itself
        send.send(exc if isinstance(exc, TutorialError) else TutorialError(repr(exc)))


def tutorial_pages(docs: Path) -> list[Path]:
    """The pages under `docs` that show tutorial code, in file-name order."""
    return sorted(p.resolve() for p in docs.rglob("*.md") if tutorials.is_tutorial(p))
