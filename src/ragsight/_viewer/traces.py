"""Spans grouped into traces and trees, and the traces worth looking at first.

A span whose parent is not in the files (sampled away, lost in a crash, or started in
another process) becomes a root of its trace, so nothing read is ever hidden.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from ragsight import names
from ragsight._viewer.reader import Span


@dataclass(eq=False)
class Node:
    span: Span
    children: list[Node] = field(default_factory=list)


@dataclass(eq=False)
class Trace:
    """The spans of one trace id; start, end and failure are computed once."""

    trace_id: str
    spans: list[Span]
    start: int = field(init=False)
    end: int = field(init=False)
    failed: bool = field(init=False)

    def __post_init__(self) -> None:
        self.start = min(s.start for s in self.spans)
        self.end = max(s.end for s in self.spans)
        self.failed = any(is_failure(s) for s in self.spans)

    @property
    def duration(self) -> float:
        """Seconds from the first span's start to the last span's end."""
        return max(0, self.end - self.start) / 1e9

    @property
    def root(self) -> Span:
        """The earliest span without a parent in the trace."""
        ids = {s.span_id for s in self.spans}
        roots = [s for s in self.spans if s.parent_id not in ids]
        return min(roots or self.spans, key=lambda s: (s.start, s.end))

    def tree(self) -> list[Node]:
        """Roots (by start time), each with its children by start time."""
        nodes = {s.span_id: Node(s) for s in self.spans}
        roots: list[Node] = []
        for node in nodes.values():
            parent = nodes.get(node.span.parent_id or "")
            if parent is None or parent is node:
                roots.append(node)
            else:
                parent.children.append(node)
        for node in nodes.values():
            node.children.sort(key=lambda n: (n.span.start, n.span.end))
        return sorted(roots, key=lambda n: (n.span.start, n.span.end))

    def walk(self) -> Iterator[tuple[int, Node]]:
        """(depth, node) in display order, depth first; safe against parent cycles."""
        seen: set[str] = set()
        stack = [(0, n) for n in reversed(self.tree())]
        while stack:
            depth, node = stack.pop()
            if node.span.span_id in seen:
                continue
            seen.add(node.span.span_id)
            stack.extend((depth + 1, c) for c in reversed(node.children))
            yield depth, node


def is_failure(span: Span) -> bool:
    """A span that failed: status ERROR, or an ``error.type`` (cancelled calls included)."""
    return span.failed or bool(span.attributes.get(names.ERROR_TYPE))


def group(spans: Iterable[Span]) -> list[Trace]:
    """Traces in the order their first span was read."""
    by_id: dict[str, list[Span]] = {}
    for span in spans:
        by_id.setdefault(span.trace_id, []).append(span)
    return [Trace(trace_id, members) for trace_id, members in by_id.items()]


def slowest(traces: list[Trace], n: int, stage: str | None = None) -> list[Trace]:
    """The ``n`` slowest traces; with ``stage``, ranked by that stage's slowest span."""
    if stage is None:
        return sorted(traces, key=lambda t: -t.duration)[:n]

    def stage_time(trace: Trace) -> float:
        return max((s.duration for s in trace.spans if s.stage == stage), default=-1.0)

    ranked = [t for t in traces if stage_time(t) >= 0]
    return sorted(ranked, key=lambda t: -stage_time(t))[:n]


def failing(traces: list[Trace], n: int) -> list[Trace]:
    """The ``n`` latest failing traces."""
    return sorted((t for t in traces if t.failed), key=lambda t: -t.start)[:n]


def with_stage(traces: list[Trace], stage: str) -> list[Trace]:
    return [t for t in traces if any(s.stage == stage for s in t.spans)]


def with_id(traces: list[Trace], prefix: str) -> list[Trace]:
    prefix = prefix.lower()
    return [t for t in traces if t.trace_id.lower().startswith(prefix)]


def pick(
    traces: list[Trace],
    *,
    limit: int,
    trace_id: str | None = None,
    stage: str | None = None,
    errors_only: bool = False,
) -> tuple[list[Trace], str]:
    """The traces ``view`` and ``report`` show first, and a phrase saying which they are.

    Default: the ``limit`` slowest and the ``limit`` latest failing ones. ``trace_id`` (a
    prefix) shows those traces; ``stage`` keeps traces with that stage and ranks by it;
    ``errors_only`` keeps failing traces.
    """
    if trace_id is not None:
        return with_id(traces, trace_id)[:limit], f"trace {trace_id}"
    pool = with_stage(traces, stage) if stage is not None else traces
    where = f" with a {stage} span" if stage is not None else ""
    bad = failing(pool, limit)
    if errors_only:
        return bad, f"{len(bad)} latest failing of {len(pool)} traces{where}"
    slow = slowest(pool, limit, stage)
    shown = slow + [t for t in bad if t not in slow]
    return shown, (
        f"{len(slow)} slowest and {len(bad)} latest failing of {len(pool)} traces{where}"
    )
