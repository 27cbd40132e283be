"""Runs: one process start each, told apart by the resource's ``service.instance.id``.

A directory collects every run that wrote to it (the demo run twice, an app restarted).
Commands show the latest run by default, so figures are never silently added up across
runs; ``--run`` picks another (an id prefix, or ``-2`` for the one before the latest) and
``--all`` shows everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from ragsight._viewer.reader import UNKNOWN_RUN, Recording, Resource


class RunError(ValueError):
    """The ``--run`` argument names no run, or several."""


@dataclass
class Run:
    """One process start seen in the files."""

    id: str
    services: set[str] = field(default_factory=set)
    start: int = 0  # Unix nanoseconds of the earliest item
    end: int = 0  # of the latest item
    spans: int = 0
    points: int = 0
    logs: int = 0

    @property
    def label(self) -> str:
        return self.id[:8] if self.id != UNKNOWN_RUN else "(no run id)"

    def see(self, resource: Resource, *times: int) -> None:
        self.services.add(resource.service)
        for t in times:
            if t <= 0:
                continue
            self.start = t if self.start == 0 else min(self.start, t)
            self.end = max(self.end, t)


def runs_of(recording: Recording) -> list[Run]:
    """Every run in ``recording``, earliest start first."""
    runs: dict[str, Run] = {}

    def run(resource: Resource) -> Run:
        found = runs.get(resource.run_id)
        if found is None:
            found = runs[resource.run_id] = Run(resource.run_id)
        return found

    for span in recording.spans:
        r = run(span.resource)
        r.spans += 1
        r.see(span.resource, span.start, span.end)
    for point in recording.points:
        r = run(point.resource)
        r.points += 1
        r.see(point.resource, point.start, point.time)
    for record in recording.logs:
        r = run(record.resource)
        r.logs += 1
        r.see(record.resource, record.time)
    return sorted(runs.values(), key=lambda r: (r.start, r.id))


def choose(runs: list[Run], wanted: str | None) -> Run | None:
    """The run ``wanted`` names: None means the latest; ``-N`` the N-th latest; else an id
    prefix. Returns None only when there are no runs; raises RunError for a bad name."""
    if not runs:
        return None
    if wanted is None:
        return runs[-1]
    if wanted.startswith("-") and wanted[1:].isdigit():
        back = int(wanted[1:])
        if not 1 <= back <= len(runs):
            raise RunError(f"--run {wanted}: there are {len(runs)} runs")
        return runs[-back]
    matches = [r for r in runs if r.id.startswith(wanted)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise RunError(f"--run {wanted}: no run id starts with it ({_listing(runs)})")
    raise RunError(f"--run {wanted}: several runs match ({_listing(matches)})")


def _listing(runs: list[Run]) -> str:
    return ", ".join(r.label for r in runs)


class _HasResource(Protocol):
    @property
    def resource(self) -> Resource: ...


T = TypeVar("T", bound=_HasResource)


@dataclass
class Selection:
    """The part of a recording a command shows, and how to say which part it is."""

    recording: Recording
    runs: list[Run]
    run: Run | None  # None: every run (--all), or no data at all

    def keep(self, items: list[T]) -> list[T]:
        if self.run is None:
            return items
        wanted = self.run.id
        return [i for i in items if i.resource.run_id == wanted]

    def describe(self) -> str:
        """E.g. "run 3f2a9c1d (latest of 2; --run ID or --run -N for another, --all for all)"."""
        if not self.runs:
            return "no runs"
        if self.run is None:
            return f"all {len(self.runs)} run{'s' if len(self.runs) != 1 else ''}"
        if len(self.runs) == 1:
            return f"run {self.run.label}"
        position = "latest" if self.run is self.runs[-1] else "earlier"
        return (
            f"run {self.run.label} ({position} of {len(self.runs)}; "
            f"--run ID or --run -N for another, --all for all)"
        )


def select(recording: Recording, wanted: str | None, *, all_runs: bool) -> Selection:
    """Narrow ``recording`` to one run (the latest unless ``wanted``), or keep all of it.

    Raises RunError when ``wanted`` names no run or several.
    """
    runs = runs_of(recording)
    run = None if all_runs else choose(runs, wanted)
    selection = Selection(recording, runs, run)
    if run is None:
        return selection
    narrowed = Recording(recording.directory, recording.files, skipped=recording.skipped)
    narrowed.spans = selection.keep(recording.spans)
    narrowed.points = selection.keep(recording.points)
    narrowed.logs = selection.keep(recording.logs)
    selection.recording = narrowed
    return selection
