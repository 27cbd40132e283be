"""Resilient batch processing: every document is accounted for, whatever fails.

Ingestion and re-embedding jobs push thousands of documents through flaky dependencies.
The pattern this project started from: process each document through retry and a circuit
breaker, never let one bad document lose the batch, and report exactly what happened -
which succeeded, which failed and why, which were skipped because the breaker was open.

Concurrency is bounded by a fixed set of workers pulling from one shared iterator, so
in-flight documents never exceed ``concurrency`` and a lazy (even unbounded) iterable is
consumed as work progresses rather than materialised up front. Workers run in a copy of the
caller's context.

Traces: one span per batch (``process_documents {name}``, a child of the caller's span)
carries the counts and the failure events; the first ``DOCUMENT_SPANS`` documents each get
a child span (``document``, with its index and outcome) that parents whatever the handler
emits. Past that limit the handler's own spans hang off the batch span directly and the
documents only count in its attributes: a batch of 100 000 documents stays one readable
trace of bounded size (a document span costs about two plain spans, so the limit also
bounds what tracing adds to a large batch; measured in docs/resilience.md).

An input that raises midway (``def docs(): yield from rows; raise OSError``) stops the
batch: no new document starts, the in-flight ones finish, and :class:`BatchInputError`
carries the :class:`BatchResult` of every document reached, its ``__cause__`` the input's
own exception.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import threading
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, Span, Status, StatusCode

from ragsight import names as n
from ragsight._core import runtime as _runtime
from ragsight._resilience import classify as _classify
from ragsight._resilience import clock as _clock
from ragsight._resilience import telemetry as _resilience_telemetry
from ragsight._resilience.breaker import CircuitBreaker, get_breaker
from ragsight._resilience.errors import CircuitOpenError
from ragsight._resilience.retry import RetryPolicy

D = TypeVar("D")

_MAX_SPAN_EVENTS = 100  # per batch: enough to debug, bounded for huge batches
DOCUMENT_SPANS = 64  # documents of one batch that get their own span


@dataclass(frozen=True, slots=True)
class ProcessedDocument(Generic[D]):
    """A succeeded document (``document`` and ``result`` are None with ``keep_results=False``)."""

    index: int
    document: D
    result: Any


@dataclass(frozen=True, slots=True)
class FailedDocument(Generic[D]):
    """A document whose handler raised; ``error`` is the exception itself."""

    index: int
    document: D
    error: BaseException

    @property
    def error_type(self) -> str:
        return _classify.error_type(self.error)

    @property
    def message(self) -> str:
        return str(self.error)


@dataclass(frozen=True, slots=True)
class SkippedDocument(Generic[D]):
    """A document not processed because the breaker refused it (``error`` says until when)."""

    index: int
    document: D
    error: CircuitOpenError


@dataclass(frozen=True)
class BatchResult(Generic[D]):
    """What happened to every document of a batch, in input order."""

    name: str
    total: int
    succeeded: list[ProcessedDocument[D]] = field(default_factory=list)
    failed: list[FailedDocument[D]] = field(default_factory=list)
    skipped: list[SkippedDocument[D]] = field(default_factory=list)
    elapsed: float = 0.0

    @property
    def success_count(self) -> int:
        return len(self.succeeded)

    @property
    def failure_count(self) -> int:
        return len(self.failed)

    @property
    def skipped_count(self) -> int:
        return len(self.skipped)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped

    @property
    def results(self) -> list[Any]:
        """Handler results of the successful documents, in input order."""
        return [p.result for p in self.succeeded]


class BatchInputError(Exception):
    """The documents' iterable raised before it was exhausted.

    ``result`` holds every outcome reached before (and in flight at) the failure;
    ``__cause__`` (and ``error``) is the iterable's own exception.
    """

    def __init__(self, result: BatchResult[Any], error: BaseException) -> None:
        super().__init__(
            f"batch {result.name!r}: the input raised {_classify.error_type(error)} after "
            f"{result.total} document(s); their outcomes are in .result"
        )
        self.result = result
        self.error = error


class _BatchTrace:
    """The batch span and its bounded per-document child spans."""

    __slots__ = ("_ended", "_token", "documents", "span", "tracer")

    def __init__(self, label: str) -> None:
        rt = _runtime.get()
        self.tracer = rt.tracer if rt is not None else None
        self.span: Span = INVALID_SPAN
        self._token: Any = None
        self._ended = False
        self.documents = 0
        if self.tracer is not None:
            self.span = self.tracer.start_span(
                f"{n.SPAN_BATCH} {label}", attributes={n.RESILIENCE_NAME: label}
            )
            self._token = otel_context.attach(trace.set_span_in_context(self.span))

    def document(self, index: int) -> tuple[Span, Any]:
        """A span for document ``index`` (current until :meth:`done`), while under the limit."""
        if self.tracer is None or index >= DOCUMENT_SPANS or not self.span.is_recording():
            return INVALID_SPAN, None
        self.documents += 1
        span = self.tracer.start_span(
            n.SPAN_BATCH_DOCUMENT,
            trace.set_span_in_context(self.span),
            attributes={n.BATCH_DOCUMENT_INDEX: index},
        )
        return span, otel_context.attach(trace.set_span_in_context(span))

    @staticmethod
    def done(opened: tuple[Span, Any], error: BaseException | None) -> None:
        span, token = opened
        if token is None:
            return
        otel_context.detach(token)
        if error is None:
            span.set_attribute(n.BATCH_OUTCOME, "succeeded")
        else:
            skipped = isinstance(error, CircuitOpenError)
            span.set_attribute(n.BATCH_OUTCOME, "skipped" if skipped else "failed")
            span.set_attribute(n.ERROR_TYPE, _classify.error_type(error))
            if not skipped:
                span.set_status(Status(StatusCode.ERROR, _classify.error_type(error)))
        span.end()

    def end(self, error: BaseException | None) -> None:
        if self._ended:
            return
        self._ended = True
        if self._token is not None:
            otel_context.detach(self._token)
            self._token = None
        span = self.span
        if span.is_recording():
            span.set_attribute(n.BATCH_DOCUMENT_SPANS, self.documents)
            if error is not None:
                span.set_attribute(n.ERROR_TYPE, _classify.error_type(error))
                span.set_status(Status(StatusCode.ERROR, _classify.error_type(error)))
        span.end()


def _resolve(
    handler: Callable[..., Any],
    breaker: CircuitBreaker | str | None,
    retry: RetryPolicy | bool | None,
    name: str | None,
) -> tuple[Callable[..., Any], str]:
    label = name or getattr(handler, "__qualname__", None) or "process_documents"
    guarded = handler
    if isinstance(breaker, str):
        breaker = get_breaker(breaker)
    if breaker is not None:
        guarded = breaker(guarded)
    if retry is True:
        retry = RetryPolicy(name=label)
    if isinstance(retry, RetryPolicy):
        guarded = retry(guarded)  # outermost: every attempt passes through the breaker
    return guarded, label


class _Collector:
    """Thread-safe accumulation of per-document outcomes."""

    def __init__(self, keep_results: bool) -> None:
        self.keep = keep_results
        self.lock = threading.Lock()
        self.succeeded: list[ProcessedDocument[Any]] = []
        self.failed: list[FailedDocument[Any]] = []
        self.skipped: list[SkippedDocument[Any]] = []
        self.total = 0

    def outcome(self, index: int, doc: Any, result: Any, error: BaseException | None) -> None:
        with self.lock:
            if error is None:
                if self.keep:
                    self.succeeded.append(ProcessedDocument(index, doc, result))
                else:  # a lazily produced huge batch must not end up held in memory
                    self.succeeded.append(ProcessedDocument(index, None, None))
            elif isinstance(error, CircuitOpenError):
                self.skipped.append(SkippedDocument(index, doc, error))
            else:
                self.failed.append(FailedDocument(index, doc, error))

    def result(self, name: str, elapsed: float, span: Span | None = None) -> BatchResult[Any]:
        key = _index_key
        result: BatchResult[Any] = BatchResult(
            name,
            self.total,
            sorted(self.succeeded, key=key),
            sorted(self.failed, key=key),
            sorted(self.skipped, key=key),
            elapsed,
        )
        _report(result, span)
        return result


def _index_key(item: ProcessedDocument[Any] | FailedDocument[Any] | SkippedDocument[Any]) -> int:
    return item.index


def _report(result: BatchResult[Any], span: Span | None = None) -> None:
    """Three counter adds per batch, never per document; span events on the batch span."""
    _resilience_telemetry.record_batch(
        result.name, result.success_count, result.failure_count, result.skipped_count
    )
    span = span if span is not None else trace.get_current_span()
    if not span.is_recording():
        return
    span.set_attribute(n.BATCH_SIZE, result.total)
    span.set_attribute(n.BATCH_SUCCEEDED, result.success_count)
    span.set_attribute(n.BATCH_FAILED, result.failure_count)
    span.set_attribute(n.BATCH_SKIPPED, result.skipped_count)
    failures: list[FailedDocument[Any] | SkippedDocument[Any]] = [*result.failed, *result.skipped]
    for item in failures[:_MAX_SPAN_EVENTS]:
        outcome = "skipped" if isinstance(item, SkippedDocument) else "failed"
        span.add_event(
            n.EVENT_BATCH_ITEM_FAILED,
            {
                n.RESILIENCE_NAME: result.name,
                n.BATCH_OUTCOME: outcome,
                n.ERROR_TYPE: _classify.error_type(item.error),
            },
        )


def _awaitable_handler_error() -> TypeError:
    return TypeError("handler returned an awaitable: nothing was processed; use aprocess_documents")


def process_documents(
    documents: Iterable[D],
    handler: Callable[[D], Any],
    *,
    breaker: CircuitBreaker | str | None = None,
    retry: RetryPolicy | bool | None = None,
    concurrency: int = 4,
    name: str | None = None,
    keep_results: bool = True,
) -> BatchResult[D]:
    """Run ``handler`` on every document with bounded concurrency; never lose the batch.

    Each document goes through ``retry`` (outermost) and ``breaker``. ``Exception``s are
    collected per document; documents refused by an open breaker are reported as skipped.
    ``keep_results=False`` keeps only the index of each succeeded document (neither the
    document nor the handler's result), so a large lazy input is never held in memory;
    failed and skipped documents are always kept with their errors.
    ``KeyboardInterrupt``/``SystemExit`` (raised by a handler, or a Ctrl-C while waiting)
    stop the batch: no new document starts, the in-flight ones finish, the interrupt
    propagates. A handler that returns an awaitable (a plain def around an async call) is a
    ``TypeError``: its documents would otherwise count as processed without ever running.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    if inspect.iscoroutinefunction(handler):
        raise TypeError("handler is a coroutine function: use aprocess_documents")
    guarded, label = _resolve(handler, breaker, retry, name)
    batch = _BatchTrace(label)
    try:
        return _process(documents, guarded, label, concurrency, keep_results, batch)
    except BaseException as exc:
        batch.end(exc)
        raise


def _process(
    documents: Iterable[D],
    guarded: Callable[[D], Any],
    label: str,
    concurrency: int,
    keep_results: bool,
    batch: _BatchTrace,
) -> BatchResult[D]:
    collector = _Collector(keep_results)
    start = _clock.now()
    source = enumerate(documents)
    source_lock = threading.Lock()
    stop = threading.Event()
    fatal: list[BaseException] = []
    input_error: list[Exception] = []

    def take() -> tuple[int, D] | None:
        with source_lock:
            if stop.is_set():
                return None
            try:
                item = next(source, None)
            except Exception as exc:  # the input itself failed: keep what was reached
                input_error.append(exc)
                stop.set()
                return None
            if item is not None:
                collector.total += 1
            return item

    workers: list[threading.Thread] = []

    def worker() -> None:
        workers.append(threading.current_thread())  # before the first take(): see the join
        while (item := take()) is not None:
            index, doc = item
            opened = batch.document(index)
            try:
                result = guarded(doc)
            except Exception as exc:
                batch.done(opened, exc)
                collector.outcome(index, doc, None, exc)
            except BaseException as exc:  # interrupts: stop everything, re-raise below
                batch.done(opened, exc)
                fatal.append(exc)
                stop.set()
                return
            else:
                batch.done(opened, None)
                if inspect.isawaitable(result):  # a plain def wrapping an async call
                    if inspect.iscoroutine(result):
                        result.close()  # never awaited: don't leave a RuntimeWarning behind
                    fatal.append(_awaitable_handler_error())
                    stop.set()
                    return
                collector.outcome(index, doc, result, None)

    if concurrency == 1:
        worker()
    else:
        pool = ThreadPoolExecutor(concurrency, thread_name_prefix="ragsight-batch")
        try:
            futures = [
                pool.submit(contextvars.copy_context().run, worker) for _ in range(concurrency)
            ]
            for future in futures:
                future.result()
        except BaseException:
            # Ctrl-C lands in this (main) thread, not in the workers: without this the
            # workers would go on through the whole batch in the background.
            stop.set()
            raise
        finally:
            pool.shutdown(wait=True)  # the in-flight documents finish; no new one starts
            # A Ctrl-C inside submit() can leave a started thread out of the pool's own
            # list; one that registers after this point sees ``stop`` before taking work.
            for thread in list(workers):
                if thread is not threading.current_thread():
                    thread.join()
    if fatal:
        raise fatal[0]
    return _finish(collector, label, start, batch, input_error)


def _finish(
    collector: _Collector,
    label: str,
    start: float,
    batch: _BatchTrace,
    input_error: list[Exception],
) -> BatchResult[Any]:
    """The batch's result, reported on its span; raised inside :class:`BatchInputError`
    when the input failed."""
    # without ragsight's tracing there is no batch span: the caller's span gets the counts
    span = batch.span if batch.span is not INVALID_SPAN else None
    result = collector.result(label, _clock.now() - start, span)
    if input_error:
        error = BatchInputError(result, input_error[0])
        batch.end(error)
        raise error from input_error[0]
    batch.end(None)
    return result


async def aprocess_documents(
    documents: Iterable[D] | AsyncIterable[D],
    handler: Callable[[D], Awaitable[Any]] | Callable[[D], Any],
    *,
    breaker: CircuitBreaker | str | None = None,
    retry: RetryPolicy | bool | None = None,
    concurrency: int = 4,
    name: str | None = None,
    keep_results: bool = True,
) -> BatchResult[D]:
    """The asyncio twin of :func:`process_documents` (``handler`` may be sync or async).

    At most ``concurrency`` handler calls are in flight. Cancelling the batch cancels the
    in-flight documents and propagates.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be >= 1")
    guarded, label = _resolve(handler, breaker, retry, name)
    batch = _BatchTrace(label)
    try:
        return await _aprocess(documents, guarded, label, concurrency, keep_results, batch)
    except BaseException as exc:
        batch.end(exc)
        raise


async def _aprocess(
    documents: Iterable[D] | AsyncIterable[D],
    guarded: Callable[[D], Any],
    label: str,
    concurrency: int,
    keep_results: bool,
    batch: _BatchTrace,
) -> BatchResult[D]:
    collector = _Collector(keep_results)
    start = _clock.now()
    input_error: list[Exception] = []
    pull_lock = asyncio.Lock()
    counter = iter(range(1 << 62))
    if isinstance(documents, AsyncIterable):
        aiterator = documents.__aiter__()
        iterator: Iterator[D] | None = None
    else:
        iterator = iter(documents)

    async def take() -> tuple[int, D] | None:
        async with pull_lock:
            if input_error:
                return None
            try:
                doc = next(iterator) if iterator is not None else await aiterator.__anext__()
            except (StopIteration, StopAsyncIteration):
                return None
            except Exception as exc:  # the input itself failed: keep what was reached
                input_error.append(exc)
                return None
            collector.total += 1
            return next(counter), doc

    async def worker() -> None:
        while (item := await take()) is not None:
            index, doc = item
            opened = batch.document(index)
            try:
                result = guarded(doc)
                if inspect.isawaitable(result):
                    result = await result
            except Exception as exc:
                batch.done(opened, exc)
                collector.outcome(index, doc, None, exc)
            except BaseException as exc:
                batch.done(opened, exc)
                raise
            else:
                batch.done(opened, None)
                collector.outcome(index, doc, result, None)

    tasks = [asyncio.ensure_future(worker()) for _ in range(concurrency)]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return _finish(collector, label, start, batch, input_error)
