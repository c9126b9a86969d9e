"""Run once, reuse: how long the site takes to build, and against what.

    python benchmarks/build_times.py [--reps N] [--anchor-reps N] [--strict]

Everything runs in throw-away copies of the repository (without .venv, site,
.git and caches), with this repository's virtual environment, on this
machine, in one go. Each scenario is timed with time.perf_counter around a
whole process (`mkdocs build --strict -d <tmp>` unless stated) and
reported as the median of --reps runs (default 3). The scenarios run in
rounds (one of each, then again), so background load is spread evenly:

cold          empty execution cache (.cache/ deleted before each run)
warm          nothing changed since the previous build
md edit       a sentence appended to docs/06_autoencoders.md before each run
module edit   a comment appended to tutorial_code/autoencoders.py before each
              run (only the pages using that module should run again)
compute       FLOOR part (a): one Python process imports the stack and runs
              every tutorial page's code (hooks.tutorials.run_page), no MkDocs
off, cold     FLOOR part (b): TUTORIALS_EXECUTE=0 build from an empty .cache
              (renders every page and notebook, runs no tutorial code)
off, warm     TUTORIALS_EXECUTE=0 build with its caches filled
naive anchor  the generated notebooks, outputs stripped, built by
              mkdocs-jupyter with execute: true and its cache off (the usual
              "execute the notebooks" setup); --anchor-reps runs (default 3)

floor = compute + off, cold: what running the code and then building, one
after the other, must cost at least. (The build runs stale pages in worker
processes while it renders the rest, so a cold build can beat the floor.)
Targets (FAIL makes the exit status 1 only with --strict): cold <= 0.8 x
floor; warm <= 1.2 x off, warm; naive >= 2.8 x cold; a prose edit runs no
page; a module edit runs exactly the pages whose code imports that module.
Results also go to benchmarks/results/build_times.json and .md (git-ignored).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MKDOCS = BIN / "mkdocs"
RESULTS = ROOT / "benchmarks" / "results"
NOT_COPIED = (
    ".venv",
    "site",
    ".git",
    ".cache",
    ".pytest_cache",
    ".ruff_cache",
    "__pycache__",
    "screenshots",
    "results",
)
EDITED_PAGE = "docs/06_autoencoders.md"
EDITED_MODULE = "tutorial_code/autoencoders.py"
PAGE_LOG = re.compile(
    r"INFO\s+-\s+(?P<page>\S+\.md): (?P<what>ran|reused cached run|not executed) "
    r"\((?P<seconds>[\d.]+) s"
)
NOTEBOOK_CONVERTED = re.compile(r"Converting notebook \(execute=\w+\): (?P<path>\S+)")
# Runs every tutorial page exactly as the hook does, in one process, from the copy.
COMPUTE_SCRIPT = """
import sys
from pathlib import Path
sys.path.insert(0, ".")
from hooks.tutorials import is_tutorial, run_page
for page in sorted(Path("docs").rglob("*.md")):
    if is_tutorial(page):
        run_page(page.resolve(), Path(".").resolve())
        print(page.name)
"""
OFF = {"TUTORIALS_EXECUTE": "0"}
TUTORIAL_ENV = (
    "TUTORIALS_EXECUTE",
    "TUTORIALS_RERUN",
    "TUTORIALS_WORKERS",
    "GBM_DATA",
    "GBM_GENES",
    "PYTHONPATH",
)


@dataclass
class Run:
    seconds: float
    cpu: float
    ran: list[str] = field(default_factory=list)  # pages whose code ran
    reused: list[str] = field(default_factory=list)
    converted: list[str] = field(default_factory=list)  # notebooks nbconvert rendered


@dataclass
class Scenario:
    name: str
    runs: list[Run] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def median_cpu(self) -> float:
        return statistics.median(r.cpu for r in self.runs)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in TUTORIAL_ENV}
    return {**env, "NO_MKDOCS_2_WARNING": "1", **extra}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the process and its children, output)."""
    cpu = children_cpu()
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"FAILED ({done.returncode}): {' '.join(cmd)} in {cwd}\n{done.stderr}")
    return seconds, children_cpu() - cpu, done.stdout + done.stderr


def build(project: Path, site_dir: Path, **env: str) -> Run:
    cmd = [str(MKDOCS), "build", "--strict", "-d", str(site_dir)]
    seconds, cpu, log = timed(cmd, project, clean_env(**env))
    run = Run(seconds, cpu)
    for match in PAGE_LOG.finditer(log):
        if match["what"] == "ran":
            run.ran.append(match["page"])
        elif match["what"] == "reused cached run":
            run.reused.append(match["page"])
    run.converted = [Path(m["path"]).name for m in NOTEBOOK_CONVERTED.finditer(log)]
    return run


