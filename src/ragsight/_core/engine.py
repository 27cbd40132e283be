"""The one engine behind every stage: span lifetime, outcome, results and metrics.

One wrapt proxy serves def, async def, generators, async generators, methods,
classmethods and staticmethods; the execution model is decided once, at decoration. The
rules, for every model:

* the span covers the work: the call, the awaited coroutine, or the whole iteration of a
  generator (from the first ``next()`` to exhaustion, error or ``close()``); a generator's
  span is current only while the generator body runs, never while the consumer's code
  between two items runs;
* an ``Exception`` sets status ERROR, records an exception event (message redacted),
  sets ``error.type`` (``_core.errortype``: the fully qualified class name), and the
  very same exception object propagates;
* a ``BaseException`` that is not an ``Exception`` (``GeneratorExit``,
  ``KeyboardInterrupt``, ``SystemExit``) never marks ERROR; early ``break``/``close()``/
  ``aclose()`` ends the span normally;
* ``asyncio.CancelledError`` ends the span with ``rag.cancelled=true`` and
  ``error.type="cancelled"`` (span and metrics, so dashboards can separate cancellations
  from successes and from errors) but status UNSET (the caller chose to stop the work; it
  did not fail), and propagates;
* with no OpenTelemetry provider configured the wrapper calls straight through.

Everything ragsight does around the user's call runs under _safety: a failing extract
hook or an unserialisable result is counted and logged once, never seen by the caller.
"""

from __future__ import annotations

import json
import sys
import traceback
from array import array
from collections.abc import Callable, Mapping, Sequence
from time import perf_counter
from typing import TYPE_CHECKING, Any, Final, TypeVar

import wrapt
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from ragsight import names
from ragsight._core import content as _content
from ragsight._core import events as _events
from ragsight._core import extract as _extract
from ragsight._core import policy as _policy
from ragsight._core import returned as _returned
from ragsight._core import runtime as _runtime
from ragsight._core import semconv as _semconv
from ragsight._core.attempts import AttemptLog
from ragsight._core.callables import (
    NOT_PULLED,
    CallableKind,
    Opened,
    astream_function,
    callable_kind,
    stream_function,
    tell_stage_outside,
)
from ragsight._core.current import CURRENT
from ragsight._core.errortype import error_type as _error_type
from ragsight._core.metrics import SOFT_LIMIT
from ragsight._core.plan import Plan, StageSpec, operation_name, span_name
from ragsight._core.policy import DEFAULT_CONTENT_POLICY
from ragsight._core.safety import report_internal_error

F = TypeVar("F", bound=Callable[..., Any])

# what record_evaluation() judges by default once the stage ended (ragsight._core.events)
_JUDGED_STAGES: Final = frozenset({names.STAGE_GENERATION, names.STAGE_PIPELINE})
_QUERY_ARGS: Final = ("query", "question", "q", "query_text", "search_query", "text", "prompt")
_STREAM_KEEP: Final = 1000  # streamed documents kept for scoring
_MAX_CHUNK_GAPS: Final = 16384  # per stream (128 KiB); a longer stream's later gaps merge


class _ChunkGaps:
    """The time between consecutive chunks of one stream, each a point of the conventions'
    time_per_output_chunk histogram (recorded with the call's other metrics at its end).

    Bounded: past ``_MAX_CHUNK_GAPS`` gaps the rest are summed and recorded as that many
    points of their mean, so the point count and the sum stay exact."""

    __slots__ = ("_gaps", "_tail_count", "_tail_sum")

    def __init__(self) -> None:
        self._gaps: array[float] = array("d")
        self._tail_count = 0
        self._tail_sum = 0.0

    def add(self, gap: float) -> None:
        if len(self._gaps) < _MAX_CHUNK_GAPS:
            self._gaps.append(gap)
        else:
            self._tail_count += 1
            self._tail_sum += gap

    def values(self) -> Sequence[float]:
        if not self._tail_count:
            return self._gaps
        mean = self._tail_sum / self._tail_count
        return [*self._gaps, *([mean] * self._tail_count)]


