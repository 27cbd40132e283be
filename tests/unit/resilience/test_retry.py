"""Retry policy behaviour: what is retried, how long it waits, when it stops."""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from ragsight import (
    CircuitBreaker,
    CircuitOpenError,
    RetryBudget,
    RetryError,
    RetryPolicy,
    instrumentation,
    retry,
)
from ragsight._resilience import retry as _retry
from ragsight.instrumentation import RetryGaveUp, RetryScheduled
from ragsight.resilience_testing import FakeClock


class Transient(ConnectionError):
    pass


class Fatal(Exception):
    pass


class HTTPError(Exception):
    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status_code = status
        self.headers = headers or {}


@pytest.fixture
def events() -> Iterator[dict[str, list[Any]]]:
    from ragsight._resilience import hooks as _hooks

    seen: dict[str, list[Any]] = {"scheduled": [], "gave_up": [], "nested": []}
    instrumentation.set_on_retry_scheduled_hooks([seen["scheduled"].append])
    instrumentation.set_on_retry_gave_up_hooks([seen["gave_up"].append])
    # nested runs are not a public hook: they are a span event of the outer scope
    _hooks.retry_nested.set([lambda event: seen["nested"].append(event.name)])
    yield seen
    instrumentation.set_on_retry_scheduled_hooks(None)
    instrumentation.set_on_retry_gave_up_hooks(None)
    _hooks.retry_nested.set(None)


def flaky(failures: list[BaseException], result: Any = "ok") -> tuple[Any, list[int]]:
    calls: list[int] = []

    def fn(*_: Any) -> Any:
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return result

    return fn, calls


def policy(clock: FakeClock, **kw: Any) -> RetryPolicy:
    kw.setdefault("rng", random.Random(7))
    kw.setdefault("budget", False)
    return RetryPolicy(name=kw.pop("name", "dep"), clock=clock, **kw)


# ------------------------------------------------------------------------- basics --
def test_transient_errors_are_retried_until_success() -> None:
    clock = FakeClock()
    fn, calls = flaky([Transient(), Transient()])
    assert policy(clock, attempts=3).call(fn) == "ok"
    assert len(calls) == 3
    assert len(clock.sleeps) == 2


def test_non_retryable_errors_are_raised_after_one_attempt(events: dict[str, list[Any]]) -> None:
    fn, calls = flaky([Fatal()])
    with pytest.raises(Fatal):
        policy(FakeClock()).call(fn)
    assert len(calls) == 1
    assert [g.stop_reason for g in events["gave_up"]] == ["non_retryable"]


def test_exhausted_attempts_reraise_the_last_exception_unchanged(
    events: dict[str, list[Any]],
) -> None:
    last = Transient("third")
    fn, _ = flaky([Transient(), Transient(), last])
    with pytest.raises(Transient) as info:
        policy(FakeClock(), attempts=3).call(fn)
    assert info.value is last
    gave_up: RetryGaveUp = events["gave_up"][0]
    assert (gave_up.stop_reason, gave_up.attempts) == ("attempts_exhausted", 3)


def test_on_accepts_types_and_predicates() -> None:
    fn, calls = flaky([Fatal(), Fatal()])
    assert policy(FakeClock(), on=Fatal).call(fn) == "ok"
    fn, calls = flaky([Fatal()])
    assert policy(FakeClock(), on=lambda e: "Fatal" in repr(e)).call(fn) == "ok"
    assert len(calls) == 2


def test_decorator_bare_and_configured_and_on_methods() -> None:
    clock = FakeClock()

    class Client:
        def __init__(self) -> None:
            self.failures = [Transient()]

        @retry(clock=clock, budget=False)
        def get(self, x: int) -> int:
            """Docs."""
            if self.failures:
                raise self.failures.pop()
            return x

    assert Client().get(5) == 5
    assert Client.get.__doc__ == "Docs."

    @retry
    def plain() -> int:
        return 1

    assert plain() == 1


def test_retry_on_result_gives_up_with_retry_error() -> None:
    p = policy(FakeClock(), attempts=3, retry_on_result=lambda r: r is None)
    fn, calls = flaky([], result=None)
    with pytest.raises(RetryError) as info:
        p.call(fn)
    assert (info.value.attempts, info.value.stop_reason, len(calls)) == (3, "attempts_exhausted", 3)