def copy_repo(dest: Path) -> Path:
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(*NOT_COPIED))
    return dest


def empty_cache(project: Path) -> None:
    shutil.rmtree(project / ".cache", ignore_errors=True)


def progress(name: str, run: Run) -> None:
    ran = ", ".join(run.ran) or "none"
    line = f"  {name:<12} {run.seconds:6.2f} s (CPU {run.cpu:6.2f} s)  ran: {ran}"
    print(line, file=sys.stderr, flush=True)


def executed_notebooks(project: Path) -> Path:
    """Where the build wrote the executed notebooks (one folder per data)."""
    folders = project / ".cache" / "notebooks"
    (found,) = [f for f in folders.iterdir() if f.name != "unexecuted"]
    return found / "notebooks"


def pages_importing(project: Path, module: Path) -> list[str]:
    """The tutorial pages whose run depends on `module`: those whose cache key
    changes when it is edited (the key follows each page's imports)."""
    sys.path.insert(0, str(project))
    from hooks.engine import cache_key, read_inputs, tutorial_pages
    from hooks.tutorials import read_page

    def keys():
        inputs = read_inputs(project)
        pages = tutorial_pages(project / "docs")
        return {
            p.name: cache_key(read_page(p, project), inputs, project) for p in pages
        }

    source = module.read_text(encoding="utf-8")
    before = keys()
    module.write_text(source + "# an edit\n", encoding="utf-8")
    try:
        after = keys()
    finally:
        module.write_text(source, encoding="utf-8")
        sys.path.remove(str(project))
    return sorted(page for page in before if before[page] != after[page])


# ------------------------------------------------------------------ naive anchor


def anchor_project(notebooks: Path, dest: Path) -> Path:
    """A minimal MkDocs project that executes the notebooks itself."""
    import nbformat

    docs = dest / "docs"
    docs.mkdir(parents=True)
    # The full notebooks only: the learner versions hold no solutions.
    full = [n for n in notebooks.glob("*.ipynb") if not n.stem.endswith("-learner")]
    for source in sorted(full):
        notebook = nbformat.read(source, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
        nbformat.write(notebook, docs / source.name)
    (docs / "index.md").write_text("# Notebooks\n", encoding="utf-8")
    (dest / "mkdocs.yml").write_text(
        "site_name: Naive anchor\n"
        "theme:\n  name: material\n"
        "plugins:\n"
        "  - mkdocs-jupyter:\n"
        "      execute: true\n"
        "      cache: false\n"
        "      allow_errors: false\n"
        "      kernel_name: python3\n",
        encoding="utf-8",
    )
    return dest


# ------------------------------------------------------------------ report


def machine() -> str:
    model = ""
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"{os.cpu_count()} cores ({model or platform.processor()}), "
        f"Python {platform.python_version()}, {platform.system()}"
    )


def target(name, seconds, versus, reference, relation, factor):
    """(passed, line) for a ratio target such as cold <= 1.5 x floor."""
    ratio = seconds / reference
    ok = ratio <= factor if relation == "<=" else ratio >= factor
    return ok, (
        f"{name} {seconds:.1f} s = {ratio:.2f} x {versus} {reference:.1f} s "
        f"(target {relation} {factor:g})"
    )


def loadavg() -> str:
    with open("/proc/loadavg", encoding="utf-8") as f:
        return " ".join(f.read().split()[:3])


