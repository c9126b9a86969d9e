"""One build's pages (hooks/engine.py), as an instructor sees them: stale pages
run (in worker processes or in the build), fresh ones are reused without any
running, failures say what to do, and Ctrl-C stops everything at once.

Uses the tiny project of conftest.py, whose pages write a line to runs.txt
each time their code runs: no torch, so a worker starts at once.
"""

import contextlib
import ctypes
import html
import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import nbformat
import pytest
from conftest import (
    FRONT_MATTER,
    MKDOCS,
    build_site,
    fence,
    runs_of,
    with_notebook_pages,
)

from hooks.engine import Build
from hooks.render import page_markdown
from hooks.tutorials import TutorialError, run_page


def pages(project):
    return sorted((project / "docs").glob("0*.md"))


def printed(build):
    return {page.stem: build.result(page).run.stdout for page in build.jobs}


def break_second_page(project, body):
    """Make docs/02_second.md run `body` (code) as its only section."""
    code = textwrap.indent(textwrap.dedent(body), " " * 4)
    (project / "docs/02_second.md").write_text(
        FRONT_MATTER + "# Second\n\n" + fence("second", "story")
    )
    (project / "tutorial_code/second.py").write_text(
        "def main():\n    # --8<-- [start:story]\n"
        + code
        + "    # --8<-- [end:story]\n"
    )


EXPECTED = {"01_first": "double of 21 is 42\n", "02_second": "the data has 2 lines\n"}


@pytest.mark.parametrize("workers", ["0", "2"], ids=["in-process", "two-workers"])
def test_stale_pages_run_and_a_warm_build_runs_none(tiny_project, monkeypatch, workers):
    monkeypatch.setenv("TUTORIALS_WORKERS", workers)
    cold = Build(tiny_project, pages(tiny_project))
    try:
        assert printed(cold) == EXPECTED
    finally:
        cold.close()
    assert sorted(runs_of(tiny_project)) == ["first", "second"]
    warm = Build(tiny_project, pages(tiny_project))
    assert printed(warm) == EXPECTED
    assert sorted(runs_of(tiny_project)) == ["first", "second"]  # none ran again


def test_an_edit_is_seen_by_the_next_build_in_the_same_process(
    tiny_project, monkeypatch
):
    """`mkdocs serve` keeps its worker server between builds: the tutorials'
    own modules are never imported there, so an edit is always seen."""
    monkeypatch.setenv("TUTORIALS_WORKERS", "1")
    first = pages(tiny_project)[:1]
    for factor, expected in (("2", "42"), ("3", "63")):
        helper = tiny_project / "tutorial_code/helper.py"
        helper.write_text(helper.read_text().replace("2 * x", f"{factor} * x"))
        build = Build(tiny_project, first)
        try:
            assert build.result(first[0]).run.stdout == f"double of 21 is {expected}\n"
        finally:
            build.close()
        helper.write_text(helper.read_text().replace(f"{factor} * x", "2 * x"))


def test_execution_off_runs_nothing_and_fill_ins_show_a_placeholder(
    tiny_project, monkeypatch
):
    monkeypatch.setenv("TUTORIALS_EXECUTE", "0")
    page = with_prose(tiny_project, RESULTS + FALSE_CHECK)
    job = Build(tiny_project, pages(tiny_project)).result(page)
    shown, _ = page_markdown(job.page, job.run, "", "FIGURE")
    assert "Doubling 21 gives …, or … of a hundred, … as much." in shown
    assert "check:" not in shown and "result-not-so" not in shown
    assert runs_of(tiny_project) == []


def test_a_failing_page_names_module_and_line(tiny_project, monkeypatch):
    monkeypatch.setenv("TUTORIALS_WORKERS", "2")
    break_second_page(tiny_project, 'x = 1\nraise ValueError("broken in a worker")\n')
    build = Build(tiny_project, pages(tiny_project))
    try:
        assert build.result(pages(tiny_project)[0]).run.stdout == EXPECTED["01_first"]
        with pytest.raises(TutorialError) as failure:
            build.result(pages(tiny_project)[1])
    finally:
        build.close(cancel=True)
    assert "tutorial_code/second.py:4: ValueError: broken in a worker" in str(
        failure.value
    )


def test_a_failing_page_runs_again_next_time(tiny_project, monkeypatch):
    """Nothing half-run is kept: a page that failed runs again."""
    monkeypatch.setenv("TUTORIALS_WORKERS", "0")
    break_second_page(
        tiny_project,
        'with open("runs.txt", "a") as runs:\n    runs.write("second\\n")\n'
        'raise ValueError("broken")\n',
    )
    for attempt in (1, 2):
        with pytest.raises(TutorialError, match="broken"):
            Build(tiny_project, pages(tiny_project)[1:]).result(pages(tiny_project)[1])
        assert runs_of(tiny_project) == ["second"] * attempt