# ------------------------------------------------------------------------- cancellation --
def test_cancellation_is_never_retried_even_by_a_retry_everything_predicate() -> None:
    class X(Exception):
        pass

    attempts: list[int] = []
    seen: list[BaseException] = []

    @retry(on=lambda e: not isinstance(e, X), attempts=5, budget=False)
    async def slow_call() -> None:
        attempts.append(1)
        try:
            await asyncio.Event().wait()
        except BaseException as exc:
            seen.append(exc)
            raise

    async def scenario() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(slow_call(), 0.005)

    asyncio.run(scenario())
    assert len(attempts) == 1
    assert isinstance(seen[0], asyncio.CancelledError)


def test_cancellation_interrupts_a_backoff_sleep() -> None:
    attempts: list[int] = []
    failed = asyncio.Event

    async def scenario() -> None:
        first_failure = failed()

        @retry(attempts=5, base_delay=1000.0, jitter="constant", deadline=5000.0, budget=False)
        async def call() -> None:
            attempts.append(1)
            first_failure.set()
            raise Transient()

        task = asyncio.create_task(call())
        await first_failure.wait()
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert attempts == [1]


# ------------------------------------------------------------------------- per-call state --
def test_one_policy_shared_by_100_tasks_keeps_independent_counters() -> None:
    clock = FakeClock()
    shared = policy(clock, attempts=4)

    async def task(i: int) -> int:
        count = 0

        async def call() -> int:
            nonlocal count
            count += 1
            await asyncio.sleep(0)
            if count <= i % 3:
                raise Transient()
            return count

        return await shared.acall(call)

    async def scenario() -> list[int]:
        return await asyncio.gather(*(task(i) for i in range(100)))

    results = asyncio.run(scenario())
    assert results == [i % 3 + 1 for i in range(100)]


# ------------------------------------------------------------------------- server hints --
def test_retry_after_longer_than_the_deadline_gives_up_at_once(
    events: dict[str, list[Any]],
) -> None:
    clock = FakeClock()
    fn, calls = flaky([HTTPError(429, {"Retry-After": "120"})])
    with pytest.raises(HTTPError):
        policy(clock, deadline=60.0).call(fn)
    assert len(calls) == 1
    assert clock.sleeps == []
    assert events["gave_up"][0].stop_reason == "retry_after_exceeds_deadline"


def test_retry_after_hint_is_used_as_the_delay(events: dict[str, list[Any]]) -> None:
    clock = FakeClock()
    fn, _ = flaky([HTTPError(503, {"retry-after-ms": "3000"})])
    policy(clock, backoff=_backoff(0.1)).call(fn)
    assert clock.sleeps == [3.0]
    scheduled: RetryScheduled = events["scheduled"][0]
    assert (scheduled.delay_source, scheduled.reason) == ("retry_after", "throttled")


def test_throttling_without_a_hint_waits_at_least_the_floor() -> None:
    clock = FakeClock()
    fn, _ = flaky([HTTPError(429)])
    policy(clock, backoff=_backoff(0.01), throttle_floor=1.0).call(fn)
    assert clock.sleeps[0] >= 1.0


def test_x_should_retry_false_is_respected() -> None:
    fn, calls = flaky([HTTPError(503, {"x-should-retry": "false"})])
    with pytest.raises(HTTPError):
        policy(FakeClock()).call(fn)
    assert len(calls) == 1


def _backoff(base: float) -> Any:
    from ragsight._resilience.backoff import Backoff

    return Backoff("full", base, 20.0)


# ------------------------------------------------------------------------- stop conditions --
def test_a_sleep_that_would_end_past_the_deadline_is_never_started(
    events: dict[str, list[Any]],
) -> None:
    from ragsight._resilience.backoff import Backoff

    clock = FakeClock()
    fn, _ = flaky([Transient(), Transient(), Transient()])
    p = policy(clock, attempts=10, deadline=25.0, backoff=Backoff("constant", 10.0, 10.0))
    with pytest.raises(Transient):
        p.call(fn)
    assert clock.sleeps == [10.0, 10.0]
    assert events["gave_up"][0].stop_reason == "deadline"