_attach = otel_context.attach
_detach = otel_context.detach
_set_span = trace.set_span_in_context
_CURRENT_SET = CURRENT.set
_CURRENT_RESET = CURRENT.reset


_UNPRINTABLE: Final = "<exception str() failed>"  # what the traceback module prints


def _add_request_messages(
    content: dict[str, AttributeValue], red: _content._Redactor, request: Mapping[str, Any]
) -> None:
    """Into ``content``: ``gen_ai.input.messages`` and ``gen_ai.system_instructions`` of
    ``request`` (a call's bound arguments, or the JSON body a returned stream or raw
    response really sent), each only when ``request`` has it."""
    messages = _content.input_messages(red, request)
    if messages is not None:
        content[names.GEN_AI_INPUT_MESSAGES] = messages
    instructions = _content.system_instructions(red, request)
    if instructions is not None:
        content[names.GEN_AI_SYSTEM_INSTRUCTIONS] = instructions


def _is_cancelled(exc: BaseException) -> bool:
    # asyncio is not imported by ragsight: if it is not loaded, nothing can be its
    # CancelledError
    mod = sys.modules.get("asyncio.exceptions")
    return mod is not None and isinstance(exc, mod.CancelledError)


class StageCall:
    """One running stage: the handle ``current_stage()`` returns inside a stage.

    Use it to add what only the function knows: ``set_attribute(s)``, ``set_result``
    (read as if returned, e.g. from a context-manager block), ``set_usage``,
    ``set_input``/``set_output`` (content: only kept when capture is on).
    """

    __slots__ = (
        "_attempts",
        "_content",
        "_count",
        "_ended",
        "_first_chunk",
        "_gaps",
        "_items",
        "_last_chunk",
        "_models",
        "_plan",
        "_policy",
        "_provider",
        "_reader",
        "_result",
        "_rt",
        "_score_kind",
        "_server",
        "_span",
        "_t0",
        "_usage",
    )

    def __init__(self, plan: Plan, rt: _runtime.Runtime, parent: Any = None) -> None:
        self._plan = plan
        self._rt = rt
        tracer = rt.tracer
        span: Span = INVALID_SPAN
        if tracer is not None:
            span = tracer.start_span(plan.span_name, parent, plan.span_kind, plan.span_attrs)
        self._span = span
        self._result: Any = _NOTHING
        self._usage: tuple[int | None, int | None] | None = None
        self._items: list[Any] | None = None
        self._reader: _extract.StreamReader | None = None  # a streamed generation's usage
        self._score_kind: str | None = plan.spec.score
        self._count = 0
        self._first_chunk: float | None = None
        self._last_chunk = 0.0  # perf_counter() when the latest chunk arrived
        self._gaps: _ChunkGaps | None = None  # time between chunks after the first
        self._ended = False
        self._attempts: AttemptLog | None = None
        self._provider: str | None = plan.spec.provider
        self._models: tuple[str | None, str | None] = (plan.spec.model, None)
        self._server: tuple[str, int] | None = None  # (server.address, server.port)
        policy = _policy._content  # one global read; configure() swaps it atomically
        if policy is DEFAULT_CONTENT_POLICY:
            policy = _content.effective_policy()
        capture = policy.capture if plan.capture is None else plan.capture
        self._policy = policy if capture else None
        self._content: dict[str, AttributeValue] | None = None
        self._t0 = perf_counter()

    # ---- public handle API -------------------------------------------------------------
    @property
    def span(self) -> Span:
        """The OpenTelemetry span of this stage (a non-recording one when tracing is off)."""
        return self._span

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        self._span.set_attribute(key, value)

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        self._span.set_attributes(attributes)

    def set_result(self, result: Any) -> None:
        """Read ``result`` (documents, embeddings, usage) as if the stage had returned it."""
        self._result = result

    def set_usage(self, input_tokens: int | None = None, output_tokens: int | None = None) -> None:
        self._usage = (input_tokens, output_tokens)

    def set_input(self, value: Any) -> None:
        """Content: kept (redacted, truncated) only when content capture is on."""
        if self._policy is not None:
            self._add_content(names.RAG_INPUT, value)

    def set_output(self, value: Any) -> None:
        if self._policy is not None:
            self._add_content(names.RAG_OUTPUT, value)

    # ---- engine internals ------------------------------------------------------------
    def _add_content(self, key: str, value: Any) -> None:
        try:
            assert self._policy is not None
            red = _content.redactor(self._policy)
            text = value if isinstance(value, str) and key != names.RAG_INPUT else None
            rendered = red.text(text) if text is not None else red.json(value)
            if self._content is None:
                self._content = {}
            self._content[key] = rendered
        except Exception as exc:
            report_internal_error("content", exc)

    def _capture_sent(self, result: Any) -> None:
        """The input messages (and system instructions) the request behind a returned
        stream or raw response really carried: they replace what the arguments showed."""
        try:
            assert self._policy is not None
            body = _content.sent_request(result)
            if body is None:
                return
            red = _content.redactor(self._policy)
            self._content = self._content or {}
            _add_request_messages(self._content, red, body)
        except Exception as exc:
            report_internal_error("content", exc)

    def _add_output_messages(self, result: Any) -> None:
        self._capture_sent(result)
        try:
            assert self._policy is not None
            messages = _content.output_messages(_content.redactor(self._policy), result)
            if messages is not None:
                if self._content is None:
                    self._content = {}
                self._content[names.GEN_AI_OUTPUT_MESSAGES] = messages
        except Exception as exc:
            report_internal_error("content", exc)

    def _capture_arguments(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> None:
        try:
            assert self._policy is not None
            red = _content.redactor(self._policy)
            arguments = _content.bind_arguments(fn, args, kwargs)
            content = self._content = self._content or {}
            content[names.RAG_INPUT] = _content.capture_arguments(red, arguments)
            if self._plan.stage == names.STAGE_GENERATION:
                _add_request_messages(content, red, arguments)
            if self._plan.stage == names.STAGE_RETRIEVAL:
                for key in _QUERY_ARGS:
                    value = arguments.get(key)
                    if isinstance(value, str) and not red.secret(key):
                        content[names.GEN_AI_RETRIEVAL_QUERY_TEXT] = red.text(value)
                        break
        except Exception as exc:
            report_internal_error("content", exc)

    def _count_rerank_input(
        self, instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> None:
        """``rag.rerank.candidate.count`` from the documents argument (its length only)."""
        rerank_input = self._plan.rerank_input
        if rerank_input is None or not self._span.is_recording():
            return
        try:
            count = rerank_input.count(instance, args, kwargs)
            if count is not None:
                self._span.set_attribute(names.RAG_RERANK_CANDIDATE_COUNT, count)
        except Exception as exc:
            report_internal_error("extract", exc)

    def _detect_score_kind(
        self,
        fn: Callable[..., Any],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
    ) -> None:
        """The score kind the vector store behind the call reveals (docs/readers.md)."""
        try:
            self._score_kind = _extract.score_kind_of_call(fn, instance, args, kwargs)
        except Exception as exc:
            report_internal_error("extract", exc)

    def _read_request(
        self, instance: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], streamed: bool
    ) -> None:
        """What the call reveals before it runs: the client (provider, server address),
        the model and the request parameters of its keyword arguments."""
        try:
            plan = self._plan
            attrs = _semconv.request_attributes(
                kwargs,
                generation=plan.stage == names.STAGE_GENERATION,
                embedding=plan.stage == names.STAGE_EMBEDDING,
            )
            if streamed and plan.stage == names.STAGE_GENERATION:
                attrs[names.GEN_AI_REQUEST_STREAM] = True
            client = _semconv.client_of(kwargs, instance)
            if client is None:
                client = next((a for a in args if _semconv.provider_of_type(a)), None)
            server = _semconv.server_of(client) if client is not None else None
            if self._provider is None:
                self._provider = _semconv.provider_of_type(client) or _semconv.provider_of_host(
                    server[0] if server is not None else None
                )
                if self._provider is not None:
                    attrs[names.GEN_AI_PROVIDER_NAME] = self._provider
            if server is not None:
                attrs[names.SERVER_ADDRESS], attrs[names.SERVER_PORT] = server
                self._server = server  # on the GenAI metrics too
            if self._models[0] is None and plan.names_model:
                model = _semconv.model_argument(kwargs)
                if model is not None:
                    self._models = (model, None)
                    attrs[names.GEN_AI_REQUEST_MODEL] = model
                    self._span.update_name(_plan_span_name(plan, model))
            if attrs:
                self._span.set_attributes(attrs)
        except Exception as exc:
            report_internal_error("extract.request", exc)

    def _read_response_identity(self, result: Any, readout: _extract.Readout | None) -> None:
        """Provider and response model from what the call returned (metrics carry both)."""
        try:
            if readout is not None and readout.response_model is not None:
                self._models = (self._models[0], readout.response_model)
            if self._provider is None and self._plan.reads_request:
                found = _semconv.provider_of_response(result)
                if found is None and readout is not None:
                    found = readout.provider  # a stream's chunks told
                if found is not None:
                    self._provider = found
                    self._span.set_attribute(names.GEN_AI_PROVIDER_NAME, found)
        except Exception as exc:
            report_internal_error("extract", exc)

    def _enter(self) -> tuple[Any, Any]:
        return _attach(_set_span(self._span)), CURRENT.set(self)

    @staticmethod
    def _leave(tokens: tuple[Any, Any]) -> None:
        CURRENT.reset(tokens[1])
        _detach(tokens[0])

    def end(self, error: BaseException | None, closed: bool) -> None:
        if error is not None:
            self._finish_exc(error)
        elif closed:
            self._finish_closed()
        else:
            self._finish_ok(self._stream_result())

    def _on_item(self, item: Any) -> None:
        """A generator stage yielded ``item`` (a streamed document or chunk)."""
        self._count += 1
        if self._plan.stage == names.STAGE_GENERATION:
            # measured before the item reaches the consumer; recorded with the rest at end
            now = perf_counter()
            if self._count == 1:
                self._first_chunk = now - self._t0
            else:
                gaps = self._gaps
                if gaps is None:
                    gaps = self._gaps = _ChunkGaps()
                gaps.add(now - self._last_chunk)
            self._last_chunk = now
        if self._plan.reads == "usage":  # chunks are read as they pass, never kept
            reader = self._reader
            if reader is None:
                policy = self._policy  # capture on: the generated text is kept (bounded)
                limit = policy.max_length if policy is not None else 0
                reader = self._reader = _extract.StreamReader(limit)
            reader.feed(item)
            return
        items = self._items
        if items is None:
            items = self._items = []
        if len(items) < _STREAM_KEEP:
            items.append(item)

    # the callables.StreamObserver protocol, through which the stream relay steps
    resume = _enter
    pause = _leave
    item = _on_item

    def _read(self, result: Any) -> _extract.Readout | None:
        plan = self._plan
        if self._result is not _NOTHING:
            result = self._result
        if plan.reads is None and self._usage is None:
            return None
        readout = _extract.Readout()
        extra: dict[str, Any] | None = None
        try:
            reads = plan.reads
            if reads == "documents":
                found = _extract.retrieved_of(result)
                if found is not None:
                    _extract.read_retrieved(readout, found, plan.spec.score, self._score_kind)
            elif reads == "embedding":
                readout.dimension = _extract.embedding_dimension(result)
                _extract.read_usage(readout, result)
                readout.output_tokens = None
            elif reads == "usage":
                _extract.read_usage(readout, result)
            elif reads == "cache" and result in plan.cache_attrs:
                readout.cache_result = result
        except Exception as exc:
            report_internal_error("extract", exc)
        if plan.extract is not None:
            try:
                out = plan.extract(result)
                if out:
                    extra = _extract.apply_hook_output(readout, out, plan.spec.score)
            except Exception as exc:
                report_internal_error("extract.hook", exc)
        if self._usage is not None:
            inp, out_tokens = self._usage
            if inp is not None:
                readout.input_tokens = inp
            if out_tokens is not None:
                readout.output_tokens = out_tokens
        span = self._span
        if span.is_recording():
            try:
                span.set_attributes(_readout_attributes(readout))
                if extra:
                    span.set_attributes(extra)
            except Exception as exc:
                report_internal_error("attributes", exc)
        if self._policy is not None and readout.listed is not None:
            self._capture_documents(readout)
        readout.listed = None  # the readout waits for the next collection: keep no ids
        return readout

    def _capture_documents(self, readout: _extract.Readout) -> None:
        try:
            assert self._policy is not None
            assert readout.listed is not None
            red = _content.redactor(self._policy)
            listed = [
                {"id": red.text(str(doc_id if doc_id is not None else i)), "score": score}
                for i, (doc_id, score) in enumerate(readout.listed)
            ]
            if self._content is None:
                self._content = {}
            self._content[names.GEN_AI_RETRIEVAL_DOCUMENTS] = json.dumps(listed)
        except Exception as exc:
            report_internal_error("content", exc)

    def _stream_result(self) -> Any:
        if self._plan.reads == "usage":
            return self._reader.result() if self._reader is not None else None
        return self._items if self._items is not None else []

    def _finish(self, result: Any, error_type: str | None, readout_needed: bool) -> None:
        if self._ended:
            return
        self._ended = True
        duration = perf_counter() - self._t0
        span = self._span
        readout = None
        if readout_needed and (
            self._plan.reads is not None or self._usage is not None or self._result is not _NOTHING
        ):
            readout = self._read(result)
        if readout_needed and result is not _NOTHING:
            self._read_response_identity(
                self._result if self._result is not _NOTHING else result, readout
            )
        if readout is not None and self._count and self._plan.reads == "documents":
            readout.count = self._count
            if span.is_recording():
                span.set_attribute(names.RAG_RETRIEVAL_DOCUMENTS_COUNT, self._count)
        first_chunk = self._first_chunk
        if first_chunk is not None:
            if readout is None:
                readout = _extract.Readout()
            readout.time_to_first_chunk = first_chunk
            if self._gaps is not None:
                readout.chunk_gaps = self._gaps.values()
            if span.is_recording():
                span.set_attribute(names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, first_chunk)
        if self._policy is not None:
            streamed = self._items is not None  # a usage stream's summary has its text
            if self._result is not _NOTHING and (streamed or result is None):
                # a returned library stream's final snapshot (returned.py): its content
                result, streamed = self._result, False
            if readout_needed and result is not _NOTHING and not streamed:
                self._add_content(names.RAG_OUTPUT, _content.output_value(result))
                if self._plan.stage == names.STAGE_GENERATION:
                    self._add_output_messages(result)
            self._flush_content()
        span.end()
        if self._plan.stage in _JUDGED_STAGES and span is not INVALID_SPAN:
            self._note_judged(span)
        attempts = self._attempts
        if attempts is not None:  # retried: the metrics measure the last attempt
            duration, _, context = attempts.last
        else:
            context = span.get_span_context() if span is not INVALID_SPAN else None
        self._queue(duration, error_type, context, readout)

    @staticmethod
    def _note_judged(span: Span) -> None:
        try:
            attributes = getattr(span, "attributes", None)
            found = attributes.get(names.GEN_AI_RESPONSE_ID) if attributes else None
            _events.note_ended(span.get_span_context(), found if isinstance(found, str) else None)
        except Exception as exc:
            report_internal_error("events", exc)

    def _queue(
        self,
        duration: float,
        error_type: str | None,
        context: trace.SpanContext | None,
        readout: _extract.Readout | None,
    ) -> None:
        """One sample of the stage's metrics, recorded off the caller's thread."""
        pending = self._rt.pending
        if pending is not None:
            identity = (error_type, self._provider, *self._models, self._server)
            pending.append((self._plan, duration, error_type, context, readout, identity))
            if len(pending) >= SOFT_LIMIT:
                instruments = self._rt.instruments
                assert instruments is not None
                instruments.overflow()

    def retried(self, failed_at: float, error: BaseException | None) -> AttemptLog:
        """The first attempt failed at ``failed_at`` (``perf_counter``) and is retried:
        from now on every attempt is its own operation (:mod:`ragsight._core.attempts`)."""
        attempts = self._attempts
        if attempts is None:
            attempts = self._attempts = AttemptLog(self, failed_at, error)
        return attempts

    def _flush_content(self) -> None:
        content = self._content
        if not content or self._policy is None:
            return
        try:
            to = self._policy.capture_to
            if to in ("span", "span_and_event"):
                self._span.set_attributes(content)
            if to in ("event", "span_and_event"):
                span = self._span
                name, attributes = _content.content_event(
                    self._plan.stage, content, getattr(span, "attributes", None)
                )
                _events.emit(
                    name,
                    attributes,
                    parent=span.get_span_context(),
                    mirror_to=span,
                    # with span_and_event the span already has the content as attributes
                    mirror=to == "event",
                    severity=_events.DEBUG,  # the conventions' severity for the details event
                )
        except Exception as exc:
            report_internal_error("content", exc)

    def _finish_ok(self, result: Any) -> None:
        self._finish(result, None, True)

    def _finish_exc(self, exc: BaseException) -> None:
        if self._ended:
            return
        span = self._span
        error_type: str | None = None
        try:
            if isinstance(exc, Exception):
                error_type = _error_type(exc)
                span.set_attribute(names.ERROR_TYPE, error_type)
                policy = _content.effective_policy()
                try:
                    text: str | None = str(exc)
                except Exception:  # a user __str__ that raises must not cost the ERROR status
                    text = None
                limit = policy.max_length
                message = (
                    _content.bound(_content.redact_text(text, policy), limit)
                    if text is not None
                    else _UNPRINTABLE
                )
                # the SDK's own stacktrace ends with the message: redact it too
                stack = _content.bound(
                    _content.redact_text("".join(traceback.format_exception(exc)), policy),
                    limit * _content.STACKTRACE_LENGTH_FACTOR,
                    middle=True,
                )
                attributes = {names.EXCEPTION_MESSAGE: message, names.EXCEPTION_STACKTRACE: stack}
                if text is not None:
                    span.record_exception(exc, attributes)
                else:  # the SDK's record_exception would call str() again and fail
                    attributes[names.EXCEPTION_TYPE] = error_type
                    span.add_event(names.EVENT_EXCEPTION, attributes)
                span.set_status(Status(StatusCode.ERROR, f"{error_type}: {message}"))
                if self._plan.genai_metric_attrs is not None:  # a GenAI client operation
                    self._emit_exception_event(exc, message, stack)
            elif _is_cancelled(exc):
                error_type = names.ERROR_TYPE_CANCELLED
                span.set_attributes({names.RAG_CANCELLED: True, names.ERROR_TYPE: error_type})
        except Exception as inner:
            report_internal_error("exception", inner)
        self._finish(_NOTHING, error_type, self._result is not _NOTHING or self._count > 0)

    def _emit_exception_event(self, exc: Exception, message: str, stack: str) -> None:
        """The conventions' ``gen_ai.client.operation.exception`` (WARN), parented to the
        failed span, with the redacted message and stacktrace its span event has; never
        mirrored, since that span event already shows the same on the span."""
        kind = type(exc)
        module = kind.__module__
        exception_type = (
            f"{module}.{kind.__qualname__}"
            if module and module != "builtins"
            else kind.__qualname__
        )  # as the SDK's record_exception spells it
        _events.emit(
            names.EVENT_GEN_AI_CLIENT_OPERATION_EXCEPTION,
            {
                names.EXCEPTION_TYPE: exception_type,
                names.EXCEPTION_MESSAGE: message,
                names.EXCEPTION_STACKTRACE: stack,
            },
            parent=self._span.get_span_context(),
            mirror=False,
            severity=_events.WARN,
        )

    def _finish_closed(self) -> None:
        """A generator stage closed early by its consumer: a normal end, not an error."""
        self._finish(self._stream_result(), None, True)


def _plan_span_name(plan: Plan, model: str) -> str:
    assert plan.operation is not None  # a stage that names a model has an operation
    return span_name(plan.operation, model)


class _Nothing:
    __slots__ = ()


_NOTHING: Final[Any] = _Nothing()


def _readout_attributes(r: _extract.Readout) -> dict[str, AttributeValue]:
    out: dict[str, AttributeValue] = {}
    if r.count is not None:
        out[names.RAG_RETRIEVAL_DOCUMENTS_COUNT] = r.count
    if r.top_score is not None:
        out[names.RAG_RETRIEVAL_TOP_SCORE] = r.top_score
    if r.mean_score is not None:
        out[names.RAG_RETRIEVAL_MEAN_SCORE] = r.mean_score
    if r.score_kind is not None:
        out[names.RAG_RETRIEVAL_SCORE_KIND] = r.score_kind
    if r.distance_best is not None:
        out[names.RAG_RETRIEVAL_DISTANCE_BEST] = r.distance_best
    if r.distance_mean is not None:
        out[names.RAG_RETRIEVAL_DISTANCE_MEAN] = r.distance_mean
    if r.unbounded_top is not None:
        out[names.RAG_RETRIEVAL_UNBOUNDED_TOP] = r.unbounded_top
    if r.unbounded_mean is not None:
        out[names.RAG_RETRIEVAL_UNBOUNDED_MEAN] = r.unbounded_mean
    if r.dimension is not None:
        out[names.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = r.dimension
    if r.input_tokens is not None:
        out[names.GEN_AI_USAGE_INPUT_TOKENS] = r.input_tokens
    if r.output_tokens is not None:
        out[names.GEN_AI_USAGE_OUTPUT_TOKENS] = r.output_tokens
    if r.response_model is not None:
        out[names.GEN_AI_RESPONSE_MODEL] = r.response_model
    if r.response_id is not None:
        out[names.GEN_AI_RESPONSE_ID] = r.response_id
    if r.finish_reasons is not None:
        out[names.GEN_AI_RESPONSE_FINISH_REASONS] = list(r.finish_reasons)
    return out


# ---- the four execution models ---------------------------------------------------------
Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


def _sync_wrapper(plan: Plan) -> Wrapper:
    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        rt = _runtime.get()
        if rt is None:
            return wrapped(*args, **kwargs)
        call = StageCall(plan, rt)
        if plan.reads_request:
            call._read_request(instance, args, kwargs, False)
        if call._policy is not None:
            call._capture_arguments(wrapped, args, kwargs)
        if plan.rerank_input is not None:
            call._count_rerank_input(instance, args, kwargs)
        if call._score_kind is None and plan.reads == "documents":
            call._detect_score_kind(wrapped, instance, args, kwargs)
        # _enter/_leave inlined: this is the hottest path
        otel_token = _attach(_set_span(call._span))
        stage_token = _CURRENT_SET(call)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            _CURRENT_RESET(stage_token)
            _detach(otel_token)
            call._finish_exc(exc)
            raise
        _CURRENT_RESET(stage_token)
        _detach(otel_token)
        stream = _returned.stream_kind_of(result)
        if stream is not None:  # the stage lasts as long as the stream it returned
            if plan.stage == names.STAGE_GENERATION:
                if _returned.requested_streaming(result, stream):
                    call._span.set_attribute(names.GEN_AI_REQUEST_STREAM, True)
                if call._policy is not None:
                    call._capture_sent(result)
            return _returned.wrap(result, stream, call)
        call._finish(result, None, True)
        return result

    return wrapper


def _async_wrapper(plan: Plan) -> Wrapper:
    async def run(
        rt: _runtime.Runtime,
        wrapped: Callable[..., Any],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        call = StageCall(plan, rt)
        if plan.reads_request:
            call._read_request(instance, args, kwargs, False)
        if call._policy is not None:
            call._capture_arguments(wrapped, args, kwargs)
        if plan.rerank_input is not None:
            call._count_rerank_input(instance, args, kwargs)
        if call._score_kind is None and plan.reads == "documents":
            call._detect_score_kind(wrapped, instance, args, kwargs)
        tokens = call._enter()
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            call._leave(tokens)
            call._finish_exc(exc)
            raise
        call._leave(tokens)
        stream = _returned.stream_kind_of(result)
        if stream is not None:  # e.g. an awaited openai AsyncStream
            if plan.stage == names.STAGE_GENERATION:
                if _returned.requested_streaming(result, stream):
                    call._span.set_attribute(names.GEN_AI_REQUEST_STREAM, True)
                if call._policy is not None:
                    call._capture_sent(result)
            return _returned.wrap(result, stream, call)
        call._finish_ok(result)
        return result

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        rt = _runtime.get()
        if rt is None:
            return wrapped(*args, **kwargs)
        return run(rt, wrapped, instance, args, kwargs)

    return wrapper


def _stream_opener(plan: Plan) -> Callable[[tuple[Any, ...], dict[str, Any]], Opened]:
    """Starts a streamed stage's span when the stream is first advanced (not at creation)."""

    def open_stream(args: tuple[Any, ...], kw: dict[str, Any]) -> Opened:
        rt, stream, parent, (fn, instance, fn_args, fn_kwargs) = args
        call = StageCall(plan, rt, parent)
        if plan.reads_request:
            call._read_request(instance, fn_args, fn_kwargs, True)
        if call._policy is not None:
            call._capture_arguments(fn, fn_args, fn_kwargs)
        if plan.rerank_input is not None:
            call._count_rerank_input(instance, fn_args, fn_kwargs)
        if call._score_kind is None and plan.reads == "documents":
            call._detect_score_kind(fn, instance, fn_args, fn_kwargs)
        return stream, NOT_PULLED, call

    return open_stream


def _gen_wrapper(plan: Plan) -> Wrapper:
    iterate = stream_function(_stream_opener(plan))

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        gen = wrapped(*args, **kwargs)
        rt = _runtime.get()
        if rt is None:
            return gen
        return iterate(rt, gen, otel_context.get_current(), (wrapped, instance, args, kwargs))

    return wrapper


def _agen_wrapper(plan: Plan) -> Wrapper:
    open_stream = _stream_opener(plan)

    async def aopen_stream(args: tuple[Any, ...], kw: dict[str, Any]) -> Opened:
        return open_stream(args, kw)

    iterate = astream_function(aopen_stream)

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        agen = wrapped(*args, **kwargs)
        rt = _runtime.get()
        if rt is None:
            return agen
        return iterate(rt, agen, otel_context.get_current(), (wrapped, instance, args, kwargs))

    return wrapper


_FACTORIES: Final[dict[CallableKind, Callable[[Plan], Wrapper]]] = {
    CallableKind.SYNC: _sync_wrapper,
    CallableKind.ASYNC: _async_wrapper,
    CallableKind.GEN: _gen_wrapper,
    CallableKind.AGEN: _agen_wrapper,
}


class StageBinding:
    """What ``fn.__ragsight_stage__`` holds: the stage, re-appliable to another callable.

    The resilience decorators use ``rewrap(inner)`` to keep the stage outermost whatever
    order the user stacked the decorators in. ``inner`` must have the same calling
    convention as the function the stage was first applied to (it wraps that function).
    """

    __slots__ = ("callable_kind", "plan", "spec")

    def __init__(self, spec: StageSpec, plan: Plan, callable_kind: CallableKind) -> None:
        self.spec = spec
        self.plan = plan
        self.callable_kind = callable_kind

    def rewrap(self, inner: F) -> F:
        return _build(inner, self)


if TYPE_CHECKING:
    _WrapperBase = wrapt.FunctionWrapper[..., Any]
else:
    _WrapperBase = wrapt.FunctionWrapper


class StageWrapper(_WrapperBase):
    """The proxy a stage decorator returns; carries its binding on the proxy, not ``fn``."""

    @property
    def __ragsight_stage__(self) -> StageBinding:
        binding: StageBinding = self._self_ragsight_binding
        return binding


def _build(fn: F, binding: StageBinding) -> F:
    proxy: Any = StageWrapper(fn, _FACTORIES[binding.callable_kind](binding.plan))
    proxy._self_ragsight_binding = binding
    return proxy  # type: ignore[no-any-return]


def decorate(fn: F, spec: StageSpec) -> F:
    """Apply ``spec`` to ``fn``; applying an identical stage twice is a no-op."""
    if isinstance(fn, StageWrapper) and fn.__ragsight_stage__.spec == spec:
        return fn
    name = spec.name or operation_name(fn)
    binding = StageBinding(spec, Plan(spec, name, fn), callable_kind(fn))
    tell_stage_outside(getattr(fn, "__ragsight_provider__", None), binding.plan)
    return _build(fn, binding)