def test_a_crash_in_native_code_is_explained(tiny_project, monkeypatch):
    monkeypatch.setenv("TUTORIALS_WORKERS", "1")
    break_second_page(tiny_project, "import os\nos.abort()\n")
    build = Build(tiny_project, pages(tiny_project)[1:])
    try:
        with pytest.raises(TutorialError) as failure:
            build.result(pages(tiny_project)[1])
    finally:
        build.close(cancel=True)
    message = str(failure.value)
    assert "02_second.md" in message and "crash in native code" in message
    assert "TUTORIALS_WORKERS=0" in message


def test_a_worker_count_that_is_no_number_is_explained(tiny_project, monkeypatch):
    monkeypatch.setenv("TUTORIALS_WORKERS", "two")
    with pytest.raises(TutorialError, match="TUTORIALS_WORKERS='two' is not a number"):
        Build(tiny_project, pages(tiny_project))


@pytest.mark.parametrize("to", ["group", "build", "a thread of the build"])
def test_ctrl_c_stops_the_build_and_every_page_at_once(tiny_project, to):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it, to
    the build alone, or to one of the build's threads other than the main
    one, which the kernel may pick for a signal sent to the build) ends the
    build and its pages' processes at once, without a traceback."""
    break_second_page(
        tiny_project, 'open("started", "w").close()\nimport time\ntime.sleep(120)\n'
    )
    with sigint_handled_here():  # so the build starts with Ctrl-C at its default
        process = subprocess.Popen(
            [MKDOCS, "build", "--strict", "-d", tiny_project / "site"],
            cwd=tiny_project,
            env={**os.environ, "NO_MKDOCS_2_WARNING": "1", "TUTORIALS_WORKERS": "2"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # a process group of its own, as in a terminal
        )
    try:
        deadline = time.monotonic() + 120
        while not (tiny_project / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(group(process.pid)) >= 3  # the build, the server, the page
        if to == "group":
            os.killpg(process.pid, signal.SIGINT)
        elif to == "build":
            os.kill(process.pid, signal.SIGINT)
        else:  # the kernel may hand a process's signal to any of its threads
            wait_until_asleep(process.pid)  # the build waits for the page
            tasks = Path(f"/proc/{process.pid}/task").iterdir()
            thread = max(int(t.name) for t in tasks if int(t.name) != process.pid)
            libc = ctypes.CDLL(None, use_errno=True)
            assert libc.tgkill(process.pid, thread, signal.SIGINT) == 0
        output, _ = process.communicate(timeout=30)
        time.sleep(1)
        assert not group(process.pid), "processes left after Ctrl-C"
    finally:
        if group(process.pid):
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode != 0
    assert "Traceback" not in output, output


@contextlib.contextmanager
def sigint_handled_here():
    """SIGINT handled by Python in this process meanwhile. A program started
    with SIGINT ignored keeps ignoring it (Python too), as a shell's background
    job does: the build then rightly goes on after Ctrl-C. A test session
    started in the background (`make test &` in a script) ignores SIGINT, and
    would hand that on to the build; a handled signal is reset to its default
    in a new program, as in a terminal's foreground job."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def wait_until_asleep(pid: int, seconds: float = 1.0) -> None:
    """Until the process's main thread has slept (state S: waiting for a lock
    or a pipe) for `seconds` on end, as the build does while waiting for a
    page; at most a minute."""
    asleep_since, deadline = None, time.monotonic() + 60
    while time.monotonic() < deadline:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        now = time.monotonic()
        asleep_since = (asleep_since or now) if state == "S" else None
        if asleep_since is not None and now - asleep_since >= seconds:
            return
        time.sleep(0.05)


def group(pgid: int) -> list[int]:
    """The living processes of a process group (zombies are gone)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


# ------------------------------------------------------------ results bound to the run

RESULTS = (
    "\nDoubling 21 gives {{ double(21) }}, or {{ double(21) / 100:.0% }} of a "
    "hundred, {{ 'twice'!r }} as much.\n\nThe double of 21 is even. "
    "<!-- check: double(21) % 2 == 0 -->\n"
)
FALSE_CHECK = "Doubling makes 21 odd. <!-- check: double(21) % 2 == 1 --> So it is.\n"


def with_prose(project, prose, page="01_first"):
    """Append prose after the page's last code block."""
    path = project / "docs" / f"{page}.md"
    path.write_text(path.read_text() + prose)
    return path


def notebook_text(site, page="01_first", learner=False):
    suffix = "-learner" if learner else ""
    notebook = nbformat.read(
        site / "notebooks" / page / f"{page}{suffix}.ipynb", as_version=4
    )
    return "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")