def test_retry_budget_caps_retries_across_calls(events: dict[str, list[Any]]) -> None:
    clock = FakeClock()
    budget = RetryBudget("tight", ratio=0.0, min_per_second=0.1, ttl=10.0, clock=clock)
    p = policy(clock, budget=budget, attempts=3)
    fn, calls = flaky([Transient()] * 10)
    with pytest.raises(Transient):
        p.call(fn)
    assert len(calls) == 2  # one retry allowed (0.1/s x 10 s), then the budget is empty
    assert events["gave_up"][0].stop_reason == "budget_exhausted"
    assert budget.exhausted == 1


def test_non_idempotent_calls_retry_only_when_nothing_was_processed(
    events: dict[str, list[Any]],
) -> None:
    class ConnectError(Exception):
        pass

    p = policy(FakeClock(), idempotent=False, on=lambda e: True)
    fn, calls = flaky([ConnectError(), HTTPError(429)])
    assert p.call(fn) == "ok"
    assert len(calls) == 3
    fn, calls = flaky([HTTPError(500)])
    with pytest.raises(HTTPError):
        p.call(fn)
    assert len(calls) == 1
    assert events["gave_up"][-1].stop_reason == "not_idempotent"


def test_waiting_for_the_probe_is_an_option_bounded_by_the_wait_fitting(
    events: dict[str, list[Any]],
) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(
        "cb-in-retry", clock=clock, consecutive_failures=1, open_duration=5.0, open_jitter=0.0
    )
    calls: list[int] = []

    def fn() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise Transient()
        return "recovered"

    p = policy(clock, attempts=3, on=Transient, wait_for_probe=True)
    assert p.call(breaker.call, fn) == "recovered"  # the 5 s open period fits: wait, probe
    assert sum(clock.sleeps) == pytest.approx(5.0)
    breaker.force_state("forced_open")
    with pytest.raises(CircuitOpenError):
        p.call(breaker.call, fn)
    assert events["gave_up"][-1].stop_reason == "circuit_open"


# ------------------------------------------------------------------------- nesting --
def test_nested_retries_do_not_multiply(events: dict[str, list[Any]]) -> None:
    clock = FakeClock()
    calls: list[int] = []

    @policy(clock, attempts=3, name="inner")
    def inner() -> None:
        calls.append(1)
        raise Transient()

    @policy(clock, attempts=3, name="outer")
    def outer() -> None:
        inner()

    with pytest.raises(Transient):
        outer()
    assert len(calls) == 3
    assert events["nested"] == ["inner"] * 3


def test_nested_multiply_opt_out_multiplies() -> None:
    clock = FakeClock()
    calls: list[int] = []

    @policy(clock, attempts=3, name="inner-m", nested="multiply")
    def inner() -> None:
        calls.append(1)
        raise Transient()

    @policy(clock, attempts=3, name="outer-m")
    def outer() -> None:
        inner()

    with pytest.raises(Transient):
        outer()
    assert len(calls) == 9


def test_retry_scope_ends_with_the_call() -> None:
    clock = FakeClock()
    calls: list[int] = []

    @policy(clock, attempts=3)
    def first() -> None:
        return None

    @policy(clock, attempts=3)
    def second() -> None:
        calls.append(1)
        raise Transient()

    first()
    with pytest.raises(Transient):
        second()
    assert len(calls) == 3


# ------------------------------------------------------------------------- streams --
def test_a_stream_that_fails_after_its_first_chunk_is_not_retried(
    events: dict[str, list[Any]],
) -> None:
    opened: list[int] = []

    @policy(FakeClock(), attempts=3)
    def stream() -> Iterator[str]:
        opened.append(1)
        yield "chunk-1"
        raise Transient()

    got: list[str] = []
    with pytest.raises(Transient):
        got.extend(stream())
    assert (got, len(opened)) == (["chunk-1"], 1)
    assert events["gave_up"][0].stop_reason == "stream_started"


def test_a_stream_that_fails_before_its_first_chunk_is_retried() -> None:
    opened: list[int] = []

    @policy(FakeClock(), attempts=3)
    def stream() -> Iterator[str]:
        opened.append(1)
        if len(opened) < 3:
            raise Transient()
        yield from ("a", "b")

    assert list(stream()) == ["a", "b"]
    assert len(opened) == 3


