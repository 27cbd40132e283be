"""ragsight.instrumentation: hooks on resilience decisions, set and restored explicitly."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

import ragsight
from ragsight import instrumentation as ins
from ragsight.resilience_testing import FakeClock

PAIRS = [
    (ins.set_on_retry_scheduled_hooks, ins.get_on_retry_scheduled_hooks),
    (ins.set_on_retry_gave_up_hooks, ins.get_on_retry_gave_up_hooks),
    (ins.set_on_retry_succeeded_hooks, ins.get_on_retry_succeeded_hooks),
    (ins.set_on_budget_exhausted_hooks, ins.get_on_budget_exhausted_hooks),
    (ins.set_on_breaker_transition_hooks, ins.get_on_breaker_transition_hooks),
    (ins.set_on_breaker_rejection_hooks, ins.get_on_breaker_rejection_hooks),
]
IDS = [setter.__name__ for setter, _ in PAIRS]


@pytest.fixture(autouse=True)
def restore_defaults() -> Iterator[None]:
    yield
    for setter, _ in PAIRS:
        setter(None)


def _flaky(failures: int) -> Any:
    left = [failures]

    def fn() -> str:
        if left[0]:
            left[0] -= 1
            raise ConnectionError("down")
        return "ok"

    return fn


@pytest.mark.parametrize(("setter", "getter"), PAIRS, ids=IDS)
def test_every_event_has_ragsight_telemetry_as_its_default_hook(setter: Any, getter: Any) -> None:
    defaults = getter()
    assert defaults
    assert all(hook.__module__ == "ragsight._resilience.telemetry" for hook in defaults)


@pytest.mark.parametrize(("setter", "getter"), PAIRS, ids=IDS)
def test_set_replaces_empty_silences_and_none_restores(setter: Any, getter: Any) -> None:
    defaults = getter()

    def mine(*_: Any) -> None:
        return None

    setter([mine])
    assert getter() == (mine,)
    setter(())
    assert getter() == ()
    setter(None)
    assert getter() == defaults


@pytest.mark.parametrize(("setter", "getter"), PAIRS, ids=IDS)
def test_a_non_callable_hook_is_refused_and_nothing_is_replaced(setter: Any, getter: Any) -> None:
    before = getter()
    with pytest.raises(TypeError):
        setter([print, "not a hook"])
    assert getter() == before


def test_retry_hooks_hear_each_scheduled_retry_and_the_success() -> None:
    scheduled: list[ins.RetryScheduled] = []
    succeeded: list[ins.RetrySucceeded] = []
    ins.set_on_retry_scheduled_hooks([scheduled.append])
    ins.set_on_retry_succeeded_hooks([succeeded.append])
    policy = ragsight.RetryPolicy(name="hooked", clock=FakeClock(), budget=False)
    assert policy.call(_flaky(2)) == "ok"
    assert [(e.name, e.attempt) for e in scheduled] == [("hooked", 1), ("hooked", 2)]
    assert succeeded == [ins.RetrySucceeded("hooked", 3)]


def test_the_gave_up_hook_hears_why_a_retry_stopped() -> None:
    gave_up: list[ins.RetryGaveUp] = []
    ins.set_on_retry_gave_up_hooks([gave_up.append])
    policy = ragsight.RetryPolicy(name="hooked-stop", attempts=2, clock=FakeClock(), budget=False)
    with pytest.raises(ConnectionError):
        policy.call(_flaky(5))
    (event,) = gave_up
    assert (event.name, event.attempts, event.stop_reason) == (
        "hooked-stop",
        2,
        "attempts_exhausted",
    )
    assert event.error_type == "ConnectionError"


def test_the_budget_exhausted_hook_hears_a_refused_retry() -> None:
    exhausted: list[ins.BudgetExhausted] = []
    ins.set_on_budget_exhausted_hooks([exhausted.append])
    clock = FakeClock()
    budget = ragsight.RetryBudget("hooked-budget", ratio=0.0, min_per_second=0.0, clock=clock)
    policy = ragsight.RetryPolicy(name="hooked-budget", clock=clock, budget=budget)
    with pytest.raises(ConnectionError):
        policy.call(_flaky(5))
    assert exhausted == [ins.BudgetExhausted("hooked-budget", 1)]


def test_breaker_hooks_hear_transitions_and_rejections() -> None:
    transitions: list[tuple[Any, ins.StateChange]] = []
    rejections: list[tuple[Any, ins.Rejection]] = []
    ins.set_on_breaker_transition_hooks([lambda b, c: transitions.append((b, c))])
    ins.set_on_breaker_rejection_hooks([lambda b, r: rejections.append((b, r))])
    breaker = ragsight.CircuitBreaker("hooked-breaker", consecutive_failures=1, clock=FakeClock())
    with pytest.raises(ConnectionError):
        breaker.call(_flaky(1))
    with pytest.raises(ragsight.CircuitOpenError):
        breaker.call(_flaky(0))
    assert [(b, c.to_state) for b, c in transitions] == [(breaker, "open")]
    assert [(b, r.name) for b, r in rejections] == [(breaker, "hooked-breaker")]


def test_a_hook_that_raises_is_contained_and_the_other_hooks_still_run() -> None:
    heard: list[ins.RetryScheduled] = []

    def broken(event: ins.RetryScheduled) -> None:
        raise RuntimeError("hook bug")

    ins.set_on_retry_scheduled_hooks([broken, heard.append])
    policy = ragsight.RetryPolicy(name="hooked-broken", clock=FakeClock(), budget=False)
    assert policy.call(_flaky(1)) == "ok"
    assert len(heard) == 1


def test_a_breaker_hook_that_raises_does_not_break_the_call() -> None:
    def broken(*_: Any) -> None:
        raise RuntimeError("hook bug")

    ins.set_on_breaker_transition_hooks([broken])
    breaker = ragsight.CircuitBreaker("hooked-broken-cb", consecutive_failures=1, clock=FakeClock())
    with pytest.raises(ConnectionError):
        breaker.call(_flaky(1))
    assert breaker.state == "open"


def test_importing_the_telemetry_module_attaches_no_hooks() -> None:
    # in a fresh process: reloading the module must not put its hooks back
    code = (
        "import importlib; import ragsight.instrumentation as i; "
        "from ragsight._resilience import telemetry; "
        "i.set_on_retry_scheduled_hooks(()); i.set_on_breaker_transition_hooks(()); "
        "importlib.reload(telemetry); "
        "print(len(i.get_on_retry_scheduled_hooks()), len(i.get_on_breaker_transition_hooks()))"
    )
    assert _run(code) == "0 0"


def test_import_ragsight_installs_the_telemetry_hooks_on_purpose() -> None:
    code = (
        "import ragsight.instrumentation as i; "
        "print([h.__name__ for h in i.get_on_retry_gave_up_hooks()])"
    )
    assert _run(code) == "['on_retry_gave_up']"


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()
