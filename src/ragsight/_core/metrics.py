"""The core's instruments, and the bookkeeping that keeps them off the caller's thread.

A synchronous SDK histogram record costs about as much as the span itself (see
``benchmarks/overhead.py``), so a stage call does not record: it appends one tuple to a
deque (tens of nanoseconds, thread-safe) and the tuples are drained into the real SDK
instruments at collection time, from an observable instrument's callback registered on the
same meter.
The SDK runs every asynchronous callback of a ``collect()`` before it reads the
synchronous storages, so what is drained lands in that same collection (a unit test holds
this against ``InMemoryMetricReader``).

Guarantees and deliberate trade-offs:

* exact: nothing is sampled or dropped; traces being sampled out does not matter because
  the bookkeeping does not depend on the span;
* bounded: past ``SOFT_LIMIT`` pending calls a daemon thread drains (nobody collecting, or
  a long interval); past ``HARD_LIMIT`` each caller also drains two items inline, so
  memory stays bounded even if that thread cannot keep up;
* exemplars: kept for sampled spans (the span context rides in the tuple and is handed to
  ``record()`` at drain time), but their timestamp is the drain time, not the call time.
  They cost about 2 us of the ~9 us a drained record costs here, paid off the request
  path; the link from a latency bucket to a trace is worth it;
* shutdown needs nothing special: ``MeterProvider.shutdown()``/``force_flush()`` collect,
  and a collection drains first (``_runtime.flush_metrics()`` drains without collecting).
"""

from __future__ import annotations

import contextvars
import os
import threading
import weakref
from collections import deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Counter, Histogram, Meter, Observation

from ragsight import names
from ragsight._core import safety as _safety
from ragsight._core.instruments import create_instrument

if TYPE_CHECKING:
    from ragsight._core.extract import Readout
    from ragsight._core.plan import GenAIKey, Plan

SOFT_LIMIT: Final = 4096
HARD_LIMIT: Final = 32768
_EMPTY: Final = Context()

# (plan, duration_s, error_type | None, sampled span context | None, readout | None,
#  (error_type, provider, request model, response model): what the call revealed)
Item = tuple["Plan", float, "str | None", "trace.SpanContext | None", "Readout | None", "GenAIKey"]


