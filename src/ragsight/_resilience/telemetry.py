"""OpenTelemetry for breakers and retries, with nothing on the success path.

Per-call outcomes already live in plain integers inside each breaker and retry budget;
observable instruments read them at collection time, so a successful call never touches
the metrics SDK (a synchronous ``counter.add`` costs about 9x a whole breaker check).
Synchronous instruments are reserved for rare events: transitions, scheduled retries,
give-ups, delays, budget exhaustion.

Decisions are named Logs-API events (``names.EVENT_CB_*``, ``EVENT_RETRY_*``) parented to
the span that is current when the decision is taken (with stage decorators, the stage's
span) and, unless ``events.span_events=off``, mirrored as span events on it
(:mod:`ragsight._core.events`). For a human, ``ragsight.resilience`` also logs plain
messages for the start and end of each outage, give-ups and the first rejection of each
open period (later rejections are events only, so an open circuit cannot flood the logs).

These functions are the package's default hooks (``ragsight._resilience.hooks``), put in
place by :func:`install`, which ``ragsight/__init__.py`` calls on purpose; importing this
module attaches nothing. ``ragsight.instrumentation`` replaces or restores them.

The default telemetry binds to the *global* providers through the API's proxies, so a
breaker created at import time starts exporting as soon as the user configures an SDK.
Tests (and applications that keep private providers) use :func:`use_providers`.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Counter, Histogram, MeterProvider, Observation

from ragsight import names as n
from ragsight._core import events as _events
from ragsight._core import runtime as _runtime
from ragsight._core import safety as _safety
from ragsight._core import semconv as _semconv
from ragsight._core.instruments import create_instrument
from ragsight._resilience import breaker as _breaker
from ragsight._resilience import budget as _budget
from ragsight._resilience import hooks as _hooks
from ragsight._version import __version__

logger = logging.getLogger("ragsight.resilience")

_OPENISH = (n.CB_STATE_OPEN, n.CB_STATE_FORCED_OPEN)
# When two live breakers share a name, the gauge reports the most severe state.
_SEVERITY = {
    n.CB_STATE_FORCED_OPEN: 5,
    n.CB_STATE_OPEN: 4,
    n.CB_STATE_HALF_OPEN: 3,
    n.CB_STATE_METRICS_ONLY: 2,
    n.CB_STATE_CLOSED: 1,
    n.CB_STATE_DISABLED: 0,
}


class ResilienceTelemetry:
    """The resilience instruments (names.py), created once per meter provider."""

    def __init__(self, meter_provider: MeterProvider | None = None) -> None:
        provider = meter_provider or metrics.get_meter_provider()
        meter = provider.get_meter(n.SCOPE_NAME, __version__, schema_url=_semconv.schema_url())
        self.transitions: Counter = create_instrument(meter, n.CB_TRANSITIONS)
        self.open_duration: Histogram = create_instrument(meter, n.CB_OPEN_DURATION)
        self.retry_attempts: Counter = create_instrument(meter, n.RETRY_ATTEMPTS)
        self.give_ups: Counter = create_instrument(meter, n.RETRY_GIVE_UPS)
        self.retry_delay: Histogram = create_instrument(meter, n.RETRY_DELAY)
        self.budget_exhausted: Counter = create_instrument(meter, n.RETRY_BUDGET_EXHAUSTED)
        self.batch_documents: Counter = create_instrument(meter, n.BATCH_DOCUMENTS)
        create_instrument(meter, n.CB_STATE_METRIC, [_observe_state])
        create_instrument(meter, n.CB_CALLS, [_observe_calls])
        create_instrument(meter, n.CB_FAILURE_RATIO, [_observe_failure])
        create_instrument(meter, n.CB_SLOW_CALL_RATIO, [_observe_slow])
        create_instrument(meter, n.RETRY_CALLS, [_observe_retry_calls])
        create_instrument(meter, n.RETRY_BUDGET_REMAINING, [_observe_budget])
        create_instrument(meter, n.SHARED_MODE_METRIC, [_observe_shared_mode])


# ------------------------------------------------------------------------------ observers --
def _snapshots() -> list[_breaker.BreakerSnapshot]:
    return [b.snapshot() for b in _breaker.live_breakers()]


def _contained(fn: Any) -> Any:
    def run(options: CallbackOptions) -> Iterable[Observation]:
        try:
            return list(fn(options))
        except Exception as err:  # a broken observer must not break the collection
            _safety.report_internal_error("resilience.telemetry.observe", err)
            return []

    return run


@_contained
def _observe_state(options: CallbackOptions) -> Iterator[Observation]:
    worst: dict[str, str] = {}
    for snap in _snapshots():
        current = worst.get(snap.name)
        if current is None or _SEVERITY[snap.state] > _SEVERITY[current]:
            worst[snap.name] = snap.state
    for name, state in worst.items():
        for candidate in n.CB_STATES:
            value = 1 if candidate == state else 0
            yield Observation(value, {n.RESILIENCE_NAME: name, n.CB_STATE: candidate})


@_contained
def _observe_calls(options: CallbackOptions) -> Iterator[Observation]:
    live = _breaker.live_breakers()  # held while reading the retired totals: none can die
    totals = _breaker.retired_counts()  # in between and be counted twice or not at all
    for snap in [b.snapshot() for b in live]:
        acc = totals.setdefault(snap.name, dict.fromkeys(n.CB_OUTCOMES, 0))
        for outcome, count in snap.calls.items():
            acc[outcome] += count
    for name, counts in totals.items():
        for outcome, count in counts.items():
            yield Observation(count, {n.RESILIENCE_NAME: name, n.CB_OUTCOME: outcome})


@_contained
def _observe_failure(options: CallbackOptions) -> Iterator[Observation]:
    for snap in _snapshots():
        yield Observation(snap.failure_rate, {n.RESILIENCE_NAME: snap.name})


@_contained
def _observe_slow(options: CallbackOptions) -> Iterator[Observation]:
    for snap in _snapshots():
        yield Observation(snap.slow_call_rate, {n.RESILIENCE_NAME: snap.name})


@_contained
def _observe_retry_calls(options: CallbackOptions) -> Iterator[Observation]:
    for budget in _budget.all_budgets():
        for outcome, count in budget.outcome_counts().items():
            yield Observation(count, {n.RESILIENCE_NAME: budget.name, n.RETRY_OUTCOME: outcome})


@_contained
def _observe_budget(options: CallbackOptions) -> Iterator[Observation]:
    for budget in _budget.all_budgets():
        yield Observation(budget.remaining(), {n.RESILIENCE_NAME: budget.name})


@_contained
def _observe_shared_mode(options: CallbackOptions) -> Iterator[Observation]:
    from ragsight._resilience.shared import live_stores  # imported once a store exists

    for store in live_stores():
        mode = store.mode
        for name in store.component_names():
            for candidate in n.SHARED_MODES:
                value = 1 if candidate == mode else 0
                yield Observation(value, {n.RESILIENCE_NAME: name, n.SHARED_MODE: candidate})


# ------------------------------------------------------------------------------ active --
_lock = threading.Lock()
_default: ResilienceTelemetry | None = None  # bound to the global providers (via proxies)
_explicit: ResilienceTelemetry | None = None  # use_providers()
# One telemetry per private provider (ragsight.testing.capture_telemetry): the SDK would
# not register a second set of observable callbacks for the same names.
_per_provider: weakref.WeakKeyDictionary[Any, ResilienceTelemetry] = weakref.WeakKeyDictionary()


def active() -> ResilienceTelemetry:
    """Where events go: ``use_providers`` > the core's override > the global providers."""
    global _default
    explicit = _explicit
    if explicit is not None:
        return explicit
    override = _runtime._override
    if override is not None and override.meter_provider is not None:
        provider = override.meter_provider
        found = _per_provider.get(provider)
        if found is None:
            with _lock:
                found = _per_provider.get(provider)
                if found is None:
                    found = ResilienceTelemetry(provider)
                    _per_provider[provider] = found
        return found
    current = _default
    if current is None:
        with _lock:
            if _default is None:
                _default = ResilienceTelemetry()
            current = _default
    return current


