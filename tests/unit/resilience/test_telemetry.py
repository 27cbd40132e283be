"""Resilience telemetry: observable outcomes, rare-event instruments, span events, logs."""

from __future__ import annotations

import asyncio
import gc
import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.metrics import (
    NoOpCounter,
    NoOpHistogram,
    NoOpMeter,
    NoOpMeterProvider,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ragsight import CircuitBreaker, CircuitOpenError, RetryBudget, RetryPolicy
from ragsight import names as n
from ragsight._resilience import telemetry as rt
from ragsight.resilience_testing import FakeClock


class Transient(ConnectionError):
    pass


# ------------------------------------------------------------------------------ helpers --
class SpyCounter(NoOpCounter):
    def __init__(self, calls: list[str], name: str) -> None:
        super().__init__(name)
        self._calls, self._name = calls, name

    def add(self, amount: Any, attributes: Any = None, context: Any = None) -> None:
        self._calls.append(self._name)


class SpyHistogram(NoOpHistogram):
    def __init__(self, calls: list[str], name: str) -> None:
        super().__init__(name)
        self._calls, self._name = calls, name

    def record(self, amount: Any, attributes: Any = None, context: Any = None) -> None:
        self._calls.append(self._name)


class SpyMeter(NoOpMeter):
    """Counts every synchronous instrument call made through meters it hands out."""

    def __init__(self, calls: list[str]) -> None:
        super().__init__("spy")
        self.calls = calls

    def create_counter(self, name: str, unit: str = "", description: str = "") -> Any:
        return SpyCounter(self.calls, name)

    def create_histogram(self, name: str, unit: str = "", description: str = "", **_: Any) -> Any:
        return SpyHistogram(self.calls, name)


class SpyMeterProvider(NoOpMeterProvider):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def get_meter(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return SpyMeter(self.calls)


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    with rt.use_providers(provider):
        yield reader
    provider.shutdown()


@pytest.fixture
def spans() -> Iterator[tuple[Any, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("test"), exporter
    provider.shutdown()


def points(
    reader: InMemoryMetricReader, metric: str, name: str
) -> list[tuple[dict[str, Any], Any]]:
    """(attributes, value) of every point of ``metric`` whose resilience.name is ``name``."""
    data = reader.get_metrics_data()
    found: list[tuple[dict[str, Any], Any]] = []
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                if m.name != metric:
                    continue
                for p in m.data.data_points:
                    attrs = dict(p.attributes or {})
                    if attrs.get(n.RESILIENCE_NAME) == name:
                        value = getattr(p, "value", None)
                        found.append((attrs, value if value is not None else p))
    return found


def trip(breaker: CircuitBreaker, times: int = 1) -> None:
    def boom() -> None:
        raise Transient()

    for _ in range(times):
        with pytest.raises(Transient):
            breaker.call(boom)


# ------------------------------------------------------------------------------ hot path --
def test_success_path_makes_no_synchronous_instrument_calls() -> None:
    spy = SpyMeterProvider()
    clock = FakeClock()
    with rt.use_providers(spy):  # type: ignore[arg-type]
        breaker = CircuitBreaker("spy-cb", clock=clock, consecutive_failures=1)
        policy = RetryPolicy(name="spy-retry", clock=clock)

        @policy
        @breaker
        def call(x: int) -> int:
            return x

        @policy
        @breaker
        async def acall(x: int) -> int:
            return x

        @breaker
        def stream() -> Iterator[int]:
            yield 1

        for i in range(500):
            assert call(i) == i
            assert list(stream()) == [1]

        async def run_async() -> None:
            for i in range(500):
                assert await acall(i) == i

        asyncio.run(run_async())
        assert spy.calls == []
        breaker.force_state("open")  # a rare event does reach the spy: the spy sees calls
        assert n.CB_TRANSITIONS.name in spy.calls


# ------------------------------------------------------------------------------ metrics --
def test_breaker_state_and_outcomes_are_observable(reader: InMemoryMetricReader) -> None:
    breaker = CircuitBreaker("obs-cb", clock=FakeClock(), consecutive_failures=2)
    for _ in range(3):
        breaker.call(lambda: None)
    trip(breaker, 2)
    with pytest.raises(CircuitOpenError):
        breaker.call(lambda: None)
    states = {a[n.CB_STATE]: v for a, v in points(reader, n.CB_STATE_METRIC.name, "obs-cb")}
    assert states == {s: int(s == "open") for s in n.CB_STATES}
    calls = {a[n.CB_OUTCOME]: v for a, v in points(reader, n.CB_CALLS.name, "obs-cb")}
    assert (calls["success"], calls["failure"], calls["rejected"]) == (3, 2, 1)
    [(_, ratio)] = points(reader, n.CB_FAILURE_RATIO.name, "obs-cb")
    assert ratio == pytest.approx(2 / 5)


def test_transitions_and_outage_duration_are_recorded(reader: InMemoryMetricReader) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(
        "trans-cb",
        clock=clock,
        consecutive_failures=1,
        open_jitter=0.0,
        open_duration=30.0,
        probe_successes_to_close=1,
    )
    trip(breaker)
    clock.advance(30.0)
    breaker.call(lambda: None)
    transitions = {
        (a[n.CB_FROM_STATE], a[n.CB_TO_STATE], a[n.CB_REASON]): v
        for a, v in points(reader, n.CB_TRANSITIONS.name, "trans-cb")
    }
    assert transitions == {
        ("closed", "open", "consecutive_failures"): 1,
        ("open", "half_open", "open_elapsed"): 1,
        ("half_open", "closed", "probe_succeeded"): 1,
    }
    [(_, hist)] = points(reader, n.CB_OPEN_DURATION.name, "trans-cb")
    assert (hist.count, hist.sum) == (1, pytest.approx(30.0))


def test_retry_outcomes_attempts_delays_and_give_ups(reader: InMemoryMetricReader) -> None:
    clock = FakeClock()
    policy = RetryPolicy(name="obs-retry", clock=clock, attempts=3, budget=True)
    failures = [Transient(), Transient()]

    def flaky() -> str:
        if failures:
            raise failures.pop()
        return "ok"

    assert policy.call(flaky) == "ok"
    policy.call(lambda: "first")

    def always() -> None:
        raise Transient()

    with pytest.raises(Transient):
        policy.call(always)
    outcomes = {a[n.RETRY_OUTCOME]: v for a, v in points(reader, n.RETRY_CALLS.name, "obs-retry")}
    assert (outcomes["success_after_retry"], outcomes["success_first_attempt"]) == (1, 1)
    assert outcomes["failed_after_retry"] == 1
    attempts = {
        a[n.RETRY_ATTEMPT]: v for a, v in points(reader, n.RETRY_ATTEMPTS.name, "obs-retry")
    }
    assert attempts == {1: 2, 2: 2}  # an int, as on spans and events
    [(attrs, give_ups)] = points(reader, n.RETRY_GIVE_UPS.name, "obs-retry")
    assert (attrs[n.RETRY_STOP_REASON], give_ups) == ("attempts_exhausted", 1)
    assert attrs[n.ERROR_TYPE].endswith("Transient")
    [(_, delays)] = points(reader, n.RETRY_DELAY.name, "obs-retry")
    assert delays.count == 4
    [(_, remaining)] = points(reader, n.RETRY_BUDGET_REMAINING.name, "obs-retry")
    assert remaining == pytest.approx(0.1 * 3 + 1.0 * 10 - 4)


def test_budget_exhaustion_is_counted(reader: InMemoryMetricReader) -> None:
    clock = FakeClock()
    budget = RetryBudget("obs-budget", ratio=0.0, min_per_second=0.0, clock=clock)
    policy = RetryPolicy(name="obs-budget", clock=clock, budget=budget)

    def always() -> None:
        raise Transient()

    with pytest.raises(Transient):
        policy.call(always)
    [(_, exhausted)] = points(reader, n.RETRY_BUDGET_EXHAUSTED.name, "obs-budget")
    assert exhausted == 1


# ------------------------------------------------------------------------------ spans --
def test_state_change_and_rejections_land_on_the_current_span(
    reader: InMemoryMetricReader, spans: tuple[Any, InMemorySpanExporter]
) -> None:
    tracer, exporter = spans
    breaker = CircuitBreaker("span-cb", clock=FakeClock(), consecutive_failures=1)
    with tracer.start_as_current_span("stage"):
        trip(breaker)
        for _ in range(2):
            with pytest.raises(CircuitOpenError):
                breaker.call(lambda: None)
    [span] = exporter.get_finished_spans()
    names = [e.name for e in span.events]
    assert names == [n.EVENT_CB_STATE_CHANGED, n.EVENT_CB_CALL_REJECTED, n.EVENT_CB_CALL_REJECTED]
    changed = dict(span.events[0].attributes or {})
    assert (changed[n.CB_FROM_STATE], changed[n.CB_TO_STATE]) == ("closed", "open")
    assert changed[n.CB_REASON] == "consecutive_failures"
    assert changed[n.CB_OPEN_FOR_S] > 0
    assert span.attributes is not None
    assert span.attributes[n.RESILIENCE_NAME] == "span-cb"
    assert "resilience.circuit_breaker.name" not in span.attributes  # one name per concept


def test_probes_are_marked_on_their_span(spans: tuple[Any, InMemorySpanExporter]) -> None:
    tracer, exporter = spans
    clock = FakeClock()
    breaker = CircuitBreaker("probe-cb", clock=clock, consecutive_failures=1)
    trip(breaker)
    clock.advance(1000.0)
    with tracer.start_as_current_span("probe"):
        breaker.call(lambda: None)
    [span] = exporter.get_finished_spans()
    assert span.attributes is not None
    assert span.attributes[n.CB_PROBE] is True


def test_retry_scheduled_and_final_attempt_land_on_the_current_span(
    reader: InMemoryMetricReader, spans: tuple[Any, InMemorySpanExporter]
) -> None:
    tracer, exporter = spans
    failures = [Transient()]

    def flaky() -> str:
        if failures:
            raise failures.pop()
        return "ok"

    with tracer.start_as_current_span("stage"):
        RetryPolicy(name="span-retry", clock=FakeClock()).call(flaky)
    [span] = exporter.get_finished_spans()
    [event] = span.events
    assert event.name == n.EVENT_RETRY_SCHEDULED
    attrs = dict(event.attributes or {})
    assert (attrs[n.RETRY_ATTEMPT], attrs[n.RETRY_DELAY_SOURCE]) == (1, "backoff")
    assert span.attributes is not None
    assert span.attributes[n.RETRY_ATTEMPT] == 2


# ------------------------------------------------------------------------------ logs --
def test_an_outage_logs_its_start_its_first_rejection_and_its_end_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker("log-cb", clock=clock, consecutive_failures=1, open_jitter=0.0)
    with caplog.at_level(logging.INFO, logger="ragsight.resilience"):
        trip(breaker)
        for _ in range(5):
            with pytest.raises(CircuitOpenError):
                breaker.call(lambda: None)
        clock.advance(1000.0)
        trip(breaker)  # the probe fails: a new open period of the same outage
        with pytest.raises(CircuitOpenError):
            breaker.call(lambda: None)
        clock.advance(1000.0)
        for _ in range(breaker.config.probe_successes_to_close):
            breaker.call(lambda: None)  # the probes succeed: the outage is over
        assert breaker.state == "closed"
    logged = [r for r in caplog.records if r.levelno >= logging.INFO]
    rejections = [r for r in logged if getattr(r, n.CB_STATE, None) == "open"]
    transitions = [r for r in logged if getattr(r, n.CB_TO_STATE, None) is not None]
    assert len(rejections) == 1
    assert len(transitions) == 2  # began, recovered
    opened = [r for r in caplog.records if getattr(r, n.CB_TO_STATE, None) == "open"]
    assert [r.levelno for r in opened] == [logging.WARNING]
    [summary] = [r for r in caplog.records if getattr(r, n.CB_TO_STATE, None) == "closed"]
    assert getattr(summary, n.CB_REOPENS) == 1


def test_give_ups_are_logged_with_their_stop_reason(caplog: pytest.LogCaptureFixture) -> None:
    def always() -> None:
        raise Transient()

    with (
        caplog.at_level(logging.WARNING, logger="ragsight.resilience"),
        pytest.raises(Transient),
    ):
        RetryPolicy(name="log-retry", clock=FakeClock(), attempts=2).call(always)
    [record] = [r for r in caplog.records if getattr(r, n.RETRY_STOP_REASON, None)]
    assert getattr(record, n.RETRY_STOP_REASON) == "attempts_exhausted"
    assert getattr(record, n.RETRY_ATTEMPT) == 2


def test_a_failing_telemetry_hook_never_breaks_the_call(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any) -> None:
        raise RuntimeError("exporter bug")

    monkeypatch.setattr(rt, "active", broken)
    breaker = CircuitBreaker("contained-cb", clock=FakeClock(), consecutive_failures=1)
    trip(breaker)
    assert breaker.state == "open"


# ------------------------------------------------------------------------------ late SDK --
def test_breakers_created_before_the_sdk_is_configured_still_export() -> None:
    script = textwrap.dedent(
        """
        import ragsight
        from ragsight import names as n

        breaker = ragsight.CircuitBreaker("import-time")  # before any SDK exists
        breaker.call(lambda: None)

        from opentelemetry import metrics
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader

        reader = InMemoryMetricReader()
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        breaker.call(lambda: None)
        for rm in reader.get_metrics_data().resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name == n.CB_CALLS.name:
                        for p in m.data.data_points:
                            if p.attributes[n.CB_OUTCOME] == "success":
                                print(p.attributes[n.RESILIENCE_NAME], p.value)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.split() == ["import-time", "2"]


def test_call_counters_never_go_down_when_a_breaker_of_that_name_is_collected(
    reader: InMemoryMetricReader,
) -> None:
    def total() -> int:
        return sum(v for _, v in points(reader, n.CB_CALLS.name, "per-client"))

    kept = CircuitBreaker("per-client")  # e.g. one breaker per client object
    dropped = CircuitBreaker("per-client")
    kept.call(lambda: None)
    dropped.call(lambda: None)
    dropped.call(lambda: None)
    trip(dropped)
    assert total() == 4
    del dropped
    gc.collect()
    assert total() == 4  # a cumulative counter that went down would read as a reset
    kept.call(lambda: None)
    assert total() == 5