def test_the_retry_scope_does_not_leak_into_a_stream_consumer() -> None:
    clock = FakeClock()
    inner_calls: list[int] = []

    @policy(clock, attempts=3, name="consumer-inner")
    def inner() -> None:
        inner_calls.append(1)
        raise Transient()

    @policy(clock, attempts=3, name="producer")
    def stream() -> Iterator[int]:
        yield 1

    for _ in stream():
        with pytest.raises(Transient):
            inner()
    assert len(inner_calls) == 3


def test_async_stream_is_retried_before_but_not_after_its_first_chunk() -> None:
    opened: list[int] = []

    @policy(FakeClock(), attempts=3)
    async def stream() -> AsyncIterator[str]:
        opened.append(1)
        if len(opened) == 1:
            raise Transient()
        yield "x"
        raise Transient()

    async def consume() -> list[str]:
        got: list[str] = []

        async def drain() -> None:
            async for item in stream():
                got.append(item)

        with pytest.raises(Transient):
            await drain()
        return got

    assert asyncio.run(consume()) == ["x"]
    assert len(opened) == 2


# ------------------------------------------------------------------------- seed signature --
def test_seed_signature_is_expressible() -> None:
    clock = FakeClock()
    p = RetryPolicy.from_seed(
        max_retries=3,
        base_delay=1.0,
        max_delay=60.0,
        exponential_factor=3.0,
        jitter="exponential",
        clock=clock,
        budget=False,
    )
    fn, _ = flaky([Transient()] * 3)
    assert p.call(fn) == "ok"
    assert (p.attempts, clock.sleeps) == (4, [1.0, 3.0, 9.0])

    clock2 = FakeClock()
    fn2, _ = flaky([Transient()] * 2)
    seeded = retry(
        max_retries=2,
        base_delay=0.5,
        max_delay=1.0,
        exponential_factor=2.0,
        jitter="exponential",
        clock=clock2,
        budget=False,
    )
    decorated = seeded(fn2)
    assert decorated() == "ok"
    assert clock2.sleeps == [0.5, 1.0]


def test_attempts_and_max_retries_are_exclusive() -> None:
    with pytest.raises(ValueError, match="not both"):
        retry(attempts=3, max_retries=2)


def test_unset_settings_follow_the_defaults_in_force() -> None:
    from ragsight._core import policy as _policy

    before = _policy.get_resilience_defaults()
    p = RetryPolicy()
    _policy.set_resilience_defaults(
        _policy.ResilienceDefaults(retry=_policy.RetryDefaults(attempts=5, deadline=9.0))
    )
    try:
        assert (p.attempts, p.deadline) == (5, 9.0)
        assert p.describe()["attempts"] == 5
    finally:
        _policy.set_resilience_defaults(before)
    assert (p.attempts, p.deadline) == (before.retry.attempts, before.retry.deadline)


def test_policies_are_immutable() -> None:
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        RetryPolicy().attempts = 9  # type: ignore[misc]


# ------------------------------------------------------------------------- block form --
def test_a_block_is_retried_with_the_attempts_iterator() -> None:
    clock = FakeClock()
    tries: list[int] = []
    for attempt in policy(clock, attempts=3).retrying():
        with attempt:
            tries.append(attempt.number)
            if attempt.number < 3:
                raise Transient()
    assert tries == [1, 2, 3]
    assert len(clock.sleeps) == 2


def test_the_block_form_gives_up_by_reraising(events: dict[str, list[Any]]) -> None:
    tries: list[int] = []

    def run() -> None:
        for attempt in policy(FakeClock(), attempts=2).retrying():
            with attempt:
                tries.append(attempt.number)
                raise Transient()

    with pytest.raises(Transient):
        run()
    assert tries == [1, 2]
    assert events["gave_up"][0].stop_reason == "attempts_exhausted"


def test_the_async_block_form_retries_and_never_retries_cancellation() -> None:
    async def scenario() -> list[int]:
        tries: list[int] = []
        async for attempt in policy(FakeClock(), attempts=5).retrying():
            with attempt:
                tries.append(attempt.number)
                if attempt.number == 1:
                    raise Transient()
        return tries

    assert asyncio.run(scenario()) == [1, 2]

    async def cancelled() -> list[int]:
        tries: list[int] = []
        async for attempt in policy(FakeClock(), attempts=5).retrying():
            with attempt:
                tries.append(attempt.number)
                raise asyncio.CancelledError()
        return tries

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(cancelled())


