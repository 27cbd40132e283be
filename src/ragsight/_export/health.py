"""Failure isolation for export: bounded queues, counted drops, one warning per episode.

A collector that is down, slow, refusing or answering 503, a DNS name that does not
resolve, or a full disk must never reach the application. So:

- spans and log records go through :class:`BoundedBatchProcessor`: the app thread only
  appends to a bounded deque (never blocks, never exports); when the queue is full the
  item is dropped and counted, silently (the SDK's own processor logs a warning per
  dropped item, which floods logs exactly when things are already bad);
- every exporter is wrapped in a guard that turns exceptions into failures, counts the
  items of a failed batch as dropped, and reports to :class:`ExportHealth`;
- :class:`ExportHealth` logs one warning when a failure episode starts and one info line
  when export recovers (with how much was dropped), not one per batch; the OTLP
  exporters' own per-batch warnings are filtered out while ragsight is configured.

Drops are readable as ``ragsight.export.dropped`` (an observable counter that setup
registers) and through :func:`dropped_counts`.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from ragsight._config.export_limits import BATCH_SIZE, QUEUE_SIZE, SCHEDULE_DELAY
from ragsight._export.forks import reset_in_child

logger = logging.getLogger("ragsight.export")

T = TypeVar("T")

SIGNAL_TRACES = "traces"
SIGNAL_METRICS = "metrics"
SIGNAL_LOGS = "logs"


class ExportHealth:
    """Per-signal drop counts and failure episodes; thread-safe, cheap on the success path."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dropped: dict[str, int] = collections.defaultdict(int)
        self._failing: dict[str, int] = {}  # signal -> failed batches in current episode
        self._episode_dropped: dict[str, int] = collections.defaultdict(int)
        self._spool: dict[str, dict[str, int]] = {}
        self.episodes = 0  # failure episodes started (for tests and config show)
        reset_in_child(self._after_fork)

    def _after_fork(self) -> None:
        """A forked child counts its own drops, from zero, under a lock nobody holds."""
        self.__init__()  # type: ignore[misc]

    def dropped(self, signal: str, count: int) -> None:
        if count <= 0:
            return
        with self._lock:
            self._dropped[signal] += count
            self._episode_dropped[signal] += count

    def _batch_failed(self, signal: str) -> bool:
        """Count a failed batch of ``signal`` (lock held); whether it starts a failure episode."""
        first = signal not in self._failing
        self._failing[signal] = self._failing.get(signal, 0) + 1
        if first:
            self.episodes += 1
        return first

    def failure(self, signal: str, target: str, reason: str, dropped: int) -> None:
        with self._lock:
            self._dropped[signal] += dropped
            self._episode_dropped[signal] += dropped
            first = self._batch_failed(signal)
        if first:
            logger.warning(
                "ragsight: exporting %s to %s is failing (%s); the application is unaffected, "
                "telemetry is being dropped and counted (ragsight.export.dropped); this is "
                "logged once until export recovers",
                signal,
                target,
                reason,
            )

    def spooling(self, signal: str, target: str, reason: str, directory: str) -> None:
        """A batch went to the outage spool instead of the collector (nothing dropped)."""
        with self._lock:
            first = self._batch_failed(signal)
        if first:
            logger.warning(
                "ragsight: exporting %s to %s is failing (%s); the application is unaffected, "
                "batches are kept in the outage spool %s and replayed in order when it "
                "answers (what exceeds spool.max_bytes or spool.max_age is dropped and "
                "counted in ragsight.export.dropped); this is logged once until export "
                "recovers",
                signal,
                target,
                reason,
                directory,
            )

    def spool(self, signal: str, **counts: int) -> None:
        """Add to the outage spool's counters of ``signal`` (see :meth:`spool_counts`)."""
        with self._lock:
            mine = self._spool.setdefault(signal, collections.defaultdict(int))
            for name, count in counts.items():
                mine[name] += count

    def spool_counts(self) -> dict[str, dict[str, int]]:
        """Per signal, items ``produced`` (handed to a spooling export), ``sent`` directly,
        ``spooled``, ``replayed``, ``dropped`` by the spool (of which ``full``, ``expired``,
        ``rejected``) and ``torn`` files skipped; empty while the spool is off."""
        with self._lock:
            return {signal: dict(counts) for signal, counts in self._spool.items()}

    def success(self, signal: str, target: str, replayed: int = 0) -> None:
        if signal not in self._failing:  # the common case: one dict lookup, no lock
            return
        with self._lock:
            failed = self._failing.pop(signal, 0)
            lost = self._episode_dropped.pop(signal, 0)
        if failed:
            logger.info(
                "ragsight: exporting %s to %s recovered after %d failed batches (%d items "
                "dropped%s)",
                signal,
                target,
                failed,
                lost,
                f", {replayed} batches replayed from the outage spool" if replayed else "",
            )

    def dropped_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._dropped)

    def failing(self, signal: str) -> bool:
        return signal in self._failing


HEALTH = ExportHealth()


def dropped_counts() -> dict[str, int]:
    """Items dropped per signal since the process started (queue full, export failed, or
    beyond the outage spool's bounds).

    Keys are the signals (``traces``, ``metrics``, ``logs``) with at least one drop. Telemetry
    never blocks the application, so a full queue or a failing collector shows up here.
    """
    return HEALTH.dropped_counts()


