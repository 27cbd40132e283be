"""``ragsight demo --live``: a terminal dashboard refreshed while the demo runs.

It draws a :class:`Frame` the caller fills from what it counted itself, so this module
needs nothing from the SDK: progress, the breaker's state, the vector store's calls and
failures, degraded answers, the cache hit rate, the last evaluation score, stage calls.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.logging import RichHandler
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from ragsight import names

STATE_STYLES = {
    names.CB_STATE_CLOSED: "green",
    names.CB_STATE_HALF_OPEN: "yellow",
    names.CB_STATE_OPEN: "bold red",
    names.CB_STATE_FORCED_OPEN: "bold red",
}


@dataclass
class Frame:
    """One refresh of the dashboard."""

    done: int
    total: int
    breaker: str
    breaker_state: str
    seconds_until_probe: float | None
    store_calls: int
    store_failures: int
    degraded: Mapping[str, int]
    cache_hits: int
    cache_misses: int
    last_score: float | None
    stages: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # label: calls, errors


def render(frame: Frame) -> RenderableType:
    progress = Table.grid(padding=(0, 2))
    progress.add_row(
        Text(f"question {frame.done}/{frame.total}", style="bold"),
        ProgressBar(total=max(frame.total, 1), completed=frame.done, width=40),
    )
    state = Text(frame.breaker_state, style=STATE_STYLES.get(frame.breaker_state, ""))
    if frame.seconds_until_probe is not None and frame.breaker_state == names.CB_STATE_OPEN:
        state.append(f" (probe in {frame.seconds_until_probe * 1000:.0f} ms)", style="dim")
    lookups = frame.cache_hits + frame.cache_misses
    facts = Table.grid(padding=(0, 2))
    facts.add_row("breaker", Text(frame.breaker), state)
    facts.add_row("vector store", f"{frame.store_calls} calls", f"{frame.store_failures} failed")
    facts.add_row(
        "degraded answers",
        str(sum(frame.degraded.values())),
        ", ".join(f"{k}: {v}" for k, v in sorted(frame.degraded.items())) or "-",
    )
    facts.add_row(
        "cache",
        f"{frame.cache_hits} hits / {frame.cache_misses} misses",
        f"{frame.cache_hits / lookups:.0%} hit rate" if lookups else "-",
    )
    score = frame.last_score
    facts.add_row(
        "last evaluation",
        "-" if score is None else f"{score:.2f}",
        Text("", style="red") if score is None or score >= 0.5 else Text("dip", style="red"),
    )
    stages = Table(show_edge=False, box=None, padding=(0, 2))
    stages.add_column("stage / operation")
    stages.add_column("calls", justify="right")
    stages.add_column("errors", justify="right")
    for label, (calls, errors) in sorted(frame.stages.items()):
        stages.add_row(label, str(calls), Text(str(errors), style="red" if errors else ""))
    return Group(progress, Text(""), facts, Text(""), stages)


class Dashboard:
    """A rich Live display; ``show(frame)`` replaces what it draws."""

    def __init__(self, live: Live) -> None:
        self._live = live

    def show(self, frame: Frame) -> None:
        self._live.update(render(frame), refresh=True)


@contextmanager
def _logs_above(logger: logging.Logger, console: Console) -> Iterator[None]:
    """Print ``logger``'s terminal log lines above the dashboard instead of through it.

    A StreamHandler holds the stream it was given, so rich cannot redirect it; for the
    duration, each terminal StreamHandler is swapped for a RichHandler on ``console``.
    """
    terminal = (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__)
    swapped = [
        h for h in logger.handlers if type(h) is logging.StreamHandler and h.stream in terminal
    ]
    replacements = []
    for handler in swapped:
        rich_handler = RichHandler(console=console, level=handler.level, show_path=False)
        logger.removeHandler(handler)
        logger.addHandler(rich_handler)
        replacements.append(rich_handler)
    try:
        yield
    finally:
        for rich_handler in replacements:
            logger.removeHandler(rich_handler)
        for handler in swapped:
            logger.addHandler(handler)


@contextmanager
def dashboard(console: Console | None = None, logger: str = "ragsight") -> Iterator[Dashboard]:
    """A live dashboard for the duration of the ``with`` block (stays on screen after);
    ``logger``'s terminal output is printed above it meanwhile."""
    live = Live(Text("starting..."), console=console, refresh_per_second=8, transient=False)
    with live, _logs_above(logging.getLogger(logger), live.console):
        yield Dashboard(live)