class Instruments:
    """The core's instruments on one MeterProvider, plus that provider's pending calls."""

    def __init__(self, meter: Meter) -> None:
        self.stage_duration: Histogram = create_instrument(meter, names.RAG_OPERATION_DURATION)
        self.genai_duration: Histogram = create_instrument(
            meter, names.GEN_AI_CLIENT_OPERATION_DURATION
        )
        self.token_usage: Histogram = create_instrument(meter, names.GEN_AI_CLIENT_TOKEN_USAGE)
        self.time_to_first_chunk: Histogram = create_instrument(
            meter, names.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK
        )
        self.documents: Histogram = create_instrument(meter, names.RAG_RETRIEVAL_DOCUMENTS)
        self.score: Histogram = create_instrument(meter, names.RAG_RETRIEVAL_SCORE)
        self.distance: Histogram = create_instrument(meter, names.RAG_RETRIEVAL_DISTANCE)
        self.unbounded: Histogram = create_instrument(meter, names.RAG_RETRIEVAL_SCORE_UNBOUNDED)
        self.evaluation: Histogram = create_instrument(meter, names.RAG_EVALUATION_SCORE)
        self.cache_requests: Counter = create_instrument(meter, names.RAG_CACHE_REQUESTS)
        create_instrument(meter, names.RAGSIGHT_INTERNAL_ERRORS, [self._on_collect])
        self.pending: deque[Item] = deque()
        self.drain_requested = False
        self._recording = threading.RLock()  # re-entrant: a record() may log, and so on

    def _on_collect(self, options: CallbackOptions) -> Iterable[Observation]:
        self.drain()
        return [
            Observation(count, {names.RAGSIGHT_COMPONENT: component})
            for component, count in _safety.internal_error_counts().items()
        ]

    def overflow(self) -> None:
        """Called by the hot path once ``pending`` reaches SOFT_LIMIT.

        Past HARD_LIMIT each call drains two items itself: the queue shrinks, and no single
        request pays for a large batch (a bounded, smooth fallback to inline recording).
        """
        if len(self.pending) >= HARD_LIMIT:
            self.drain(limit=2)
        _drainer.request(self)

    def drain(self, limit: int | None = None) -> None:
        """Record at most the calls pending now (and at most ``limit``).

        Bounded by a snapshot of the length: callers that keep appending as fast as this
        records would otherwise keep one collection running past the SDK's deadline.
        """
        pending = self.pending
        pop = pending.popleft
        lock = self._recording
        todo = len(pending) if limit is None else min(limit, len(pending))
        for _ in range(todo):
            # pop and record under one lock: a collection that finds the queue empty then
            # knows no other thread (the background drainer) holds a popped, unrecorded
            # call that would miss this collection, or the last one at shutdown
            with lock:
                try:
                    item = pop()
                except IndexError:
                    return
                try:
                    self.record(item)
                except Exception as exc:
                    _safety.report_internal_error("metrics.record", exc)

    def record(self, item: Item) -> None:
        plan, duration, error_type, span_context, readout, identity = item
        ctx = _EMPTY
        if span_context is not None:
            ctx = trace.set_span_in_context(trace.NonRecordingSpan(span_context), _EMPTY)
        self.stage_duration.record(duration, plan.stage_metric_attrs(error_type), ctx)
        if plan.genai_metric_attrs is not None:
            self.genai_duration.record(duration, plan.genai_attrs_for_key(identity), ctx)
        if readout is None:
            return
        if readout.cache_result is not None:
            self.cache_requests.add(1, plan.cache_attrs[readout.cache_result], ctx)
            return
        first_chunk = readout.time_to_first_chunk
        if first_chunk is not None and plan.genai_metric_attrs is not None:
            self.time_to_first_chunk.record(first_chunk, plan.genai_attrs_for_key(identity), ctx)
        if plan.token_attrs is not None:
            inputs, outputs = plan.token_attrs_for_key(identity)
            if readout.input_tokens is not None:
                self.token_usage.record(readout.input_tokens, inputs, ctx)
            if readout.output_tokens is not None:
                self.token_usage.record(readout.output_tokens, outputs, ctx)
        if plan.documents_metrics:
            if readout.count is not None:
                self.documents.record(readout.count, plan.document_attrs, ctx)
            # each score kind to its own histogram: only 0..1 similarities are "score"
            if readout.top_score is not None:
                self.score.record(readout.top_score, plan.document_attrs, ctx)
            if readout.distance_best is not None:
                self.distance.record(readout.distance_best, plan.document_attrs, ctx)
            if readout.unbounded_top is not None:
                self.unbounded.record(readout.unbounded_top, plan.document_attrs, ctx)

    def record_evaluation(self, score: float, attributes: dict[str, Any]) -> None:
        self.evaluation.record(score, attributes)


class _Drainer:
    """One daemon thread that drains instruments whose pending queue grew past SOFT_LIMIT."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._targets: deque[weakref.ref[Instruments]] = deque()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def request(self, instruments: Instruments) -> None:
        if instruments.drain_requested:
            return
        instruments.drain_requested = True
        self._targets.append(weakref.ref(instruments))
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="ragsight-metrics-drain", daemon=True
                    )
                    # started from an empty context: thread-context propagation must not
                    # pin the span that happened to be current at the first overflow
                    contextvars.Context().run(self._thread.start)
        self._event.set()

    def _run(self) -> None:
        while True:
            self._event.wait()
            self._event.clear()
            while self._targets:
                inst = self._targets.popleft()()
                if inst is not None:
                    inst.drain_requested = False
                    inst.drain()

    def _after_fork(self) -> None:
        self.__init__()  # type: ignore[misc]


_drainer = _Drainer()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drainer._after_fork)
