"""Shared vs local mode: a store falls back to its local view on errors, hangs or garbage,
never lets an error reach the app, logs each episode once and shows the mode in telemetry."""

from __future__ import annotations

import logging
import threading

import pytest
from memory_fleet import Fleet

from ragsight import CircuitBreaker, RedisState, RetryBudget
from ragsight import names as n
from ragsight.testing import capture_telemetry

LOGGER = "ragsight.resilience.shared"


def test_a_good_exchange_puts_the_store_in_shared_mode(fleet: Fleet) -> None:
    r = fleet.replica("a")
    assert r.store.mode == "local"  # nothing exchanged yet
    assert r.store.exchange() is True
    assert r.store.mode == "shared"


def test_a_failed_exchange_means_local_mode_at_once(fleet: Fleet) -> None:
    r = fleet.replica("a")
    r.store.exchange()
    fleet.server.down = ConnectionError("refused")
    assert r.store.exchange() is False
    assert r.store.mode == "local"


def test_no_answer_for_stale_after_means_local_mode_even_while_an_exchange_hangs(
    fleet: Fleet,
) -> None:
    r = fleet.replica("a")
    r.store.exchange()
    fleet.clock.advance(2.1)  # stale_after passed without a good exchange
    assert r.store.mode == "local"
    assert r.budget._shared is not None
    assert r.budget._shared.fleet_others() is None  # the budget's view aged out too


def test_a_garbled_reply_counts_as_a_failed_exchange_and_never_raises(fleet: Fleet) -> None:
    r = fleet.replica("a")
    r.backend.garbage = True
    assert r.store.exchange() is False
    assert r.store.mode == "local"
    r.ok(20)  # the app carries on


def test_each_outage_is_logged_once_and_its_end_once(
    fleet: Fleet, caplog: pytest.LogCaptureFixture
) -> None:
    r = fleet.replica("a")
    caplog.set_level(logging.WARNING, logger=LOGGER)
    r.store.exchange()
    for _ in range(2):  # two outages
        fleet.server.down = TimeoutError("Timeout reading from socket")
        for _ in range(5):
            r.store.exchange()
        fleet.server.down = None
        r.store.exchange()
        r.store.exchange()
    messages = [rec.getMessage() for rec in caplog.records if rec.name == LOGGER]
    assert len(messages) == 4
    assert ["unreachable" in m for m in messages] == [True, False, True, False]
    assert "TimeoutError" in messages[0]


def test_the_mode_gauge_shows_shared_then_local(fleet: Fleet) -> None:
    def gauge(mode: str) -> float:
        attrs = {n.RESILIENCE_NAME: fleet.name, n.SHARED_MODE: mode}
        return sum(p.value or 0 for p in t.metric_points(n.SHARED_MODE, **attrs))

    with capture_telemetry() as t:
        r = fleet.replica("a")
        r.store.exchange()
        assert (gauge("shared"), gauge("local")) == (1, 0)
        fleet.server.down = ConnectionError("refused")
        r.store.exchange()
        assert (gauge("shared"), gauge("local")) == (0, 1)


def test_a_partitioned_replica_stops_voting_and_runs_on_its_own_window(fleet: Fleet) -> None:
    cut, healthy, other = fleet.replica("cut"), fleet.replica("b"), fleet.replica("c")
    cut.fail(20)
    cut.store.exchange()  # its last report: a failing window
    cut.backend.partitioned = True
    fleet.clock.advance(2.5)  # its report goes stale on the server
    healthy.store.exchange()
    other.store.exchange()
    assert cut.store.exchange() is False
    assert (cut.store.mode, cut.breaker.state) == ("local", "open")  # its own trip
    assert (healthy.breaker.state, other.breaker.state) == ("closed", "closed")


def test_calls_complete_while_the_publisher_thread_is_stuck_in_an_exchange(
    fleet: Fleet,
) -> None:
    backend = fleet.server.backend()
    backend.gate = threading.Event()  # the server never answers until the test says so
    store = RedisState(backend=backend, clock=fleet.clock, replica_id="stuck")
    breaker = CircuitBreaker(fleet.name, shared=store)
    budget = RetryBudget(fleet.name, shared=store)
    try:
        assert backend.entered.wait(timeout=30), "the publisher thread never exchanged"
        for _ in range(1000):
            breaker.call(lambda: None)
        assert budget.try_spend()
        assert not backend.gate.is_set()  # every call above finished inside the hang
        assert breaker.counts["success"] == 1000
    finally:
        backend.gate.set()
        store.close()


def _plant(fleet: Fleet, kind: str, payload: str) -> None:
    """A report no replica of this version writes (a newer release, a foreign writer)."""
    key = f"ragsight:{{{kind}:{fleet.name}}}:reports"
    fleet.server.hashes.setdefault(key, {})["odd"] = (fleet.clock.monotonic() * 1000, payload)


def test_one_replicas_unreadable_report_is_ignored_and_the_store_stays_shared(
    fleet: Fleet,
) -> None:
    a = fleet.replica("a")
    fleet.replica("b")
    fleet.exchange()
    _plant(fleet, "cb", "10 2 0 7")
    _plant(fleet, "budget", "not numbers")
    assert a.store.exchange() is True
    assert a.store.mode == "shared"
    link = a.breaker._shared
    assert link is not None
    assert link.verdict is not None
    assert link.verdict.replicas == 2  # a and b; the odd report neither votes nor counts
    assert a.budget._shared is not None
    assert a.budget._shared.fleet_others() == (0, 0)  # b's window, the odd one left out


def test_an_unreadable_report_is_logged_once_and_not_as_redis_being_unreachable(
    fleet: Fleet, caplog: pytest.LogCaptureFixture
) -> None:
    a = fleet.replica("a")
    caplog.set_level(logging.WARNING, logger=LOGGER)
    _plant(fleet, "cb", "10 2 0 7")
    for _ in range(3):
        a.store.exchange()
    messages = [rec.getMessage() for rec in caplog.records if rec.name == LOGGER]
    assert len(messages) == 1
    assert "odd" in messages[0]
    assert "Redis unreachable" not in messages[0]


def test_an_exchange_failing_after_close_is_not_logged_as_an_outage(
    fleet: Fleet, caplog: pytest.LogCaptureFixture
) -> None:
    # close() drops the connection under an exchange in flight; what that exchange then
    # raises (redis-py: "I/O operation on closed file") is the close, not Redis going away
    r = fleet.replica("a")
    caplog.set_level(logging.WARNING, logger=LOGGER)
    r.store.exchange()
    r.store.close()
    fleet.server.down = ValueError("I/O operation on closed file.")
    assert r.store.exchange() is False
    assert not [rec for rec in caplog.records if rec.name == LOGGER]
