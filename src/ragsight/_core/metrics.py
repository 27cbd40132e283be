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
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Counter, Histogram, Meter, Observation
from opentelemetry.util.types import AttributeValue

from ragsight import names
from ragsight._core import safety as _safety
from ragsight._core import semconv as _semconv
from ragsight._core.instruments import create_instrument
from ragsight._core.plan import without_error

if TYPE_CHECKING:
    from ragsight._core.extract import Readout
    from ragsight._core.plan import GenAIKey, Plan

SOFT_LIMIT: Final = 4096
_ATTRS_CACHE_SIZE: Final = 4096
# stages whose gen_ai.* duration is not a client operation: tool and workflow (latest only)
_NAMED_STAGES: Final = frozenset({names.STAGE_TOOL, names.STAGE_PIPELINE})
_GENAI_CLIENT_STAGES: Final = (
    names.STAGE_RETRIEVAL,
    names.STAGE_EMBEDDING,
    names.STAGE_RERANK,
    names.STAGE_GENERATION,
)
HARD_LIMIT: Final = 32768
_EMPTY: Final = Context()

# (plan, duration_s, error_type | None, sampled span context | None, readout | None,
#  (error_type, provider, request model, response model): what the call revealed)
Item = tuple["Plan", float, "str | None", "trace.SpanContext | None", "Readout | None", "GenAIKey"]


