"""Named events through the OpenTelemetry Logs API, optionally mirrored as span events.

OpenTelemetry is deprecating the Span Event API in favour of log records with an event
name (OTEP 4430); the GenAI conventions define their events that way
(``gen_ai.evaluation.result``, ``gen_ai.client.inference.operation.details``). Every event
ragsight emits goes through :func:`emit`: one log record with ``event_name`` whose trace
and span ids are those of the span it belongs to, so backends that store logs
(VictoriaLogs, Loki, any OTLP logs pipeline) show it next to its trace.

Backends that show span events only (Jaeger, the trace views of most vendors) would lose
them; ``events.span_events`` (``mirror``, the default, or ``off``) decides whether each
event is also added to its span as a span event. Structured attribute values (messages,
documents) are allowed on log records and become JSON strings on the mirrored copy,
since span event attributes are primitives only. A span that already ended cannot take
an event; the mirror then goes to the span current at the call if it is in the same
trace, else nowhere (an event with no parent is not mirrored).

Where the log records go: the LoggerProvider ragsight's ``configure()`` installed (or the
application's), or the private one ``ragsight.testing.capture_telemetry()`` installs. With
no OpenTelemetry SDK configured at all nothing is built and nothing is emitted.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from opentelemetry import _logs, trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.trace import INVALID_SPAN, NonRecordingSpan, Span, SpanContext
from opentelemetry.util.types import AttributeValue

from ragsight import names
from ragsight._core import runtime as _runtime
from ragsight._core import semconv as _semconv
from ragsight._core.safety import report_internal_error
from ragsight._version import __version__

DEBUG = SeverityNumber.DEBUG
INFO = SeverityNumber.INFO
WARN = SeverityNumber.WARN

_span_events: str = names.SPAN_EVENTS_MIRROR


def set_span_events(mode: str) -> None:
    """``mirror`` (events also become span events) or ``off``; configure() sets it."""
    global _span_events
    if mode not in names.SPAN_EVENTS_MODES:
        raise ValueError(f"events.span_events must be one of {names.SPAN_EVENTS_MODES}")
    _span_events = mode


def span_events() -> str:
    return _span_events


# ---------------------------------------------------------------------------- logger --
_override: Any = None  # a LoggerProvider installed by ragsight.testing
_cached: tuple[Any, str, Any] | None = None  # (provider, schema_url, logger)
_lock = threading.Lock()


def override(logger_provider: Any) -> Any:
    """Send events to ``logger_provider`` (``None``: back to the global one); returns the
    previous override so callers can nest and restore."""
    global _override
    previous, _override = _override, logger_provider
    return previous


def restore(previous: Any) -> None:
    global _override
    _override = previous


def _logger() -> Any:
    global _cached
    provider = _override if _override is not None else _logs.get_logger_provider()
    schema = _semconv.schema_url()
    cached = _cached
    if cached is not None and cached[0] is provider and cached[1] == schema:
        return cached[2]
    with _lock:
        made = provider.get_logger(names.SCOPE_NAME, __version__, schema_url=schema)
        _cached = (provider, schema, made)
    return made


# ------------------------------------------------------------------------------ emit --
def emit(
    name: str,
    attributes: Mapping[str, Any],
    *,
    parent: SpanContext | None,
    mirror_to: Span | None = None,
    mirror: bool = True,
    severity: SeverityNumber = INFO,
) -> None:
    """One named event: a log record parented to ``parent`` (no parent: no trace ids) and,
    when mirroring, a span event on ``mirror_to`` (if that one ended: on the current span
    when it belongs to the same trace).
    ``mirror=False`` never mirrors (the span already carries the same data).

    Never raises; a failure is counted as an internal error.
    """
    try:
        now = time.time_ns()
        # no SDK configured for ragsight (an unconfigured process, or only a private
        # tracer): no log record to build; a recording span still gets its mirror
        if _override is not None or _runtime.get() is not None:
            # explicit either way: without a context (or with an empty one, which is falsy)
            # the SDK would parent the record to the current span
            context = trace.set_span_in_context(
                NonRecordingSpan(parent) if parent is not None and parent.is_valid else INVALID_SPAN
            )
            _logger().emit(
                timestamp=now,
                context=context,
                severity_number=severity,
                severity_text=severity.name,
                attributes=dict(attributes),
                event_name=name,
            )
        if mirror and _span_events == names.SPAN_EVENTS_MIRROR:
            span = mirror_to if mirror_to is not None and mirror_to.is_recording() else None
            if span is None and parent is not None:
                span = _open_span_of_trace(parent.trace_id)
            if span is not None:
                span.add_event(name, flat_attributes(attributes), timestamp=now)
    except Exception as exc:
        report_internal_error("events", exc)


def _open_span_of_trace(trace_id: int) -> Span | None:
    """The current span if it is recording and in that trace (where a mirror of an event
    about an ended span can still be seen next to it)."""
    current = trace.get_current_span()
    if current.is_recording() and current.get_span_context().trace_id == trace_id:
        return current
    return None


def flat_attributes(attributes: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """Span-event-safe attributes: primitives and homogeneous primitive lists kept, any
    other structured value (a list of messages, a mapping) as its JSON text."""
    out: dict[str, AttributeValue] = {}
    for key, value in attributes.items():
        if value is None:
            continue
        if isinstance(value, (str, bool, int, float)):
            out[key] = value
        elif _primitive_list(value):
            out[key] = list(value)
        else:
            out[key] = json.dumps(value, ensure_ascii=False, default=str)
    return out


def _primitive_list(value: Any) -> bool:
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)) or not value:
        return False
    kinds = {type(v) for v in value}
    return len(kinds) == 1 and next(iter(kinds)) in (str, bool, int, float)


# ----------------------------------------------------- what an evaluation judges by default --
# The last inference (generation) or pipeline span that ended, per trace and per context:
# record_evaluation() called after the pipeline returned judges that pipeline's answer.
_MAX_TRACES = 1024
_ended_by_trace: dict[int, tuple[SpanContext, str | None]] = {}
_ended_here: ContextVar[tuple[SpanContext, str | None] | None] = ContextVar(
    "ragsight_last_judged_span", default=None
)


def note_ended(context: SpanContext, response_id: str | None) -> None:
    """An inference or pipeline stage span ended (the engine calls this; cheap)."""
    entry = (context, response_id)
    _ended_here.set(entry)
    # no lock on the request path: one dict store is atomic; the bound evicts the trace
    # inserted first (a race with another thread's eviction only skips one eviction)
    _ended_by_trace[context.trace_id] = entry
    # a loop, not one pop: two threads evicting at once can pop the same oldest trace, and
    # the excess must not stay for good
    while len(_ended_by_trace) > _MAX_TRACES:
        # RuntimeError: the dict changed size under the iterator (another thread evicted);
        # StopIteration: another thread emptied it (reset)
        try:
            _ended_by_trace.pop(next(iter(_ended_by_trace)), None)
        except (RuntimeError, StopIteration):
            break


def last_ended(trace_id: int | None) -> tuple[SpanContext, str | None] | None:
    """The inference/pipeline span of ``trace_id`` that ended last in this context (thread
    or task), else the one of that trace that ended last anywhere; with ``None`` (no span
    is current), the one that ended last in this context.

    This context's own comes first: pipelines run concurrently under one request span
    (``asyncio.gather``, a thread pool) share a trace, and the trace's latest is then
    another caller's."""
    here = _ended_here.get()
    if trace_id is None or (here is not None and here[0].trace_id == trace_id):
        return here
    return _ended_by_trace.get(trace_id)


def forget_ended() -> None:
    """Forget every remembered span (ragsight.testing: a capture must not judge a span an
    earlier capture recorded, which a later test's evaluation would otherwise get)."""
    _ended_by_trace.clear()
    _ended_here.set(None)


def reset_for_tests() -> None:
    forget_ended()
    set_span_events(names.SPAN_EVENTS_MIRROR)
