"""Where the core's tracer and instruments come from, resolved lazily and cheaply.

Decorators are applied at import time, usually before anyone configured OpenTelemetry,
so nothing is bound at decoration. Each call asks :func:`get` for the active runtime;
the answer is cached against the identity of the global providers (two module-attribute
reads), so a provider configured later takes effect on the next call, and with no provider
configured at all the answer is ``None`` and the decorators call straight through.

Tests and ``ragsight.testing.capture_telemetry`` install private providers with
:func:`override` instead of touching the process-global ones.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from typing import Any

import opentelemetry.metrics._internal as _otel_metrics
import opentelemetry.trace as _otel_trace
from opentelemetry import metrics, trace

from ragsight import names
from ragsight._core import safety as _safety
from ragsight._core import semconv as _semconv
from ragsight._core.metrics import Instruments
from ragsight._version import __version__


class Runtime:
    """The tracer and instruments of one (tracer provider, meter provider) pair."""

    __slots__ = ("instruments", "meter_provider", "pending", "tracer", "tracer_provider")

    def __init__(self, tracer_provider: Any, meter_provider: Any) -> None:
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        self.tracer: trace.Tracer | None = None
        if tracer_provider is not None:
            self.tracer = tracer_provider.get_tracer(
                names.SCOPE_NAME, __version__, schema_url=_semconv.schema_url()
            )
        self.instruments: Instruments | None = None
        if meter_provider is not None:
            self.instruments = _instruments_for(meter_provider)
        self.pending = self.instruments.pending if self.instruments is not None else None


# One Instruments per MeterProvider: the SDK hands back the existing instrument for a
# duplicate name but would not register a second drain callback.
_instruments: weakref.WeakKeyDictionary[Any, Instruments] = weakref.WeakKeyDictionary()
_instruments_lock = threading.Lock()


def _instruments_for(meter_provider: Any) -> Instruments:
    with _instruments_lock:
        found = _instruments.get(meter_provider)
        if found is None or found.mode != _semconv.mode():
            # the mode changed (configure(semconv=...) after calls were recorded): the new
            # mode's instruments on a meter with its schema_url; the old ones still record
            # what they hold at the next collection, and report nothing else
            if found is not None:
                found.retire()
            meter = meter_provider.get_meter(
                names.SCOPE_NAME, __version__, schema_url=_semconv.schema_url()
            )
            found = Instruments(meter)
            _instruments[meter_provider] = found
        return found


def flush_metrics() -> None:
    """Record every pending call into the SDK instruments now (not needed before a
    collection, which drains first; useful before handing a MeterProvider away)."""
    with _instruments_lock:
        every = list(_instruments.values())
    for instruments in every:
        instruments.drain()


_NONE = Runtime(None, None)
_global: Runtime = _NONE
_override: Runtime | None = None
_lock = threading.Lock()


def get() -> Runtime | None:
    """The active runtime, or ``None`` when no provider is configured (the fast path)."""
    rt = _override
    if rt is not None:
        return rt
    rt = _global
    if (
        rt.tracer_provider is _otel_trace._TRACER_PROVIDER
        and rt.meter_provider is _otel_metrics._METER_PROVIDER
    ):
        return None if rt is _NONE else rt
    return _rebuild()


def _rebuild() -> Runtime | None:
    global _global
    with _lock:
        tp: Any = _otel_trace._TRACER_PROVIDER
        mp: Any = _otel_metrics._METER_PROVIDER
        # providers named by environment variable are loaded lazily by the API's getters
        if tp is None and "OTEL_PYTHON_TRACER_PROVIDER" in os.environ:
            trace.get_tracer_provider()
            tp = _otel_trace._TRACER_PROVIDER
        if mp is None and "OTEL_PYTHON_METER_PROVIDER" in os.environ:
            metrics.get_meter_provider()
            mp = _otel_metrics._METER_PROVIDER
        if tp is None and mp is None:
            _global = _NONE
            return None
        try:
            _global = Runtime(tp, mp)
        except Exception as exc:
            _safety.report_internal_error("runtime", exc)
            _global = Runtime(tp, None) if tp is not None else _NONE
        enable_thread_propagation()
        return None if _global is _NONE else _global


_override_hooks: list[Callable[[], None]] = []


def on_override(hook: Callable[[], None]) -> None:
    """Call ``hook`` whenever private providers are installed with :func:`override`.

    Observable instruments (the resilience counters) exist per MeterProvider, so a breaker
    created before ``capture_telemetry()`` must have them registered on the private
    provider at once, not on its next rare event.
    """
    _override_hooks.append(hook)


def override(tracer_provider: Any | None, meter_provider: Any | None) -> Runtime | None:
    """Route the core's telemetry to these providers (``None, None`` restores the globals).

    Returns the previous override so callers can nest and restore.
    """
    global _override
    previous = _override
    if tracer_provider is None and meter_provider is None:
        _override = None
    else:
        _override = Runtime(tracer_provider, meter_provider)
        enable_thread_propagation()
        for hook in _override_hooks:
            try:
                hook()
            except Exception as exc:
                _safety.report_internal_error("runtime", exc)
    return previous


def forget_global() -> None:
    """Rebuild the global runtime on the next call (the scopes' schema_url changed)."""
    global _global
    with _lock:
        _global = _NONE


def restore(previous: Runtime | None) -> None:
    global _override
    _override = previous


_threading_done = False


def enable_thread_propagation() -> None:
    """Carry the OTel context into threads and ``ThreadPoolExecutor`` work.

    Uses opentelemetry-instrumentation-threading rather than our own patches. Enabled the
    first time telemetry is live (not at import or decoration: it costs ~60 ms of imports
    that a process with no SDK should not pay); configure() may call it eagerly. Idempotent,
    and a no-op if the user already instrumented threading.
    """
    global _threading_done
    if _threading_done:
        return
    _threading_done = True
    try:
        from opentelemetry.instrumentation.threading import ThreadingInstrumentor

        instrumentor = ThreadingInstrumentor()
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(skip_dep_check=True)
    except Exception as exc:
        _safety.report_internal_error("threading", exc)
