"""Run the pages whose cached run is stale in worker processes, during the build.

While workers run tutorial code, MkDocs goes on reading and rendering the pages
that do not need them; the build waits only when it reaches a page whose run
is still going (see site_hooks.py).

The build starts one *worker server* (``python -m hooks.workers``) that imports
the libraries the tutorials use once (torch, scikit-learn and pandas take
seconds) and then forks a fresh child for every page, so each page pays only
for its own computation and no state leaks from one page's run into another's.
Tutorial modules are never preloaded, so an edit to them is always seen. A
child writes the page's cache entry and reports back one line of JSON; the
build then loads the entry, so a page reaches the site only through the
validated cache. The server and its children leave with ``os._exit``: tearing
down an interpreter that has imported torch takes seconds and saves nothing.

``TUTORIALS_WORKERS=0`` runs the pages inside the build process, one after the
other (for a debugger, or to see a crash's own traceback); another number sets
how many pages run at once (default: one per CPU core, at most 4).
"""

from __future__ import annotations

import ast
import atexit
import contextlib
import gc
import itertools
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path

from hooks.cache import run_and_save
from hooks.tutorials import ROOT, TutorialError

EXECUTE_ENV = "TUTORIALS_EXECUTE"  # "0": build without running any tutorial
WORKERS_ENV = "TUTORIALS_WORKERS"
MAX_DEFAULT_WORKERS = 4  # each worker holds its own copy of the models and data


def executing() -> bool:
    return os.environ.get(EXECUTE_ENV, "1") != "0"


def cores() -> int:
    """The CPU cores this process may use (under taskset or a container, fewer
    than the machine has)."""
    return len(os.sched_getaffinity(0))


def worker_count() -> int:
    value = os.environ.get(WORKERS_ENV, "").strip()
    if not value:
        return min(cores(), MAX_DEFAULT_WORKERS)
    if not value.isdigit():
        raise TutorialError(
            f"{WORKERS_ENV}={value!r} is not a number: set it to 0 to run "
            "tutorials inside the build, or to how many may run at once"
        )
    return int(value)


def third_party_imports(root: Path) -> list[str]:
    """Modules that tutorial_code imports at module level, other than its own
    and the standard library's: what is worth importing once, up front."""
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
        # The first torch.optim optimizer imports torch._dynamo (~2 s).
        found.append("torch._dynamo")
    return found


# ------------------------------------------------------------------ build side


class PageRunner:
    """Runs pages in the worker server; `submit` returns a Future of the run's
    seconds that resolves once the page's cache entry is written."""

    def __init__(self, root: Path = ROOT, workers: int | None = None):
        self.root = root
        self.workers = worker_count() if workers is None else workers
        self._server: subprocess.Popen | None = None
        self._futures: dict[int, Future] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self.used = False  # given a page to run since it was made

    def start(self) -> None:
        """Start the server now, unless it runs already (or workers is 0)."""
        if self.workers and self._server is None:
            self._start_server()

    def submit(self, page: Path, key: str, cache_dir: Path) -> Future:
        future: Future = Future()
        self.used = True
        if self.workers == 0:
            try:
                run = run_and_save(page, key, self.root, cache_dir)
                future.set_result(run.seconds)
            except TutorialError as exc:
                future.set_exception(exc)
            return future
        server = self._server or self._start_server()
        request = {
            "id": next(self._ids),
            "page": str(page),
            "key": key,
            "root": str(self.root),
            "cache_dir": str(cache_dir),
        }
        with self._lock:
            self._futures[request["id"]] = future
        try:
            server.stdin.write(json.dumps(request) + "\n")
            server.stdin.flush()
        except OSError:  # the server is gone and will never answer
            with self._lock:
                orphan = self._futures.pop(request["id"], None)
            if orphan is not None:
                orphan.set_exception(server_gone())
        return future

    def _start_server(self) -> subprocess.Popen:
        command = [sys.executable, "-m", "hooks.workers", str(self.workers)]
        self._server = subprocess.Popen(
            command + third_party_imports(self.root),
            cwd=ROOT,  # where the hooks package is; pages run in self.root
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._collect_replies, daemon=True).start()
        return self._server

    def _collect_replies(self) -> None:
        for line in self._server.stdout:
            reply = json.loads(line)
            with self._lock:
                future = self._futures.pop(reply["id"])
            if "error" in reply:
                future.set_exception(TutorialError(reply["error"]))
            else:
                future.set_result(reply["seconds"])
        with self._lock:  # the server is gone: nothing else will answer
            left, self._futures = self._futures, {}
        for future in left.values():
            future.set_exception(server_gone())

    def close(self) -> None:
        """Stop the server, and any page still running."""
        if self._server is None:
            return
        with contextlib.suppress(OSError):
            self._server.stdin.close()
        self._server.terminate()
        self._server.wait()
        self._server = None


