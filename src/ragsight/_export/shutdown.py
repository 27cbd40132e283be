"""Bounded shutdown: flush what can be sent within ``shutdown_timeout``, count the rest.

A collector that accepts connections and never answers, a name that does not resolve, a
dead gRPC port or a 503 loop must not hold the process at exit. So shutdown runs its
steps (flush and stop traces and logs, then a last metric export) on a daemon thread
and the caller waits at most ``shutdown_timeout + SHUTDOWN_MARGIN``; every step is given
the time that is left (:class:`Deadline`), never a default of its own. Whatever was still
queued or being exported when time ran out is counted in ``ragsight.export.dropped``
(never silently lost).
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ragsight._config.export_limits import SHUTDOWN_TIMEOUT

logger = logging.getLogger("ragsight.export")

SHUTDOWN_MARGIN = 0.25
"""Seconds shutdown may take beyond ``shutdown_timeout``: starting and joining its thread."""
_SIGNAL_SHARE = 0.7  # of the budget for traces and logs; the rest is the last metric export


class Deadline:
    """A point in time on a monotonic clock; steps ask how much of the budget is left."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.budget = seconds
        self.at = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self.at - self._clock())

    def share(self, fraction: float) -> Deadline:
        """A deadline ``fraction`` of the remaining time from now (same clock)."""
        return Deadline(self.remaining() * fraction, self._clock)

    def expired(self) -> bool:
        return self.remaining() <= 0.0


@dataclass
class ShutdownPlan:
    """What one configure() started, in the order it is stopped."""

    processors: list[Any] = field(default_factory=list)  # have shutdown_within(deadline)
    providers: list[Any] = field(default_factory=list)  # tracer/logger providers
    meter_provider: Any = None
    calls: list[Any] = field(default_factory=list)  # ExportCall: abandon() counts in-flight
    exporters: list[Any] = field(default_factory=list)

    def run(self, deadline: Deadline) -> None:
        for call in self.calls:  # a spooling call keeps what it cannot send in time
            _contained(call.begin_shutdown, deadline)
        signals = deadline.share(_SIGNAL_SHARE)
        for processor in self.processors:
            _contained(processor.shutdown_within, signals)
        for provider in self.providers:
            _contained(provider.shutdown)  # the processors are stopped: returns at once
        if self.meter_provider is not None:
            millis = max(1.0, deadline.remaining() * 1000)
            _contained(self.meter_provider.shutdown, timeout_millis=millis)
        stop_exporters(self.exporters, deadline)
        for call in self.calls:  # still exporting now: not sent within shutdown_timeout
            _contained(call.abandon)

    def give_up(self) -> int:
        """Count everything still in flight as dropped; abort exporters' retries."""
        lost = sum(_contained(call.abandon) or 0 for call in self.calls)
        for processor in self.processors:
            lost += _contained(processor.abandon) or 0
        stop_exporters(self.exporters, Deadline(0.0))
        return lost


def stop_exporters(exporters: Iterable[Any], deadline: Deadline) -> None:
    """Shut exporters down with the time left (gRPC's default would wait 30 s for its lock);
    this also aborts an OTLP exporter's retry back-off that is still waiting."""
    for exporter in exporters:
        millis = max(1.0, deadline.remaining() * 1000)
        try:
            parameters = inspect.signature(exporter.shutdown).parameters
        except (TypeError, ValueError):
            parameters = {}  # type: ignore[assignment]
        if "timeout_millis" in parameters:
            _contained(exporter.shutdown, timeout_millis=millis)
        else:
            _contained(exporter.shutdown)


def run_bounded(plan: ShutdownPlan, timeout: float) -> bool:
    """Run ``plan`` within ``timeout`` seconds (+ SHUTDOWN_MARGIN); True when it finished.

    Raises LimitError (a ValueError) for a timeout outside ``shutdown_timeout``'s limit.
    """
    seconds = SHUTDOWN_TIMEOUT.check(timeout, "shutdown_timeout")
    deadline = Deadline(seconds)
    finished = threading.Event()

    def work() -> None:
        try:
            plan.run(deadline)
        finally:
            finished.set()

    worker = threading.Thread(target=work, name="ragsight-shutdown", daemon=True)
    worker.start()
    if finished.wait(seconds + SHUTDOWN_MARGIN):
        return True
    lost = plan.give_up()
    if plan.calls or plan.processors:
        logger.warning(
            "ragsight: shutdown gave up after %.2fs (shutdown_timeout); %d telemetry items "
            "still being exported were counted as dropped (ragsight.export.dropped)",
            seconds,
            lost,
        )
    else:  # providers whose processors are not ragsight's (an OTEL_CONFIG_FILE's)
        logger.warning(
            "ragsight: shutdown gave up after %.2fs (shutdown_timeout); what the providers "
            "still held was not counted (their processors are the SDK's, which report no "
            "drops to ragsight.export.dropped)",
            seconds,
        )
    return False


def _contained(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return call(*args, **kwargs)
    except Exception as exc:  # telemetry never raises into the application's exit
        logger.debug("ragsight: shutdown step %r failed: %r", call, exc)
        return None
