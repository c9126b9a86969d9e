"""A tutorial page's frame, from its YAML front matter: the overview box at the
top (questions, objectives, teaching and exercise minutes), the key points box
at the end, and the schedule that sums the minutes of every tutorial.

Part of the build engine described on docs/how_it_is_built.md; plain Markdown,
nothing here knows about MkDocs.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

import yaml

MINUTE_KEYS = ("teaching", "exercises")
LIST_KEYS = ("questions", "objectives", "keypoints")
FRAME_KEYS = MINUTE_KEYS + LIST_KEYS
FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
TITLE = re.compile(r"^#[ \t]+.*\n?", re.MULTILINE)


class FrameError(Exception):
    """A tutorial page's front matter lacks a key or has a bad value; the
    message names the page and the key."""


@dataclass(frozen=True)
class Frame:
    teaching: int  # minutes
    exercises: int  # minutes
    questions: tuple[str, ...]
    objectives: tuple[str, ...]
    keypoints: tuple[str, ...]


def split_front_matter(text: str, where: str = "the page") -> tuple[dict, str]:
    """(front matter, the page without it); ({}, text) when it has none."""
    match = FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.safe_load(match[1] or "")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 2} of the page" if mark else ""
        raise FrameError(
            f"{where}: the front matter is not valid YAML{line} "
            f"({getattr(exc, 'problem', None) or exc}); quote an item that "
            "holds a colon"
        ) from None
    return (meta if isinstance(meta, dict) else {}), text[match.end() :]


def tutorial_frame(meta: dict, where: str) -> Frame:
    """The frame of the page `where`, checked: every key present, minutes whole
    numbers, the lists lists of text."""
    missing = [key for key in FRAME_KEYS if key not in meta]
    if missing:
        raise FrameError(
            f"{where}: the front matter lacks {', '.join(missing)}. Every tutorial "
            "page starts with YAML front matter giving teaching and exercises "
            "(minutes) and the lists questions, objectives and keypoints (see "
            "CONTRIBUTING.md, 'The frame of a tutorial page')"
        )
    for key in MINUTE_KEYS:
        value = meta[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise FrameError(
                f"{where}: '{key}' in the front matter is {value!r}; give the "
                "minutes as a whole number, e.g. 20"
            )
    for key in LIST_KEYS:
        items = meta[key]
        if (
            not isinstance(items, list)
            or not items
            or not all(isinstance(i, str) and i.strip() for i in items)
        ):
            raise FrameError(
                f"{where}: '{key}' in the front matter must be a list of text, "
                'one "- ..." line each (quote an item that holds a colon)'
            )
    return Frame(
        meta["teaching"],
        meta["exercises"],
        *(tuple(meta[key]) for key in LIST_KEYS),
    )


def _bullets(items: tuple[str, ...]) -> str:
    return "".join(textwrap.indent(f"- {item}\n", "    ") for item in items)


def overview_box(frame: Frame) -> str:
    return (
        '!!! abstract "Overview"\n'
        f"    **Teaching:** {frame.teaching} min · "
        f"**Exercises:** {frame.exercises} min\n\n"
        f"    **Questions**\n\n{_bullets(frame.questions)}\n"
        f"    **Objectives**\n\n{_bullets(frame.objectives)}"
    )


def keypoints_box(frame: Frame) -> str:
    return f'!!! success "Key points"\n{_bullets(frame.keypoints)}'


def framed(markdown: str, frame: Frame, note: str = "") -> str:
    """The page body with `note` and the overview right after its title, and
    the key points at its end."""
    top = f"{note}\n{overview_box(frame)}" if note else overview_box(frame)
    title = TITLE.search(markdown)
    at = title.end() if title else 0
    body = markdown[at:].rstrip("\n")
    return f"{markdown[:at]}\n{top}\n{body}\n\n{keypoints_box(frame)}\n"


# ------------------------------------------------------------------ schedule


@dataclass(frozen=True)
class Episode:
    title: str
    uri: str  # the page's path under docs/, e.g. 02_tensors.md
    frame: Frame


def clock(minutes: int) -> str:
    return f"{minutes // 60}:{minutes % 60:02d}"


def _cell(text: str, uri: str) -> str:
    """Front-matter text for a table cell of the schedule page: its in-page
    links lead to the tutorial's page, and a | does not split the cell."""
    return text.replace("](#", f"]({uri}#").replace("|", "\\|")


def schedule_markdown(episodes: list[Episode]) -> str:
    """A page listing the tutorials in order with their minutes and the clock
    time each starts at, from 0:00, ending with the totals."""
    rows, start = [], 0
    for episode in episodes:
        questions = "<br>".join(_cell(q, episode.uri) for q in episode.frame.questions)
        rows.append(
            f"| {clock(start)} | [{episode.title}]({episode.uri}) "
            f"| {episode.frame.teaching} | {episode.frame.exercises} | {questions} |"
        )
        start += episode.frame.teaching + episode.frame.exercises
    teaching = sum(e.frame.teaching for e in episodes)
    exercises = sum(e.frame.exercises for e in episodes)
    rows.append(f"| {clock(start)} | **Finish** | {teaching} | {exercises} | |")
    return (
        "# Schedule\n\n"
        "The tutorials in order, with the minutes each page's front matter "
        "gives for teaching and for exercises and the time each starts at, "
        "counted from 0:00 (add breaks as you need them). This page is made "
        "when the site is built.\n\n"
        "| Start | Tutorial | Teaching (min) | Exercises (min) | Questions |\n"
        "| ----- | -------- | -------------: | --------------: | --------- |\n"
        + "\n".join(rows)
        + f"\n\nIn all: {clock(teaching)} of teaching and {clock(exercises)} of "
        f"exercises, {clock(start)} together.\n"
    )