def server_gone() -> TutorialError:
    return TutorialError(
        "the tutorial worker server stopped before this page finished. Run the "
        f"build with {WORKERS_ENV}=0 to run the page inside the build and see why."
    )


_shared: dict[Path, PageRunner] = {}


def shared_runner(root: Path) -> PageRunner:
    """One runner per project for the life of the process: under
    `mkdocs serve` the server keeps its imports from one rebuild to the next."""
    if root not in _shared:
        _shared[root] = PageRunner(root)
        atexit.register(_shared[root].close)
    return _shared[root]


def wait_for_a_free_core(runs: Iterable[Future], available: int = 0) -> None:
    """Return once the page runs still going leave a core free.

    Rendering a tutorial page and converting its notebook cost the build a
    second or more of CPU. While workers keep every core busy, doing that work
    would only slow down the longest page, which the build must wait for in
    the end; waiting for a worker to finish first does not.
    """
    running = {run for run in runs if not run.done()}
    while len(running) >= (available or cores()):
        _, running = wait(running, return_when=FIRST_COMPLETED)


def stop_if_unused(root: Path) -> None:
    """A server started early (early_start.py) for a build that turns out to
    have nothing to run is stopped at once."""
    runner = _shared.get(root)
    if runner is not None and not runner.used:
        runner.close()


def discard_runners() -> None:
    """After a failed build: stop what is still running, start afresh next time."""
    while _shared:
        _, runner = _shared.popitem()
        atexit.unregister(runner.close)
        runner.close()


# ------------------------------------------------------------------ server side


def run_page_in_child(request: dict) -> dict:
    """In a forked child: run the page, write its entry, return the reply."""
    try:
        run = run_and_save(
            Path(request["page"]),
            request["key"],
            Path(request["root"]),
            Path(request["cache_dir"]),
        )
        # Only the seconds travel back; the build reads the outputs from the entry.
        return {"id": request["id"], "seconds": run.seconds}
    except TutorialError as exc:
        return {"id": request["id"], "error": str(exc)}
    except BaseException:
        return {"id": request["id"], "error": traceback.format_exc()}


def fork_child(request: dict) -> tuple[int, int]:
    """(pid, fd to read its reply from)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.close(read_end)
        reply = json.dumps(run_page_in_child(request)).encode()
        with os.fdopen(write_end, "wb") as out:
            out.write(reply)
        os._exit(0)
    os.close(write_end)
    return pid, read_end


def exit_status(pid: int) -> str:
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


def died_reply(request: dict, status: str) -> bytes:
    page = Path(request["page"]).name
    message = (
        f"the worker running {page} died without a Python error ({status}: "
        "killed, out of memory, or a crash in native code). Run the build with "
        f"{WORKERS_ENV}=0 to run the page inside the build and see the crash itself."
    )
    return json.dumps({"id": request["id"], "error": message}).encode()


def preload_modules(names: list[str]) -> None:
    """Import what every page needs, once, before any child is forked.

    The garbage collector is off meanwhile: imports create millions of objects
    that live until the end, and collecting would only scan them again and
    again (this alone saves about a second). gc.freeze() then moves them out
    of the collector's sight, so the children's collections skip them too, and
    do not write to, and so copy, the memory pages they share with the server.
    """
    gc.disable()
    for name in names:
        try:
            __import__(name)
        except ImportError:
            pass  # the page that needs it reports the error itself
    gc.freeze()
    gc.enable()


def serve(workers: int, preload: list[str]) -> None:
    """Read requests (JSON lines) on stdin, run up to `workers` pages at once
    and answer each with one JSON line on stdout. End of input means the build
    is over or gone: pages still running are stopped, and the server leaves."""
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints from libraries or children must not garble replies
    # Ctrl-C reaches the whole process group; the build's exit then ends us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    preload_modules(preload)
    running: dict[int, tuple[int, dict, bytearray]] = {}  # fd -> (pid, request, reply)
    queued: list[dict] = []

    def stop(*_):
        for pid, *_ in running.values():
            os.kill(pid, signal.SIGTERM)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)  # the build was cancelled
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ)
    pending_input = b""
    while True:
        while queued and len(running) < workers:
            request = queued.pop(0)
            pid, fd = fork_child(request)
            running[fd] = (pid, request, bytearray())
            selector.register(fd, selectors.EVENT_READ)
        for event, _ in selector.select():
            fd = event.fd
            chunk = os.read(fd, 65536)
            if fd == 0:
                if not chunk:
                    stop()
                *lines, pending_input = (pending_input + chunk).split(b"\n")
                queued += [json.loads(line) for line in lines if line.strip()]
            elif chunk:
                running[fd][2].extend(chunk)
            else:
                selector.unregister(fd)
                os.close(fd)
                pid, request, reply = running.pop(fd)
                status = exit_status(pid)  # also reaps the child
                try:
                    replies.write((reply or died_reply(request, status)) + b"\n")
                    replies.flush()
                except BrokenPipeError:  # the build is gone
                    stop()


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2:])
