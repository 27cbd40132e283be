"""Circuit breaker behaviour: trip rules, half-open admission, classification, call forms."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from ragsight import CircuitBreaker, CircuitOpenError, ResilienceError, StateChange, get_breaker
from ragsight.resilience_testing import FakeClock


class Boom(Exception):
    pass


class HTTPError(Exception):
    """Duck-typed like httpx/openai errors: a response with a status and headers."""

    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.response = type("R", (), {"status_code": status, "headers": headers or {}})()


def make(clock: FakeClock, **kw: Any) -> CircuitBreaker:
    kw.setdefault("open_jitter", 0.0)
    return CircuitBreaker(kw.pop("name", "svc"), clock=clock, **kw)


def fail(breaker: CircuitBreaker, exc: BaseException | None = None) -> None:
    def boom() -> None:
        raise exc or Boom()

    with pytest.raises(BaseException):  # noqa: B017 - whatever the injected error is
        breaker.call(boom)


def ok(breaker: CircuitBreaker) -> None:
    assert breaker.call(lambda: 42) == 42


# ------------------------------------------------------------------------- trip rules --
def test_consecutive_failures_open_a_low_traffic_breaker() -> None:
    b = make(FakeClock(), consecutive_failures=5, minimum_calls=20)
    for _ in range(4):
        fail(b)
    assert b.state == "closed"
    fail(b)
    assert b.state == "open"


def test_a_success_resets_the_consecutive_failure_count() -> None:
    b = make(FakeClock(), consecutive_failures=3, minimum_calls=1000)
    for _ in range(10):
        fail(b)
        fail(b)
        ok(b)
    assert b.state == "closed"


def test_failure_rate_trips_once_minimum_calls_are_in_the_window() -> None:
    b = make(FakeClock(), minimum_calls=10, failure_rate_threshold=0.5, consecutive_failures=100)
    for _ in range(4):
        ok(b)
        fail(b)
    assert b.state == "closed"  # 8 calls < minimum
    ok(b)
    fail(b)  # 10 calls, 5 failures = 0.5
    assert b.state == "open"


def test_failure_rate_below_threshold_keeps_a_busy_breaker_closed() -> None:
    b = make(FakeClock(), minimum_calls=10, failure_rate_threshold=0.5, consecutive_failures=0)
    for _ in range(10):
        ok(b)
    for _ in range(9):  # the consecutive rule is off
        fail(b)
    assert b.state == "closed"
    assert b.snapshot().failure_rate == pytest.approx(9 / 19)


def test_failures_older_than_the_window_do_not_trip() -> None:
    clock = FakeClock()
    b = make(clock, consecutive_failures=1000, minimum_calls=10, window=60.0, buckets=12)
    for _ in range(9):
        fail(b)
    clock.advance(61.0)
    for _ in range(9):
        ok(b)
    fail(b)  # 10 calls in the window, only 1 failure
    assert b.state == "closed"
    snap = b.snapshot()
    assert (snap.window_calls, snap.window_failures) == (10, 1)


def test_window_expires_bucket_by_bucket() -> None:
    clock = FakeClock(start=0.0)
    b = make(clock, window=10.0, buckets=10, consecutive_failures=1000)
    fail(b)  # bucket 0
    clock.advance(5.0)
    fail(b)  # bucket 5
    clock.advance(5.5)  # t=10.5: bucket 0 has left the window
    assert b.snapshot().window_failures == 1
    clock.advance(5.0)  # t=15.5: bucket 5 too
    assert b.snapshot().window_failures == 0


def test_slow_calls_trip_on_slow_call_rate() -> None:
    clock = FakeClock()
    b = make(clock, minimum_calls=4, slow_call_rate_threshold=0.5, slow_call_duration=2.0)

    def slow() -> str:
        clock.advance(3.0)
        return "late"

    for _ in range(2):
        ok(b)
    b.call(slow)
    assert b.state == "closed"
    b.call(slow)  # 2 of 4 slow
    assert b.state == "open"
    assert b.snapshot().calls["slow_success"] == 2


# ------------------------------------------------------------------------- rejection --
def test_open_breaker_rejects_with_name_state_and_seconds_until_probe() -> None:
    clock = FakeClock()
    b = make(clock, consecutive_failures=1, open_duration=30.0)
    fail(b, Boom())
    clock.advance(10.0)
    with pytest.raises(CircuitOpenError) as info:
        ok(b)
    err = info.value
    assert isinstance(err, ResilienceError)
    assert (err.name, err.state) == ("svc", "open")
    assert err.retry_after == pytest.approx(20.0)
    assert err.last_failure_type is not None
    assert err.last_failure_type.endswith("Boom")
    assert b.snapshot().calls["rejected"] == 1


def test_rejected_call_never_runs_the_function() -> None:
    b = make(FakeClock(), consecutive_failures=1)
    fail(b)
    ran: list[int] = []
    with pytest.raises(CircuitOpenError):
        b.call(lambda: ran.append(1))
    assert ran == []


def test_with_breaker_rejects_while_open() -> None:
    b = make(FakeClock(), consecutive_failures=1)
    fail(b)
    entered = False
    with pytest.raises(CircuitOpenError), b:
        entered = True
    assert not entered


def test_async_with_breaker_rejects_while_open_and_records_outcomes() -> None:
    b = make(FakeClock(), consecutive_failures=2)

    async def scenario() -> None:
        async with b:
            pass
        for _ in range(2):
            with pytest.raises(Boom):
                async with b:
                    raise Boom()
        with pytest.raises(CircuitOpenError):
            async with b:
                pass

    asyncio.run(scenario())
    assert b.snapshot().calls["success"] == 1
    assert b.snapshot().calls["failure"] == 2


# ------------------------------------------------------------------------- half-open --
def _open_then_elapse(clock: FakeClock, **kw: Any) -> CircuitBreaker:
    b = make(clock, consecutive_failures=1, open_duration=30.0, **kw)
    fail(b)
    clock.advance(30.0)
    return b


@pytest.mark.parametrize("probes", [1, 3])
def test_half_open_admits_exactly_the_configured_probes_among_20_threads(probes: int) -> None:
    b = _open_then_elapse(FakeClock(), half_open_probes=probes)
    release = threading.Event()
    admitted: list[int] = []
    rejected: list[int] = []
    start = threading.Barrier(20)

    def probe() -> str:
        admitted.append(1)
        assert release.wait(10)
        return "ok"

    def caller() -> None:
        start.wait(10)
        try:
            b.call(probe)
        except CircuitOpenError:
            rejected.append(1)
            if len(rejected) == 20 - probes:
                release.set()

    threads = [threading.Thread(target=caller) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert (len(admitted), len(rejected)) == (probes, 20 - probes)


def test_half_open_admits_exactly_one_of_20_concurrent_coroutines() -> None:
    b = _open_then_elapse(FakeClock())

    async def scenario() -> tuple[int, int]:
        gate = asyncio.Event()
        admitted = 0

        async def probe() -> None:
            nonlocal admitted
            admitted += 1
            await gate.wait()

        async def caller() -> bool:
            try:
                await b.acall(probe)
            except CircuitOpenError:
                return False
            return True

        tasks = [asyncio.create_task(caller()) for _ in range(20)]
        for _ in range(5):
            await asyncio.sleep(0)
        gate.set()
        results = await asyncio.gather(*tasks)
        return admitted, results.count(False)

    assert asyncio.run(scenario()) == (1, 19)


def test_two_probe_successes_close_the_breaker() -> None:
    b = _open_then_elapse(FakeClock())
    ok(b)
    assert b.state == "half_open"
    ok(b)
    assert b.state == "closed"


def test_probe_failure_reopens_with_a_doubled_open_duration() -> None:
    clock = FakeClock()
    changes: list[StateChange] = []
    b = _open_then_elapse(clock, listeners=(changes.append,))
    fail(b)
    assert b.state == "open"
    assert changes[-1].reason == "probe_failed"
    assert changes[-1].open_for_s == pytest.approx(60.0)
    clock.advance(59.0)
    with pytest.raises(CircuitOpenError):
        ok(b)
    clock.advance(1.0)
    ok(b)
    assert b.state == "half_open"


def test_open_duration_backoff_is_capped() -> None:
    clock = FakeClock()
    changes: list[StateChange] = []
    b = make(
        clock,
        consecutive_failures=1,
        open_duration=30.0,
        max_open_duration=100.0,
        listeners=(changes.append,),
    )
    fail(b)
    for _ in range(5):
        clock.advance(200.0)
        fail(b)  # probe fails
    assert [c.open_for_s for c in changes if c.to_state == "open"] == [30, 60, 100, 100, 100, 100]


def test_open_duration_jitter_stays_below_the_cap_and_varies() -> None:
    clock = FakeClock()
    changes: list[StateChange] = []
    b = CircuitBreaker(
        "j",
        clock=clock,
        consecutive_failures=1,
        open_duration=10.0,
        max_open_duration=10.0,
        open_jitter=0.2,
        listeners=(changes.append,),
    )
    fail(b)
    for _ in range(30):
        clock.advance(20.0)
        fail(b)
    values = [c.open_for_s for c in changes if c.to_state == "open"]
    assert all(v is not None and 8.0 <= v <= 10.0 for v in values)
    assert len(set(values)) > 20


def test_retry_after_hint_lengthens_the_open_period() -> None:
    clock = FakeClock()
    b = make(clock, consecutive_failures=1, open_duration=30.0)
    fail(b, HTTPError(429, {"Retry-After": "90"}))
    clock.advance(80.0)
    with pytest.raises(CircuitOpenError) as info:
        ok(b)
    assert info.value.retry_after == pytest.approx(10.0)


def test_stuck_probe_is_reclaimed_after_probe_timeout_and_reopens() -> None:
    clock = FakeClock()
    changes: list[StateChange] = []
    b = _open_then_elapse(clock, probe_timeout=60.0, listeners=(changes.append,))
    stuck = b.acquire()
    assert stuck.is_probe
    clock.advance(59.0)
    with pytest.raises(CircuitOpenError):
        ok(b)  # the probe is still legitimately running
    clock.advance(1.0)
    with pytest.raises(CircuitOpenError):
        ok(b)  # reclaimed: counted as a failure, breaker re-opened
    assert b.state == "open"
    assert changes[-1].reason == "probe_timeout"
    stuck.success()  # the late report neither closes nor counts as a probe
    assert b.state == "open"
    clock.advance(60.0)
    ok(b)
    assert b.state == "half_open"


@pytest.mark.parametrize("report", ["success", "failure", "ignore"])
def test_late_report_of_a_reclaimed_probe_is_not_counted_twice(report: str) -> None:
    clock = FakeClock()
    b = _open_then_elapse(clock, probe_timeout=60.0)
    before = sum(b.snapshot().calls.values())
    stuck = b.acquire()
    clock.advance(60.0)
    with pytest.raises(CircuitOpenError):
        ok(b)  # reclaims the stuck probe: one failure, one rejection
    if report == "failure":
        stuck.failure(Boom())
    else:
        getattr(stuck, report)()
    calls = b.snapshot().calls
    assert sum(calls.values()) == before + 2  # two calls: the stuck probe and the rejected one
    assert calls["rejected"] == 1


@pytest.mark.parametrize("outcome", ["cancelled", "ignored"])
def test_cancelled_or_ignored_probe_releases_its_permit(outcome: str) -> None:
    b = _open_then_elapse(FakeClock())
    exc: BaseException = asyncio.CancelledError() if outcome == "cancelled" else HTTPError(404)
    fail(b, exc)
    assert b.state == "half_open"
    assert b.snapshot().probes_in_flight == 0
    assert b.snapshot().calls[outcome] == 1
    ok(b)  # the next probe is admitted
    ok(b)
    assert b.state == "closed"


def test_results_of_calls_admitted_before_opening_never_cause_transitions() -> None:
    clock = FakeClock()
    changes: list[StateChange] = []
    b = make(clock, consecutive_failures=2, listeners=(changes.append,))
    early = b.acquire()
    fail(b)
    fail(b)
    assert b.state == "open"
    clock.advance(30.0)
    probe = b.acquire()
    early.success()  # admitted while closed: must not count as a probe success
    early.success()  # reporting twice is ignored
    assert b.state == "half_open"
    probe.success()
    assert b.state == "half_open"
    assert [c.to_state for c in changes] == ["open", "half_open"]
    assert b.snapshot().calls["success"] == 2


# ------------------------------------------------------------------------- classification --
def test_base_exceptions_that_are_not_exceptions_never_count() -> None:
    b = make(FakeClock(), consecutive_failures=1)
    for exc in (KeyboardInterrupt(), asyncio.CancelledError(), SystemExit(1)):
        fail(b, exc)
    assert b.state == "closed"
    assert b.snapshot().calls["cancelled"] == 3


def test_caller_errors_are_ignored_and_server_errors_count() -> None:
    b = make(FakeClock(), consecutive_failures=2)
    for _ in range(5):
        fail(b, HTTPError(404))
    assert b.state == "closed"
    fail(b, HTTPError(503))
    fail(b, HTTPError(429))
    assert b.state == "open"


def test_ignore_and_record_exceptions_and_classifier() -> None:
    b = make(FakeClock(), consecutive_failures=1, ignore_exceptions=ValueError)
    fail(b, ValueError())
    assert b.state == "closed"
    b2 = make(FakeClock(), consecutive_failures=1, record_exceptions=(TimeoutError,))
    fail(b2, Boom())
    assert b2.state == "closed"
    fail(b2, TimeoutError())
    assert b2.state == "open"
    b3 = make(FakeClock(), consecutive_failures=1, classifier=lambda e: "success")
    fail(b3, Boom())
    assert b3.snapshot().calls["success"] == 1


def test_record_result_predicate_counts_bad_results_as_failures() -> None:
    b = make(FakeClock(), consecutive_failures=2, record_result=lambda r: r is None)
    assert b.call(lambda: None) is None
    assert b.call(lambda: None) is None
    assert b.state == "open"


# ------------------------------------------------------------------------- special states --
def test_disabled_admits_everything_and_never_opens() -> None:
    b = make(FakeClock(), consecutive_failures=1, state="disabled")
    for _ in range(10):
        fail(b)
    ok(b)
    assert b.state == "disabled"


def test_forced_open_rejects_with_unknown_wait() -> None:
    b = make(FakeClock())
    b.force_state("forced_open")
    with pytest.raises(CircuitOpenError) as info:
        ok(b)
    assert (info.value.state, info.value.retry_after) == ("forced_open", None)


def test_metrics_only_reports_would_be_trips_but_never_blocks() -> None:
    changes: list[StateChange] = []
    b = make(FakeClock(), consecutive_failures=2, state="metrics_only", listeners=(changes.append,))
    for _ in range(6):
        fail(b)
    ok(b)
    assert b.state == "metrics_only"
    trips = [c for c in changes if c.reason == "consecutive_failures"]
    assert len(trips) == 3
    assert all(c.to_state == "metrics_only" for c in trips)


def test_reset_closes_and_forgets() -> None:
    b = make(FakeClock(), consecutive_failures=1)
    fail(b)
    b.reset()
    assert b.state == "closed"
    assert b.snapshot().window_calls == 0


def test_unknown_state_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown breaker state"):
        make(FakeClock()).force_state("ajar")


# ------------------------------------------------------------------------- concurrency --
def test_eight_threads_are_inside_the_guarded_function_at_once() -> None:
    b = make(FakeClock())
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    @b
    def guarded() -> None:
        barrier.wait(timeout=10)  # breaks (raises) unless all 8 are inside together

    def run() -> None:
        try:
            guarded()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(15)
    assert errors == []
    assert b.snapshot().calls["success"] == 8


def test_listeners_run_after_the_lock_is_released_and_their_errors_are_contained() -> None:
    seen: list[bool] = []

    def listener(change: StateChange) -> None:
        free = b._lock.acquire(blocking=False)
        if free:
            b._lock.release()
        seen.append(free)
        raise RuntimeError("listener bug")

    b = make(FakeClock(), consecutive_failures=1, listeners=(listener,))
    fail(b)
    assert seen == [True]
    assert b.state == "open"


def test_breaker_works_across_event_loops_in_threads() -> None:
    b = make(FakeClock())

    async def work() -> int:
        return 1

    guarded = b(work)

    def loop_in_thread(out: list[int]) -> None:
        out.append(asyncio.run(guarded()))

    out: list[int] = []
    threads = [threading.Thread(target=loop_in_thread, args=(out,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert out == [1, 1, 1, 1]


# ------------------------------------------------------------------------- call forms --
def test_decorator_preserves_metadata_and_binds_methods() -> None:
    b = make(FakeClock())

    class Store:
        factor = 3

        @b
        def query(self, x: int) -> int:
            """Docs."""
            return x * self.factor

    assert Store().query(2) == 6
    assert Store.query.__name__ == "query"
    assert Store.query.__doc__ == "Docs."


def test_async_decorator_counts_failures() -> None:
    b = make(FakeClock(), consecutive_failures=2)

    @b
    async def flaky() -> None:
        raise Boom()

    async def scenario() -> None:
        for _ in range(2):
            with pytest.raises(Boom):
                await flaky()
        with pytest.raises(CircuitOpenError):
            await flaky()

    asyncio.run(scenario())


def test_generator_failure_before_first_item_counts_and_admission_is_lazy() -> None:
    b = make(FakeClock(), consecutive_failures=1)

    @b
    def stream() -> Iterator[int]:
        raise Boom()
        yield 1

    gen = stream()  # nothing admitted yet
    assert b.snapshot().calls["failure"] == 0
    with pytest.raises(Boom):
        next(gen)
    assert b.state == "open"
    with pytest.raises(CircuitOpenError):
        next(stream())


def test_generator_closed_early_after_first_item_is_a_success() -> None:
    b = make(FakeClock(), consecutive_failures=1)

    @b
    def stream() -> Iterator[int]:
        yield from range(10)

    for item in stream():
        if item == 2:
            break
    assert b.snapshot().calls["success"] == 1
    assert list(stream()) == list(range(10))


def test_generator_send_and_return_value_pass_through() -> None:
    b = make(FakeClock())

    @b
    def echo() -> Iterator[int]:
        got = yield 1
        yield got * 2
        return None

    gen = echo()
    assert next(gen) == 1
    assert gen.send(21) == 42


def test_async_generator_failure_after_first_item_counts() -> None:
    b = make(FakeClock(), consecutive_failures=1)

    @b
    async def stream() -> AsyncIterator[int]:
        yield 1
        raise Boom()

    async def scenario() -> list[int]:
        got: list[int] = []

        async def consume() -> None:
            async for item in stream():
                got.append(item)

        with pytest.raises(Boom):
            await consume()
        return got

    assert asyncio.run(scenario()) == [1]
    assert b.state == "open"


def test_permit_api_reports_outcomes() -> None:
    b = make(FakeClock(), consecutive_failures=1)
    permit = b.try_acquire()
    assert permit is not None
    assert not permit.is_probe
    permit.ignore()
    permit = b.try_acquire()
    assert permit is not None
    permit.failure(Boom(), duration=0.1)
    assert b.try_acquire() is None
    assert b.snapshot().calls == {**b.snapshot().calls, "ignored": 1, "failure": 1, "rejected": 1}


def test_snapshot_reports_seconds_until_probe() -> None:
    clock = FakeClock()
    b = make(clock, consecutive_failures=1, open_duration=30.0)
    assert b.snapshot().seconds_until_probe == 0.0
    fail(b)
    clock.advance(12.0)
    snap = b.snapshot()
    assert (snap.state, snap.seconds_until_probe) == ("open", pytest.approx(18.0))


# ------------------------------------------------------------------------- registry/config --
def test_get_breaker_returns_one_object_per_name() -> None:
    a = get_breaker("registry-test", consecutive_failures=3)
    assert get_breaker("registry-test") is a
    assert get_breaker("registry-test", consecutive_failures=3) is a
    with pytest.raises(ValueError, match="different configuration"):
        get_breaker("registry-test", consecutive_failures=4)


def test_defaults_come_from_the_resilience_policy() -> None:
    from ragsight._core import policy as _policy

    before = _policy.get_resilience_defaults()
    _policy.set_resilience_defaults(
        _policy.ResilienceDefaults(breaker=_policy.BreakerDefaults(consecutive_failures=2))
    )
    try:
        b = make(FakeClock())
        fail(b)
        fail(b)
        assert b.state == "open"
    finally:
        _policy.set_resilience_defaults(before)


def test_invalid_configuration_is_rejected() -> None:
    with pytest.raises(ValueError, match="failure_rate_threshold"):
        CircuitBreaker("x", failure_rate_threshold=0)
    with pytest.raises(ValueError, match="profile"):
        CircuitBreaker("x", profile="quantum")


# ------------------------------------------------------------------------- clocks --
def test_wall_clock_jumps_and_timezone_changes_do_not_matter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import datetime as dt
    import os
    import time

    b = CircuitBreaker("wall", consecutive_failures=1, open_duration=30.0, open_jitter=0.0)
    fail(b)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 10 * 86400.0)  # NTP step: +10 days

    class FarFuture(dt.datetime):
        @classmethod
        def now(cls, tz: Any = None) -> FarFuture:  # type: ignore[override]
            return cls(2099, 1, 1, tzinfo=tz)

        @classmethod
        def utcnow(cls) -> FarFuture:  # type: ignore[override]
            return cls(2099, 1, 1)

    monkeypatch.setattr(dt, "datetime", FarFuture)
    monkeypatch.setitem(os.environ, "TZ", "Asia/Tokyo")
    time.tzset()
    try:
        with pytest.raises(CircuitOpenError) as info:
            ok(b)  # still open: only the monotonic clock counts
        assert 29.0 < (info.value.retry_after or 0.0) <= 30.0
        monkeypatch.setattr(time, "time", lambda: real_time() - 10 * 86400.0)  # and back
        with pytest.raises(CircuitOpenError):
            ok(b)
    finally:
        monkeypatch.delitem(os.environ, "TZ")
        time.tzset()


def test_fallback_answers_rejected_calls_with_the_same_arguments() -> None:
    b = make(FakeClock(), consecutive_failures=1, fallback=lambda q: f"cached:{q}")

    @b
    def search(q: str) -> str:
        raise Boom()

    with pytest.raises(Boom):
        search("a")
    assert search("b") == "cached:b"
    assert b.call(search.__wrapped__, "c") == "cached:c"
    assert b.snapshot().calls["rejected"] == 2


def test_async_fallback_may_be_a_coroutine_function() -> None:
    async def cached(q: str) -> str:
        return f"cached:{q}"

    b = make(FakeClock(), fallback=cached, state="forced_open")

    @b
    async def search(q: str) -> str:
        return q

    assert asyncio.run(search("x")) == "cached:x"


def test_a_sync_function_returning_a_coroutine_counts_the_coroutines_outcome() -> None:
    async def down() -> None:
        raise Boom()

    b = make(FakeClock(), consecutive_failures=1)
    guarded = b(lambda: down())  # a plain def whose result is awaited later

    with pytest.raises(Boom):
        asyncio.run(guarded())
    assert b.snapshot().calls["failure"] == 1
    assert b.state == "open"


def test_acall_runs_a_plain_function_and_counts_its_success() -> None:
    b = make(FakeClock())
    assert asyncio.run(b.acall(lambda x: x + 1, 41)) == 42
    calls = b.snapshot().calls
    assert (calls["success"], calls["failure"]) == (1, 0)


@pytest.mark.parametrize(("threshold", "failures", "calls"), [(0.55, 55, 100), (0.28, 7, 25)])
def test_a_failure_rate_exactly_at_the_threshold_trips(
    threshold: float, failures: int, calls: int
) -> None:
    b = make(
        FakeClock(),
        failure_rate_threshold=threshold,
        minimum_calls=calls,
        consecutive_failures=1000,
    )
    for _ in range(calls - failures):
        ok(b)
    for _ in range(failures):
        fail(b)
    assert b.state == "open"


def test_a_slow_call_rate_exactly_at_the_threshold_trips() -> None:
    clock = FakeClock()
    b = make(clock, slow_call_rate_threshold=0.28, slow_call_duration=1.0, minimum_calls=25)

    def slow() -> None:
        clock.advance(1.0)

    for _ in range(18):
        ok(b)
    for _ in range(7):  # 7 / 25 is 0.28, but 0.28 * 25 is 7.000000000000001
        b.call(slow)
    assert b.state == "open"


def test_call_with_a_generator_function_counts_the_streams_failure() -> None:
    b = make(FakeClock(), consecutive_failures=1)

    def stream() -> Iterator[int]:
        raise Boom()
        yield 1  # pragma: no cover - makes this a generator function

    with pytest.raises(Boom):
        list(b.call(stream))
    assert b.snapshot().calls["failure"] == 1
    assert b.state == "open"
