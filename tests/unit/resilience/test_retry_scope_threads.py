"""The nested-retry scope crosses threads as it crosses tasks; dependency names are stable."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import ragsight
from ragsight.resilience_testing import no_wait
from ragsight.testing import capture_telemetry


class Unavailable(Exception):
    status_code = 503


def inner_and_calls() -> tuple[Any, list[int]]:
    calls: list[int] = []

    @ragsight.retry(attempts=3, budget=False, name="scope-inner")
    def inner() -> None:
        calls.append(1)
        raise Unavailable()

    return inner, calls


def run_in_pool(fn: Any) -> None:
    with ThreadPoolExecutor(2) as pool:
        pool.submit(fn).result()


def run_in_thread(fn: Any) -> None:
    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]


def run_to_thread(fn: Any) -> None:
    async def main() -> None:
        await asyncio.to_thread(fn)

    asyncio.run(main())


@pytest.mark.parametrize("runner", [run_in_pool, run_in_thread, run_to_thread])
def test_a_retry_inside_a_retry_does_not_multiply_in_another_thread(runner: Any) -> None:
    inner, calls = inner_and_calls()

    @ragsight.retry(attempts=3, budget=False, name="scope-outer")
    def outer() -> None:
        runner(inner)

    with no_wait(), pytest.raises(Unavailable):
        outer()
    assert len(calls) == 3  # the outer scope's three attempts, not 3 x 3


def test_a_thread_pool_outside_any_retry_scope_retries_normally() -> None:
    inner, calls = inner_and_calls()
    with no_wait(), pytest.raises(Unavailable):
        run_in_pool(inner)
    assert len(calls) == 3


def names_of_retry_calls(t: Any) -> set[str]:
    return {
        str(p.attributes.get("resilience.name")) for p in t.metric_points("resilience.retry.calls")
    }


def test_policy_call_of_lambdas_keys_each_by_its_code_location_never_lambda() -> None:
    policy = ragsight.RetryPolicy(budget=False)
    with capture_telemetry() as t:
        policy.call(lambda: 1)
        policy.call(lambda: 2)
        names = names_of_retry_calls(t)
    assert "<lambda>" not in names
    here = f"{__name__}.test_policy_call_of_lambdas_keys_each_by_its_code_location_never_lambda"
    lambdas = {name for name in names if name.startswith(here)}
    assert len(lambdas) == 2  # one per lambda, each ending with its line
    assert all("<lambda>@" in name for name in lambdas)


def test_an_explicit_name_keys_the_lambda_calls_together() -> None:
    policy = ragsight.RetryPolicy(name="scope-named", budget=False)
    with capture_telemetry() as t:
        policy.call(lambda: 1)
        policy.call(lambda: 2)
        assert t.counter_value("resilience.retry.calls", **{"resilience.name": "scope-named"}) == 2


def test_a_named_function_is_keyed_by_its_qualified_name() -> None:
    def fetch() -> int:
        return 1

    with capture_telemetry() as t:
        ragsight.RetryPolicy(budget=False).call(fetch)
        names = names_of_retry_calls(t)
    assert fetch.__qualname__ in names
