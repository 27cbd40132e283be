"""The attempts of a retried stage, each its own operation.

A stage decorator outside a retry (``@ragsight.generation`` over ``@ragsight.retry``, or
the reverse: the retry re-applies the stage outside itself) has one span for the logical
call. Once the first attempt failed and a retry is scheduled, the retry turns the stage
into a logical call with one child span per attempt (the first one recorded after the
fact, from the stage's start to its failure): each attempt span is the stage's operation
(same name, SpanKind and attributes, plus ``resilience.retry.attempt``), and each attempt, not
the whole call, is one sample of ``rag.operation.duration`` and
the stage's GenAI duration (``gen_ai.client.inference.duration`` for a generation in the
default conventions mode). Backoff waits happen between attempts, on the
logical span (``resilience.retry.scheduled`` events; ``resilience.retry.delay``), so no
operation latency includes them. The logical call keeps its own duration: its span, and
``resilience.retry.elapsed_s`` on a give-up.

A call that succeeds at once never gets here: its cost is the stage's as it was.
"""

from __future__ import annotations

import traceback
from time import perf_counter, time_ns
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, Span, Status, StatusCode

from ragsight import names
from ragsight._core import content as _content
from ragsight._core.errortype import error_type as _error_type
from ragsight._core.safety import report_internal_error

if TYPE_CHECKING:
    from ragsight._core.engine import StageCall

# (duration_s, error_type | None, span context | None) of the latest attempt
Measured = tuple[float, "str | None", "trace.SpanContext | None"]


class AttemptLog:
    """The attempts of one stage call once it is retried; the stage records the last one."""

    __slots__ = ("_call", "_span", "_t0", "_token", "last", "number")

    def __init__(self, call: StageCall, failed_at: float, error: BaseException | None) -> None:
        self._call = call
        self.number = 1
        self._span: Span = INVALID_SPAN
        self._token: Any = None
        self._t0 = call._t0
        start_ns = getattr(call._span, "start_time", None)
        self._span = self._start(1, start_ns)
        self.last: Measured = (failed_at - call._t0, None, None)
        self._end(error, failed_at)

    def _start(self, number: int, start_ns: int | None = None) -> Span:
        call = self._call
        tracer = call._rt.tracer
        if tracer is None or call._span is INVALID_SPAN:
            return INVALID_SPAN
        plan = call._plan
        attrs = dict(plan.span_attrs)
        attrs[names.RETRY_ATTEMPT] = number
        parent = trace.set_span_in_context(call._span)
        return tracer.start_span(plan.span_name, parent, plan.span_kind, attrs, start_time=start_ns)

    def begin(self) -> None:
        """The next attempt starts now: the previous one was retried, so it is one sample
        of the stage's duration metrics; the new one's span becomes current."""
        try:
            call = self._call
            duration, error_type, context = self.last
            call._queue(duration, error_type, context, None)
            self.number += 1
            self._t0 = perf_counter()
            self._span = self._start(self.number)
            self._token = otel_context.attach(trace.set_span_in_context(self._span))
        except Exception as exc:
            report_internal_error("attempts", exc)

    def end(self, error: BaseException | None) -> None:
        """The running attempt ended (``error``: how it failed, None: it returned)."""
        token, self._token = self._token, None
        if token is not None:
            otel_context.detach(token)
        self._end(error, perf_counter())

    def _end(self, error: BaseException | None, at: float) -> None:
        try:
            span = self._span
            error_type = _error_type(error) if isinstance(error, Exception) else None
            if error_type is not None and span.is_recording():
                assert error is not None
                span.set_attribute(names.ERROR_TYPE, error_type)
                span.set_status(Status(StatusCode.ERROR, error_type))
                policy = _content.effective_policy()
                stack = _content.bound(
                    _content.redact_text("".join(traceback.format_exception(error)), policy),
                    policy.max_length * _content.STACKTRACE_LENGTH_FACTOR,
                    middle=True,
                )
                span.add_event(
                    names.EVENT_EXCEPTION,
                    {names.EXCEPTION_TYPE: error_type, names.EXCEPTION_STACKTRACE: stack},
                )
            context = span.get_span_context() if span is not INVALID_SPAN else None
            # ends when the attempt ended, not when it was looked at (the first attempt is
            # recorded after the retry decision)
            span.end(end_time=time_ns() - int((perf_counter() - at) * 1e9))
            self.last = (at - self._t0, error_type, context)
        except Exception as exc:
            report_internal_error("attempts", exc)