def table(scenarios: dict[str, Scenario], floor: float) -> str:
    rows = [
        "| build | median s | runs (s) | CPU s | tutorial pages run "
        "| notebooks rendered |",
        "| ----- | ---: | ---- | ---: | ---- | ---: |",
    ]
    for scenario in scenarios.values():
        runs = ", ".join(f"{r.seconds:.1f}" for r in scenario.runs)
        last = scenario.runs[-1]
        ran = ", ".join(p.removesuffix(".md") for p in last.ran) or "none"
        rows.append(
            f"| {scenario.name} | {scenario.median:.1f} | {runs} | "
            f"{scenario.median_cpu:.1f} | {ran} | "
            f"{len(last.converted)} |"
        )
    rows.append(f"| **floor** = compute + off, cold | {floor:.1f} | | | | |")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--anchor-reps", type=int, default=3)
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 if a target fails"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    load_before = loadavg()

    with tempfile.TemporaryDirectory(prefix="build-times-") as tmp:
        tmp = Path(tmp)
        repo = copy_repo(tmp / "repo")
        repo_off = copy_repo(tmp / "repo-off")  # its own caches: no cross-talk
        site = tmp / "site"
        page = repo / EDITED_PAGE
        module = repo / EDITED_MODULE
        page_text, module_text = page.read_text(), module.read_text()
        print(f"Copies of {ROOT} in {tmp}; {args.reps} runs each", file=sys.stderr)

        def cold(_):
            empty_cache(repo)
            return build(repo, site)

        def md_edit(i):
            with page.open("a", encoding="utf-8") as md:
                md.write(f"\nThis sentence was added by benchmark run {i}.\n")
            return build(repo, site)

        def module_edit(i):
            with module.open("a", encoding="utf-8") as py:
                py.write(f"# benchmark edit {i}\n")
            return build(repo, site)

        def off_cold(_):
            empty_cache(repo_off)
            return build(repo_off, site, **OFF)

        def compute(_):
            cmd = [sys.executable, "-c", COMPUTE_SCRIPT]
            seconds, cpu, output = timed(cmd, repo, clean_env())
            return Run(seconds, cpu, ran=output.split())

        def anchor_build(_):
            return build(anchor, tmp / "anchor-site", **anchor_env)

        # Inside the copy: a notebook finds the course's modules by walking up.
        anchor = repo / "naive-anchor"
        anchor_env = {
            "PYTHONPATH": str(repo),
            "GBM_DATA": str(repo / "tutorial_code" / "data" / "gbm_data.csv"),
        }
        # Rounds, not blocks: background load then weighs on every scenario alike.
        plan = [
            ("cold", "cold", cold),
            ("warm", "warm", lambda _: build(repo, site)),
            ("md", "md edit", md_edit),
            ("module", "module edit", module_edit),
            ("compute", "compute", compute),
            ("off_cold", "off, cold", off_cold),
            ("off_warm", "off, warm", lambda _: build(repo_off, site, **OFF)),
            ("naive", "naive anchor", anchor_build),
        ]
        s = {key: Scenario(name) for key, name, _ in plan}
        for index in range(max(args.reps, args.anchor_reps)):
            for key, name, once in plan:
                if index >= (args.anchor_reps if key == "naive" else args.reps):
                    continue
                run = once(index)
                progress(name, run)
                s[key].runs.append(run)
                if key == "cold" and index == 0:
                    anchor_project(executed_notebooks(repo), anchor)
        importing = pages_importing(repo, module)
        page.write_text(page_text)
        module.write_text(module_text)
        load = loadavg()

    floor = s["compute"].median + s["off_cold"].median
    cold, warm = s["cold"].median, s["warm"].median
    off_warm, naive = s["off_warm"].median, s["naive"].median
    ran_after_md = sorted({p for r in s["md"].runs for p in r.ran})
    ran_after_module = [sorted(r.ran) for r in s["module"].runs]
    targets = [
        target("cold", cold, "floor", floor, "<=", 0.8),
        target("warm", warm, "execution-off warm", off_warm, "<=", 1.2),
        target("naive anchor", naive, "cold", cold, ">=", 2.8),
        (not ran_after_md, f"md edit ran {ran_after_md or 'no page'}"),
        (
            all(ran == importing for ran in ran_after_module),
            f"module edit ran {ran_after_module[-1]}; pages importing "
            f"{EDITED_MODULE}: {importing}",
        ),
    ]
    also = [
        f"naive anchor / warm build: {naive / warm:.1f} x",
        f"naive anchor / md-edit rebuild: {naive / s['md'].median:.1f} x",
        f"naive anchor / module-edit rebuild: {naive / s['module'].median:.1f} x",
        f"naive anchor / floor: {naive / floor:.1f} x (the most a cold build that "
        "ran the code and the rest of the build one after the other could reach)",
    ]
    when = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    text = table(s, floor)
    print(f"\nBuild times, {when}, {machine()}")
    print(
        f"median of {args.reps} runs each (naive anchor: {args.anchor_reps}); "
        "wall-clock seconds of the whole process; scenarios interleaved in rounds; "
        f"load average {load_before} before, {load} after\n"
    )
    print(text)
    print()
    for ok, line in targets:
        print(f"{'PASS' if ok else 'FAIL'}  {line}")
    for line in also:
        print(f"      {line}")
    print(f"\n(total benchmark time {time.perf_counter() - started:.0f} s)")

    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "build_times.md").write_text(
        f"{when}, {machine()}\n\n{text}\n", encoding="utf-8"
    )
    (RESULTS / "build_times.json").write_text(
        json.dumps(
            {
                "when": when,
                "machine": machine(),
                "reps": args.reps,
                "anchor_reps": args.anchor_reps,
                "scenarios": {
                    key: {
                        "name": sc.name,
                        "median": sc.median,
                        "runs": [r.__dict__ for r in sc.runs],
                    }
                    for key, sc in s.items()
                },
                "floor": floor,
                "targets": [{"pass": ok, "detail": line} for ok, line in targets],
            },
            indent=1,
        ),
        encoding="utf-8",
    )
    failed = not all(ok for ok, _ in targets)
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