class Instruments:
    """The core's instruments on one MeterProvider, plus that provider's pending calls.

    The GenAI instruments are those of the conventions mode in force when the provider's
    instruments were made (``names.GENAI_METRICS_BY_MODE``): ``latest`` records inference,
    embeddings, tool and workflow durations and the usage counters; ``v1.41.0`` records
    ``gen_ai.client.operation.duration`` and ``gen_ai.client.token.usage``. Never both.
    """

    def __init__(self, meter: Meter, mode: str | None = None) -> None:
        self.retired = False  # before any callback is registered
        self.mode = _semconv.mode() if mode is None else mode
        self.latest = self.mode == names.SEMCONV_LATEST
        self.stage_duration: Histogram = create_instrument(meter, names.RAG_OPERATION_DURATION)
        self.genai_duration: Histogram = create_instrument(
            meter, names.GEN_AI_CLIENT_OPERATION_DURATION
        )
        # gen_ai.* duration per stage (the conventions' metric for that operation)
        self.duration_by_stage: dict[str, Histogram] = {
            stage: self.genai_duration for stage in _GENAI_CLIENT_STAGES
        }
        self.tool_duration: Histogram | None = None
        self.workflow_duration: Histogram | None = None
        self.usage_input: Counter | None = None
        self.usage_output: Counter | None = None
        self.operation_input: Histogram | None = None
        self.operation_output: Histogram | None = None
        self.embeddings_input: Histogram | None = None
        self.token_usage: Histogram | None = None
        if self.latest:
            self.duration_by_stage[names.STAGE_GENERATION] = create_instrument(
                meter, names.GEN_AI_CLIENT_INFERENCE_DURATION
            )
            self.duration_by_stage[names.STAGE_EMBEDDING] = create_instrument(
                meter, names.GEN_AI_CLIENT_EMBEDDINGS_DURATION
            )
            self.time_to_first_chunk: Histogram = create_instrument(
                meter, names.GEN_AI_CLIENT_INFERENCE_TIME_TO_FIRST_CHUNK
            )
            self.time_per_chunk: Histogram = create_instrument(
                meter, names.GEN_AI_CLIENT_INFERENCE_TIME_PER_OUTPUT_CHUNK
            )
            self.usage_input = create_instrument(
                meter, names.GEN_AI_CLIENT_INFERENCE_USAGE_INPUT_TOKENS
            )
            self.usage_output = create_instrument(
                meter, names.GEN_AI_CLIENT_INFERENCE_USAGE_OUTPUT_TOKENS
            )
            self.operation_input = create_instrument(
                meter, names.GEN_AI_CLIENT_INFERENCE_OPERATION_INPUT_TOKENS
            )
            self.operation_output = create_instrument(
                meter, names.GEN_AI_CLIENT_INFERENCE_OPERATION_OUTPUT_TOKENS
            )
            self.embeddings_input = create_instrument(
                meter, names.GEN_AI_CLIENT_EMBEDDINGS_OPERATION_INPUT_TOKENS
            )
            self.tool_duration = create_instrument(meter, names.GEN_AI_EXECUTE_TOOL_DURATION)
            self.workflow_duration = create_instrument(meter, names.GEN_AI_INVOKE_WORKFLOW_DURATION)
        else:
            self.token_usage = create_instrument(meter, names.GEN_AI_CLIENT_TOKEN_USAGE)
            self.time_to_first_chunk = create_instrument(
                meter, names.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK
            )
            self.time_per_chunk = create_instrument(
                meter, names.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK
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
        # attribute sets built at drain time, bounded (past the bound: built per record)
        self._attrs: dict[tuple[Any, ...], dict[str, AttributeValue]] = {}

    def retire(self) -> None:
        """Replaced by another mode's instruments on the same provider: keep draining what
        is pending, but leave ragsight.internal.errors to the new ones (counted once)."""
        self.retired = True

    def _on_collect(self, options: CallbackOptions) -> Iterable[Observation]:
        self.drain()
        if self.retired:
            return []
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
        stage_attrs = plan.stage_metric_attrs(error_type)
        self.stage_duration.record(duration, stage_attrs, ctx)
        stage = plan.stage
        if plan.genai_metric_attrs is not None:
            histogram = self.duration_by_stage.get(stage, self.genai_duration)
            histogram.record(duration, plan.genai_attrs_for_key(identity), ctx)
        elif self.latest and stage in _NAMED_STAGES:
            self._record_named(plan, stage_attrs.get(names.ERROR_TYPE), duration, ctx)
        if stage == names.STAGE_GENERATION and self.usage_input is not None:
            self._record_usage_counters(plan, identity, readout, ctx)
        if readout is None:
            return
        if readout.cache_result is not None:
            self.cache_requests.add(1, plan.cache_attrs[readout.cache_result], ctx)
            return
        first_chunk = readout.time_to_first_chunk
        if first_chunk is not None and plan.genai_metric_attrs is not None:
            # no error.type: a stream that fails later did deliver its first chunk
            first_attrs = plan.genai_attrs_for_key(without_error(identity))
            self.time_to_first_chunk.record(first_chunk, first_attrs, ctx)
            gaps = readout.chunk_gaps
            if gaps:  # one point per chunk after the first, as the conventions define it
                record_gap = self.time_per_chunk.record
                for gap in gaps:
                    record_gap(gap, first_attrs, ctx)
        if plan.token_attrs is not None:
            self._record_tokens(plan, identity, readout, ctx)
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

    def _cached(
        self, key: tuple[Any, ...], build: Callable[[], dict[str, AttributeValue]]
    ) -> dict[str, AttributeValue]:
        found = self._attrs.get(key)
        if found is None:
            found = build()
            if len(self._attrs) < _ATTRS_CACHE_SIZE:
                self._attrs[key] = found  # racing threads store equal dicts: harmless
        return found

    def _record_named(
        self, plan: Plan, error_type: AttributeValue | None, duration: float, ctx: Context
    ) -> None:
        """gen_ai.execute_tool.duration / gen_ai.invoke_workflow.duration (latest only)."""
        if plan.stage == names.STAGE_TOOL:
            histogram, key_name = self.tool_duration, names.GEN_AI_TOOL_NAME
        else:
            histogram, key_name = self.workflow_duration, names.GEN_AI_WORKFLOW_NAME

        def build() -> dict[str, AttributeValue]:
            attrs: dict[str, AttributeValue] = {key_name: plan.op_name}
            if error_type is not None:
                attrs[names.ERROR_TYPE] = error_type
            return attrs

        if histogram is not None:
            histogram.record(duration, self._cached((plan, error_type), build), ctx)

    def _record_usage_counters(
        self, plan: Plan, identity: GenAIKey, readout: Readout | None, ctx: Context
    ) -> None:
        """The latest usage counters: every inference call adds its tokens, or 0 under the
        ``unknown`` modality when it reported none (the conventions' rule for failures)."""
        if self.usage_input is None or self.usage_output is None:
            return
        key = without_error(identity)
        base = plan.genai_attrs_for_key(key)
        attrs = self._cached(
            ("usage", plan, *key),
            lambda: {**base, names.GEN_AI_TOKEN_MODALITY: names.TOKEN_MODALITY_UNKNOWN},
        )
        tokens_in = readout.input_tokens if readout is not None else None
        tokens_out = readout.output_tokens if readout is not None else None
        self.usage_input.add(tokens_in or 0, attrs, ctx)
        self.usage_output.add(tokens_out or 0, attrs, ctx)

    def _record_tokens(
        self, plan: Plan, identity: GenAIKey, readout: Readout, ctx: Context
    ) -> None:
        """Per-operation token histograms: only calls that reported usage."""
        if self.token_usage is not None:  # v1.41.0: one histogram, gen_ai.token.type
            inputs, outputs = plan.token_attrs_for_key(identity)
            if readout.input_tokens is not None:
                self.token_usage.record(readout.input_tokens, inputs, ctx)
            if readout.output_tokens is not None:
                self.token_usage.record(readout.output_tokens, outputs, ctx)
            return
        if plan.stage == names.STAGE_EMBEDDING:
            if readout.input_tokens is not None and self.embeddings_input is not None:
                attrs = plan.genai_attrs_for_key(without_error(identity))
                self.embeddings_input.record(readout.input_tokens, attrs, ctx)
            return
        attrs = plan.genai_attrs_for_key(identity)
        if readout.input_tokens is not None and self.operation_input is not None:
            self.operation_input.record(readout.input_tokens, attrs, ctx)
        if readout.output_tokens is not None and self.operation_output is not None:
            self.operation_output.record(readout.output_tokens, attrs, ctx)

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