@contextmanager
def use_providers(meter_provider: MeterProvider) -> Iterator[ResilienceTelemetry]:
    """Send resilience metrics to ``meter_provider`` inside the block (tests, private SDKs).

    Events always go to the current span, whatever provider created it.
    """
    global _explicit
    telemetry = ResilienceTelemetry(meter_provider)
    _breaker.forget_retired()
    with _lock:
        previous, _explicit = _explicit, telemetry
    try:
        yield telemetry
    finally:
        with _lock:
            _explicit = previous


def on_created(_: object) -> None:
    """A breaker was created: make sure the observable instruments of the active
    providers exist (they are what exports its per-call counts)."""
    active()


def _on_override() -> None:
    """New providers (capture_telemetry): their counters start from the live breakers only,
    so one test's collected breakers never show up in the next test's figures."""
    _breaker.forget_retired()
    on_created(None)


def _span() -> trace.Span | None:
    span = trace.get_current_span()
    return span if span.is_recording() else None


def _clean(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if v is not None}


def _event(name: str, attrs: dict[str, Any], severity: Any = _events.INFO) -> trace.Span | None:
    """Emit the named event, parented to the current span; returns that span if recording."""
    current = trace.get_current_span()
    context = current.get_span_context()
    _events.emit(
        name,
        attrs,
        parent=context if context.is_valid else None,
        mirror_to=current,
        severity=severity,
    )
    return current if current.is_recording() else None


