"""Logs that help in an outage: one per episode plus a summary, structured over OTLP."""

from __future__ import annotations

import logging

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

import ragsight
from ragsight import names as n
from ragsight._export.logs import OtelLogHandler
from ragsight.resilience_testing import FakeClock, no_wait


class Unavailable(Exception):
    status_code = 503


class NotFound(Exception):
    status_code = 404


def boom() -> None:
    raise Unavailable()


def flap(breaker: ragsight.CircuitBreaker, clock: FakeClock, times: int) -> None:
    """Trip the breaker, then let ``times`` half-open probes fail, then recover."""
    with pytest.raises(Unavailable):
        breaker.call(boom)
    for _ in range(times):
        clock.advance(3600.0)
        with pytest.raises(Unavailable):
            breaker.call(boom)
    clock.advance(3600.0)
    for _ in range(breaker.config.probe_successes_to_close):
        breaker.call(lambda: None)


def resilience_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records
        if r.name == "ragsight.resilience" and r.levelno >= logging.WARNING
    ]  # fmt: skip


@pytest.mark.parametrize("flaps", [1, 24])
def test_a_flapping_outage_logs_one_warning_and_one_recovery_summary(
    flaps: int, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    breaker = ragsight.CircuitBreaker(
        f"logs-flap-{flaps}", clock=clock, consecutive_failures=1, open_jitter=0.0
    )
    with caplog.at_level(logging.DEBUG, logger="ragsight.resilience"):
        flap(breaker, clock, flaps)
    assert breaker.state == "closed"
    assert len(resilience_warnings(caplog)) == 1
    summaries = [
        r for r in caplog.records
        if r.levelno == logging.INFO and getattr(r, n.CB_TO_STATE, None) == "closed"
    ]  # fmt: skip
    assert len(summaries) == 1
    assert getattr(summaries[0], n.CB_REOPENS) == flaps


def test_a_second_outage_logs_again(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    breaker = ragsight.CircuitBreaker(
        "logs-twice", clock=clock, consecutive_failures=1, open_jitter=0.0
    )
    with caplog.at_level(logging.INFO, logger="ragsight.resilience"):
        flap(breaker, clock, 2)
        flap(breaker, clock, 2)
    assert len(resilience_warnings(caplog)) == 2


@pytest.mark.parametrize("error", [NotFound, ValueError])
def test_a_non_retryable_error_logs_no_warning(
    error: type[Exception], caplog: pytest.LogCaptureFixture
) -> None:
    def fail() -> None:
        raise error()

    policy = ragsight.RetryPolicy(name="logs-nonretryable", budget=False)
    with caplog.at_level(logging.INFO, logger="ragsight.resilience"), pytest.raises(error):
        policy.call(fail)
    assert resilience_warnings(caplog) == []


def test_a_retried_call_that_gives_up_still_warns(caplog: pytest.LogCaptureFixture) -> None:
    policy = ragsight.RetryPolicy(name="logs-gave-up", attempts=2, budget=False)
    with (
        caplog.at_level(logging.INFO, logger="ragsight.resilience"),
        no_wait(),
        pytest.raises(Unavailable),
    ):
        policy.call(boom)
    [warning] = resilience_warnings(caplog)
    assert getattr(warning, n.RETRY_STOP_REASON) == "attempts_exhausted"


def test_exported_outage_messages_carry_the_resilience_attributes_and_no_event_name() -> None:
    """The message is for humans; the named event is emitted apart (test_events.py), so a
    backend counting events sees each transition once."""
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    handler = OtelLogHandler(provider, logging.INFO)
    logger = logging.getLogger("ragsight.resilience")
    logger.addHandler(handler)
    try:
        breaker = ragsight.CircuitBreaker(
            "logs-otlp", clock=FakeClock(), consecutive_failures=1, open_jitter=0.0
        )
        with pytest.raises(Unavailable):
            breaker.call(boom)
    finally:
        logger.removeHandler(handler)
    records = [d.log_record for d in exporter.get_finished_logs()]
    [opened] = [r for r in records if (r.attributes or {}).get(n.CB_TO_STATE) == "open"]
    attrs = dict(opened.attributes or {})
    assert attrs[n.RESILIENCE_NAME] == "logs-otlp"
    assert attrs[n.CB_REASON] == "consecutive_failures"
    assert "event.name" not in attrs
    assert opened.event_name is None