def test_fill_ins_show_their_values_on_the_page_and_in_both_notebooks(tiny_project):
    with_notebook_pages(tiny_project)
    with_prose(tiny_project, RESULTS)
    site = tiny_project / "site"
    result = build_site(tiny_project, site).result()
    assert result.returncode == 0, result.stderr
    shown = "Doubling 21 gives 42, or 42% of a hundred, 'twice' as much."
    page = (site / "01_first" / "index.html").read_text()
    assert html.unescape(shown) in html.unescape(page)
    assert "The double of 21 is even." in page
    assert "{{" not in page and "check:" not in page and "result-not-so" not in page
    for learner in (False, True):
        text = notebook_text(site, learner=learner)
        assert shown in text and "check:" not in text


def test_a_false_check_stops_a_build_on_the_shipped_data_and_is_marked_on_other_data(
    tiny_project,
):
    with_notebook_pages(tiny_project)
    with_prose(tiny_project, FALSE_CHECK)
    other = tiny_project / "other.csv"
    other.write_text("a\n1\n")
    shipped = build_site(tiny_project, tiny_project / "site-shipped")
    on_other = build_site(
        tiny_project, tiny_project / "site-other", env={"GBM_DATA": str(other)}
    )
    failed = shipped.result()
    assert failed.returncode != 0
    message = failed.stdout + failed.stderr
    assert "docs/01_first.md" in message
    assert '"Doubling makes 21 odd."' in message
    assert "check: double(21) % 2 == 1 is false" in message
    assert "Traceback" not in message, message

    built = on_other.result()
    assert built.returncode == 0, built.stderr
    site = tiny_project / "site-other"
    page = html.unescape((site / "01_first" / "index.html").read_text())
    # Right where the comment was: after its sentence, before the next one.
    assert (
        'Doubling makes 21 odd. <span class="result-not-so" title="check: '
        "double(21) % 2 == 1\">⚠ not so on this build's data</span> So it is"
    ) in page
    assert "is marked <strong>⚠ not so on this build's data</strong>" in page
    assert "01_first.md: marked not so on this build's data: " in built.stderr
    assert '"Doubling makes 21 odd."' in built.stderr
    for learner in (False, True):
        text = notebook_text(site, learner=learner)
        assert "Doubling makes 21 odd. **⚠ not so on this build's data** So it" in text


def test_a_fill_in_or_check_before_the_first_code_block_is_an_error_naming_the_page(
    tiny_project, monkeypatch
):
    monkeypatch.setenv("TUTORIALS_WORKERS", "0")
    page = tiny_project / "docs" / "02_second.md"
    page.write_text(
        page.read_text().replace("# Second\n", "# Second\n\nIt has {{ n }} lines.\n")
    )
    build = Build(tiny_project, pages(tiny_project))
    assert build.result(pages(tiny_project)[0]).run.stdout == EXPECTED["01_first"]
    with pytest.raises(TutorialError) as failure:
        build.result(page)
    message = str(failure.value)
    assert "docs/02_second.md:" in message
    assert "the fill-in 'n' comes before the page's first code block" in message


def test_a_page_run_lists_its_checks_and_fill_ins_on_any_data(
    tiny_project, monkeypatch
):
    """What a test needs without MkDocs: run_page on other data, its failed checks."""
    page = with_prose(
        tiny_project,
        "The table has two lines. "
        "<!-- check: len(data_path().read_text().splitlines()) == 2 -->\n"
        "Its first line is {{ data_path().read_text().splitlines()[0]!r }}; its "
        "tenth {{ data_path().read_text().splitlines()[9] }}.\n",
        page="02_second",
    )
    shipped = run_page(page, tiny_project)
    assert [(c.sentence, c.passed) for c in shipped.checks] == [
        ("The table has two lines.", True)
    ]
    first, tenth = shipped.fill_ins
    assert (first.text, first.passed) == ("'a,b'", True)
    assert not tenth.passed and tenth.error == "IndexError: list index out of range"
    assert shipped.not_so == [tenth]

    other = tiny_project / "other.csv"
    other.write_text("x\n1\n2\n")
    monkeypatch.setenv("GBM_DATA", str(other))
    (check,) = run_page(page, tiny_project).checks
    assert (check.page, check.sentence, check.passed) == (
        "docs/02_second.md",
        "The table has two lines.",
        False,
    )
    assert check.expression == "len(data_path().read_text().splitlines()) == 2"