# ------------------------------------------------------------------------------ breaker --
def on_breaker_change(breaker: _breaker.CircuitBreaker, change: _breaker.StateChange) -> None:
    t = active()
    t.transitions.add(
        1,
        {
            n.RESILIENCE_NAME: change.name,
            n.CB_FROM_STATE: change.from_state,
            n.CB_TO_STATE: change.to_state,
            n.CB_REASON: change.reason,
        },
    )
    if change.outage_s is not None:
        t.open_duration.record(change.outage_s, {n.RESILIENCE_NAME: change.name})
    attrs = _clean(
        {
            n.RESILIENCE_NAME: change.name,
            n.RESILIENCE_STRATEGY: n.STRATEGY_CIRCUIT_BREAKER,
            n.CB_FROM_STATE: change.from_state,
            n.CB_TO_STATE: change.to_state,
            n.CB_REASON: change.reason,
            n.CB_FAILURE_RATE: change.failure_rate,
            n.CB_SLOW_CALL_RATE: change.slow_call_rate,
            n.CB_WINDOW_CALLS: change.window_calls,
            n.CB_CONSECUTIVE_FAILURES: change.consecutive_failures,
            n.CB_OPEN_FOR_S: change.open_for_s,
            n.CB_RETRY_AFTER_S: change.retry_after_s,
            n.ERROR_TYPE: change.error_type,
        }
    )
    _event(
        n.EVENT_CB_STATE_CHANGED,
        attrs,
        _events.WARN if change.to_state in _OPENISH else _events.INFO,
    )
    _log_episode(change, attrs)


# Outage episodes by breaker name: from the first opening to the close that ends it. Only
# the start and the end are logged (a flapping outage makes one WARNING and one summary,
# not one line per half_open -> open); every transition is still a span event and counted.
_episodes_lock = threading.Lock()
_episodes: dict[str, dict[str, int]] = {}


def _log_episode(change: _breaker.StateChange, attrs: dict[str, Any]) -> None:
    extra = dict(attrs)  # a message for humans: the named event is emitted apart
    name = change.name
    with _episodes_lock:
        episode = _episodes.get(name)
        if change.to_state in _OPENISH:
            if episode is not None:
                episode["reopens"] += 1
                started = False
            else:
                _episodes[name] = {"reopens": 0, "rejections": 0}
                started = True
        elif change.to_state == n.CB_STATE_CLOSED and episode is not None:
            del _episodes[name]
        else:
            episode = None
            started = False
    if change.to_state in _OPENISH:
        if started:
            logger.warning(
                "circuit breaker %r opened (%s): outage began; calls fail fast until a probe "
                "succeeds (logged once per outage)",
                name,
                change.reason,
                extra=extra,
            )
        else:
            logger.debug("circuit breaker %r re-opened (%s)", name, change.reason, extra=extra)
    elif change.to_state == n.CB_STATE_CLOSED and episode is not None:
        outage = change.outage_s if change.outage_s is not None else 0.0
        logger.info(
            "circuit breaker %r recovered (%s) after an outage of %.1f s: %d re-open(s), "
            "%d rejected call(s) logged once",
            name,
            change.reason,
            outage,
            episode["reopens"],
            episode["rejections"],
            extra={**extra, n.CB_REOPENS: episode["reopens"]},
        )
    else:
        logger.debug(
            "circuit breaker %r: %s -> %s (%s)",
            name,
            change.from_state,
            change.to_state,
            change.reason,
            extra=extra,
        )


def _first_rejection_of_episode(name: str) -> bool:
    """Counts a rejection of ``name``'s outage; True for its first one."""
    with _episodes_lock:
        episode = _episodes.get(name)
        if episode is None:
            return True
        episode["rejections"] += 1
        return episode["rejections"] == 1


def on_breaker_reject(breaker: _breaker.CircuitBreaker, rejection: _breaker.Rejection) -> None:
    attrs = _clean(
        {
            n.RESILIENCE_NAME: rejection.name,
            n.RESILIENCE_STRATEGY: n.STRATEGY_CIRCUIT_BREAKER,
            n.CB_STATE: rejection.state,
            n.CB_RETRY_AFTER_S: rejection.retry_after_s,
            n.ERROR_TYPE: rejection.last_failure_type,
        }
    )
    span = _event(n.EVENT_CB_CALL_REJECTED, attrs)
    if span is not None:
        span.set_attribute(n.RESILIENCE_NAME, rejection.name)
    if _first_rejection_of_episode(rejection.name):
        logger.info(
            "circuit breaker %r is %s: rejecting calls (logged once per outage)",
            rejection.name,
            rejection.state,
            extra=attrs,
        )