# ------------------------------------------------------------------------- request deadline --
def test_a_request_deadline_bounds_every_retry_inside_it(events: dict[str, list[Any]]) -> None:
    from ragsight._resilience.backoff import Backoff
    from ragsight.resilience_testing import fake_clock

    with fake_clock() as clock:
        p = RetryPolicy(
            name="req",
            attempts=10,
            deadline=60.0,
            budget=False,
            backoff=Backoff("constant", 2.0, 2.0),
        )
        fn, calls = flaky([Transient()] * 10)
        with _retry.deadline(5.0), _retry.deadline(30.0), pytest.raises(Transient):
            p.call(fn)
    assert clock.sleeps == [2.0, 2.0]  # the tighter, outer 5 s deadline wins
    assert len(calls) == 3
    assert events["gave_up"][0].stop_reason == "deadline"


def test_timeout_retries_cost_double_budget() -> None:
    clock = FakeClock()
    budget = RetryBudget("timeouts", ratio=0.0, min_per_second=0.2, ttl=10.0, clock=clock)
    fn, calls = flaky([TimeoutError()] * 5)
    with pytest.raises(TimeoutError):
        policy(clock, budget=budget, attempts=5).call(fn)
    assert len(calls) == 2  # allowance 2: one timeout retry spends both


def test_a_sync_function_returning_a_coroutine_is_retried_when_the_coroutine_fails() -> None:
    calls: list[int] = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise Transient()
        return "ok"

    policy = RetryPolicy(attempts=3, clock=FakeClock(), budget=False)
    guarded = policy(lambda: flaky())  # a factory: a plain def whose result is awaited later

    assert asyncio.run(guarded()) == "ok"
    assert len(calls) == 3


def test_default_name_of_partials_and_callable_objects_is_bounded() -> None:
    class Client:
        def __call__(self) -> str:
            return "ok"

    def fetch(doc_id: int) -> int:
        return doc_id

    policy = RetryPolicy(clock=FakeClock())
    names = {_retry.dependency_name(functools.partial(fetch, i)) for i in range(3)}
    names |= {_retry.dependency_name(functools.partial(functools.partial(fetch), 1))}
    assert names == {fetch.__qualname__}  # one budget and one metric series, not one per call
    assert _retry.dependency_name(Client()) == Client.__qualname__
    assert policy.call(functools.partial(fetch, 7)) == 7


def test_a_retrying_block_inside_a_retried_function_does_not_multiply(
    events: dict[str, list[Any]],
) -> None:
    clock = FakeClock()
    calls: list[int] = []
    inner = policy(clock, attempts=3, name="inner")

    @policy(clock, attempts=3, name="outer")
    def outer() -> None:
        for attempt in inner.retrying():
            with attempt:
                calls.append(1)
                raise Transient()

    with pytest.raises(Transient):
        outer()
    assert len(calls) == 3
    assert events["nested"] == ["inner"] * 3


def test_an_async_retrying_block_inside_a_retried_coroutine_does_not_multiply() -> None:
    clock = FakeClock()
    calls: list[int] = []
    inner = policy(clock, attempts=3, name="inner")

    @policy(clock, attempts=3, name="outer")
    async def outer() -> None:
        async for attempt in inner.retrying():
            with attempt:
                calls.append(1)
                raise Transient()

    with pytest.raises(Transient):
        asyncio.run(outer())
    assert len(calls) == 3


def test_acall_retries_a_plain_function() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 2:
            raise Transient()
        return "ok"

    assert asyncio.run(policy(FakeClock(), attempts=3).acall(flaky)) == "ok"
    assert len(calls) == 2


def test_call_with_a_generator_function_retries_before_the_first_item() -> None:
    opened: list[int] = []

    def stream() -> Iterator[str]:
        opened.append(1)
        if len(opened) < 2:
            raise Transient()
        yield "token"

    assert list(policy(FakeClock(), attempts=3).call(stream)) == ["token"]
    assert len(opened) == 2
