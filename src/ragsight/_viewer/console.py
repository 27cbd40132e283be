"""The rich Console the commands print with, and number formats they share."""

from __future__ import annotations

import io
from typing import IO

from rich.console import Console, RenderableType

from ragsight._viewer.stats import Figure

PIPE_WIDTH = 120  # columns when writing to a file or a pipe (no terminal to ask)


def make_console(file: IO[str] | None = None) -> Console:
    """A Console for ``file`` (stdout by default); plain text when it is not a terminal."""
    console = Console(file=file, highlight=False, soft_wrap=False)
    if not console.is_terminal:
        console.width = PIPE_WIDTH
    return console


def to_text(renderable: RenderableType, width: int = PIPE_WIDTH) -> str:
    """What ``renderable`` prints as plain text (tests, the demo's --json path)."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, highlight=False)
    console.print(renderable)
    return buffer.getvalue()


def figure(value: Figure | None, scale: float = 1.0, digits: int = 1) -> str:
    """``12.3``, ``~12.3`` for an estimate from buckets, ``>60000`` for a lower bound."""
    if value is None:
        return "-"
    shown = f"{value.value * scale:.{digits}f}"
    if value.at_least:
        return f">{shown}"
    return shown if value.exact else f"~{shown}"


def number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def milliseconds(seconds: float) -> str:
    """A duration for people: 0.42 ms, 12.3 ms, 1.25 s."""
    ms = seconds * 1000
    if ms < 1:
        return f"{ms:.2f} ms"
    if ms < 1000:
        return f"{ms:.1f} ms"
    return f"{seconds:.2f} s"