def on_breaker_probe(breaker: _breaker.CircuitBreaker) -> None:
    span = _span()
    if span is not None:
        span.set_attribute(n.RESILIENCE_NAME, breaker.name)
        span.set_attribute(n.CB_PROBE, True)


# ------------------------------------------------------------------------------ retry --
def on_retry_scheduled(event: _hooks.RetryScheduled) -> None:
    t = active()
    t.retry_attempts.add(
        1,
        _clean(
            {
                n.RESILIENCE_NAME: event.name,
                n.ERROR_TYPE: event.error_type,
                n.RETRY_REASON: event.reason,
                n.RETRY_ATTEMPT: event.attempt,  # int, as on spans and events
            }
        ),
    )
    t.retry_delay.record(
        event.delay, {n.RESILIENCE_NAME: event.name, n.RETRY_DELAY_SOURCE: event.delay_source}
    )
    _event(
        n.EVENT_RETRY_SCHEDULED,
        _clean(
            {
                n.RESILIENCE_NAME: event.name,
                n.RESILIENCE_STRATEGY: n.STRATEGY_RETRY,
                n.RETRY_ATTEMPT: event.attempt,
                n.RETRY_DELAY_S: event.delay,
                n.RETRY_DELAY_SOURCE: event.delay_source,
                n.RETRY_REASON: event.reason,
                n.ERROR_TYPE: event.error_type,
            }
        ),
    )


def on_retry_gave_up(event: _hooks.RetryGaveUp) -> None:
    t = active()
    t.give_ups.add(
        1,
        _clean(
            {
                n.RESILIENCE_NAME: event.name,
                n.RETRY_STOP_REASON: event.stop_reason,
                n.ERROR_TYPE: event.error_type,
            }
        ),
    )
    attrs = _clean(
        {
            n.RESILIENCE_NAME: event.name,
            n.RESILIENCE_STRATEGY: n.STRATEGY_RETRY,
            n.RETRY_STOP_REASON: event.stop_reason,
            n.RETRY_ATTEMPT: event.attempts,
            n.RETRY_ELAPSED_S: event.elapsed,
            n.ERROR_TYPE: event.error_type,
        }
    )
    span = _event(n.EVENT_RETRY_GAVE_UP, attrs, _events.WARN)
    if span is not None:
        span.set_attribute(n.RETRY_ATTEMPT, event.attempts)
    # A warning only when retrying was tried and did not help (or the budget refused it);
    # a call that was never retryable (non_retryable, not_idempotent, circuit_open) is the
    # caller's error or the breaker's decision, already logged once per outage.
    retried = event.attempts > 1 or event.stop_reason == "budget_exhausted"
    logger.log(
        logging.WARNING if retried else logging.DEBUG,
        "retry %r gave up after %d attempt(s): %s",
        event.name,
        event.attempts,
        event.stop_reason,
        extra=attrs,
    )


def on_retry_succeeded(event: _hooks.RetrySucceeded) -> None:
    span = _span()
    if span is not None:
        span.set_attribute(n.RETRY_ATTEMPT, event.attempts)


def on_retry_nested(event: _hooks.RetryNested) -> None:
    _event(n.EVENT_RETRY_NESTED, {n.RESILIENCE_NAME: event.name})


def on_budget_exhausted(event: _hooks.BudgetExhausted) -> None:
    active().budget_exhausted.add(1, {n.RESILIENCE_NAME: event.name})


def record_batch(name: str, succeeded: int, failed: int, skipped: int) -> None:
    counter = active().batch_documents
    for outcome, count in (("succeeded", succeeded), ("failed", failed), ("skipped", skipped)):
        if count:
            counter.add(count, {n.RESILIENCE_NAME: name, n.BATCH_OUTCOME: outcome})


_installed = False


def install() -> None:
    """Make the OpenTelemetry hooks above the defaults of every hook list and put them in
    force (idempotent; ``ragsight/__init__.py`` calls it once). Users replace them through
    ``ragsight.instrumentation``; ``set_on_*_hooks(None)`` comes back to these."""
    global _installed
    if _installed:
        return
    _installed = True
    _hooks.breaker_transition.install_defaults((on_breaker_change,))
    _hooks.breaker_rejection.install_defaults((on_breaker_reject,))
    _hooks.breaker_probe.install_defaults((on_breaker_probe,))
    _hooks.breaker_created.install_defaults((on_created,))
    _hooks.retry_scheduled.install_defaults((on_retry_scheduled,))
    _hooks.retry_gave_up.install_defaults((on_retry_gave_up,))
    _hooks.retry_succeeded.install_defaults((on_retry_succeeded,))
    _hooks.retry_nested.install_defaults((on_retry_nested,))
    _hooks.budget_exhausted.install_defaults((on_budget_exhausted,))
    _runtime.on_override(_on_override)
    active()