class BoundedBatchProcessor(Generic[T]):
    """A bounded queue drained by one daemon thread; the shared core of span/log processors.

    ``emit`` is an append to a ``deque`` (atomic in CPython) plus a length check; it never
    blocks and never raises. Export happens on the worker, in batches, every
    ``schedule_delay`` seconds or as soon as a full batch is waiting; ``idle`` (if given)
    is called on the worker after a wake-up that found nothing to export.
    """

    def __init__(
        self,
        export: Callable[[list[T]], object],
        *,
        signal: str,
        max_queue_size: int,
        max_export_batch_size: int,
        schedule_delay: float,
        health: ExportHealth = HEALTH,
        idle: Callable[[], object] | None = None,
    ) -> None:
        self._export = export
        self._idle = idle
        self._signal = signal
        self._max_queue = QUEUE_SIZE.check(max_queue_size, "batch.max_queue_size")
        self._batch = BATCH_SIZE.check(max_export_batch_size, "batch.max_export_batch_size")
        self._delay = SCHEDULE_DELAY.check(schedule_delay, "batch.schedule_delay")
        self._health = health
        self._queue: collections.deque[T] = collections.deque()
        self._wake = threading.Event()
        self._flushed = threading.Condition()
        self._flush_requests = 0
        self._flush_done = 0
        self._export_lock = threading.Lock()
        self._stopped = False
        self._start()
        reset_in_child(self._after_fork)

    def _start(self) -> None:
        self._worker = threading.Thread(
            target=self._run, name=f"ragsight-export-{self._signal}", daemon=True
        )
        self._worker.start()

    def _after_fork(self) -> None:
        """A forked child has no worker thread and may hold copies of locks that were taken:
        new ones, a new worker, and an empty queue (the parent exports what it had queued;
        a copy sent from here too would arrive twice)."""
        self._queue.clear()
        self._wake = threading.Event()
        self._flushed = threading.Condition()
        self._flush_requests = self._flush_done = 0
        self._export_lock = threading.Lock()
        if not self._stopped:
            self._start()

    def emit(self, item: T) -> None:
        if self._stopped or len(self._queue) >= self._max_queue:
            self._health.dropped(self._signal, 1)
            return
        self._queue.append(item)
        if len(self._queue) >= self._batch and not self._wake.is_set():
            self._wake.set()

    def _drain(self, everything: bool) -> None:
        with self._export_lock:
            while self._queue:
                batch: list[T] = []
                while self._queue and len(batch) < self._batch:
                    batch.append(self._queue.popleft())
                try:
                    self._export(batch)
                except Exception as exc:
                    self._health.failure(self._signal, "exporter", repr(exc), len(batch))
                if self._stopped or (not everything and len(self._queue) < self._batch):
                    break

    def _run(self) -> None:
        while not self._stopped:
            self._wake.wait(self._delay)
            self._wake.clear()
            if self._stopped:
                break
            with self._flushed:
                target = self._flush_requests
            idle = not self._queue
            self._drain(everything=target > self._flush_done)
            if idle and self._idle is not None:
                try:
                    self._idle()  # e.g. replay the outage spool while the app is quiet
                except Exception as exc:
                    logger.debug("ragsight: idle export step failed: %r", exc)
            with self._flushed:
                self._flush_done = target
                self._flushed.notify_all()

    def force_flush(self, timeout: float) -> bool:
        """Ask the worker to export everything queued; wait at most ``timeout`` seconds."""
        if self._stopped:
            return False
        deadline = time.monotonic() + timeout
        with self._flushed:
            self._flush_requests += 1
            wanted = self._flush_requests
            self._wake.set()
            while self._flush_done < wanted:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._flushed.wait(remaining)
        return True

    def shutdown(self, timeout: float) -> bool:
        """Flush within ``timeout`` seconds, then stop; whatever is still queued is counted
        as dropped. True when the worker stopped (False: it is inside a slow export)."""
        if self._stopped:
            return not self._worker.is_alive()
        deadline = time.monotonic() + max(0.0, timeout)
        self.force_flush(timeout)
        self._stopped = True
        self._wake.set()
        self._worker.join(max(0.0, deadline - time.monotonic()))
        self.abandon()
        return not self._worker.is_alive()

    def abandon(self) -> int:
        """Count and discard what is still queued (never exported)."""
        leftover = 0
        while True:
            try:
                self._queue.popleft()
            except IndexError:
                break
            leftover += 1
        self._health.dropped(self._signal, leftover)
        return leftover


def count_items(signal: str, batch: Any) -> int:
    """How many telemetry items a batch holds (metric batches count data points)."""
    if signal != SIGNAL_METRICS:
        return len(batch) if isinstance(batch, Sequence) else 1
    total = 0
    try:
        for rm in batch.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    total += len(metric.data.data_points)
    except AttributeError:
        return 1
    return total


_NOISY_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.http._log_exporter",
    "opentelemetry.sdk.metrics._internal.export",
)


class _QuietExporterFilter(logging.Filter):
    """Drop the exporters' per-batch warnings; ExportHealth reports episodes instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.CRITICAL


_QUIET = _QuietExporterFilter()


def quiet_exporter_logs(on: bool) -> None:
    for name in _NOISY_LOGGERS:
        log = logging.getLogger(name)
        if on:
            log.addFilter(_QUIET)
        else:
            log.removeFilter(_QUIET)
