"""RetryConfig: one set of limits for retries, budgets and the ``retry.*`` configuration keys,
and defaults that bind late for every setting a policy or budget was not given."""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from limit_values import accepted, refused

import ragsight
from ragsight._config.keys import BY_NAME
from ragsight._config.validation import load_settings
from ragsight._core import policy as _policy
from ragsight._core.limits import Limit
from ragsight._core.policy import JITTER_KINDS, RETRY_LIMITS, RetryConfig
from ragsight.resilience_testing import FakeClock

RETRY_KEYS = [f.name for f in dataclasses.fields(RetryConfig)]


def _cases(pick: Callable[[Limit], list[Any]]) -> Iterator[Any]:
    for key in RETRY_KEYS:
        for value in pick(RETRY_LIMITS[key]):
            yield pytest.param(key, value, id=f"{key}={value!r}")


def _validation_accepts(key: str, value: Any, tmp_path: Path) -> bool:
    try:
        load_settings(environ={}, cwd=tmp_path, **{f"retry_{key}": value})
    except ragsight.ConfigError:
        return False
    return True


def _retry_accepts(key: str, value: Any) -> bool:
    """The component that owns ``key`` accepts ``value`` (every way of passing it)."""
    try:
        if key.startswith("budget_"):
            ragsight.RetryBudget("limits", **{key.removeprefix("budget_"): value})
        else:
            ragsight.RetryPolicy(name="limits", **{key: value})
            ragsight.retry(name="limits", **{key: value})
    except ValueError:
        return False
    return True


def test_every_retry_setting_is_a_configuration_key() -> None:
    assert set(RETRY_LIMITS) == set(RETRY_KEYS)


@pytest.mark.parametrize(("key", "value"), list(_cases(accepted)))
def test_a_boundary_value_validation_accepts_the_retry_accepts(
    key: str, value: Any, tmp_path: Path
) -> None:
    assert _validation_accepts(key, value, tmp_path)
    assert _retry_accepts(key, value)


@pytest.mark.parametrize(("key", "value"), list(_cases(refused)))
def test_a_value_just_outside_is_refused_by_validation_and_by_the_retry(
    key: str, value: Any, tmp_path: Path
) -> None:
    assert not _validation_accepts(key, value, tmp_path)
    assert not _retry_accepts(key, value)


@pytest.mark.parametrize("key", RETRY_KEYS)
def test_the_allowed_text_of_a_key_is_the_limit_the_retry_checks(key: str) -> None:
    assert BY_NAME[f"retry.{key}"].allowed == RETRY_LIMITS[key].describe()


@pytest.mark.parametrize("jitter", JITTER_KINDS)
def test_every_documented_jitter_mode_is_accepted_by_configuration_and_retry(
    jitter: str, tmp_path: Path
) -> None:
    settings = load_settings(environ={"RAGSIGHT_RETRY_JITTER": jitter}, cwd=tmp_path)
    assert settings.retry.jitter == jitter
    assert ragsight.RetryPolicy(jitter=jitter).backoff.kind == jitter  # type: ignore[arg-type]


def test_configured_jitter_none_is_refused_instead_of_breaking_every_policy(
    tmp_path: Path,
) -> None:
    with pytest.raises(ragsight.ConfigError):
        load_settings(environ={"RAGSIGHT_RETRY_JITTER": "none"}, cwd=tmp_path)


def test_every_configurable_jitter_mode_builds_a_policy(tmp_path: Path) -> None:
    for jitter in RETRY_LIMITS["jitter"].choices:
        settings = load_settings(environ={}, cwd=tmp_path, retry_jitter=jitter)
        with _defaults(settings.retry):
            assert ragsight.RetryPolicy().backoff.kind == jitter


def test_a_base_delay_above_max_delay_is_valid_and_every_delay_is_max_delay(
    tmp_path: Path,
) -> None:
    load_settings(environ={}, cwd=tmp_path, retry_base_delay=5.0, retry_max_delay=1.0)
    for jitter in JITTER_KINDS:
        clock = FakeClock()
        policy = ragsight.RetryPolicy(
            attempts=3,
            jitter=jitter,  # type: ignore[arg-type]
            base_delay=5.0,
            max_delay=1.0,
            clock=clock,
            budget=False,
            rng=random.Random(3),
        )
        with pytest.raises(ConnectionError):
            policy.call(_always_fails)
        assert len(clock.sleeps) == 2
        assert all(0.0 <= s <= 1.0 for s in clock.sleeps), jitter


@pytest.mark.parametrize("seconds", [0.0, -1.0, math.nan, math.inf])
def test_a_request_deadline_obeys_the_deadline_limit(seconds: float) -> None:
    with pytest.raises(ValueError), ragsight.deadline(seconds):
        pass


# ------------------------------------------------------------------ defaults bind late --
class _defaults:
    """Installs retry defaults as configure() does; restores the previous ones after."""

    def __init__(self, retry: RetryConfig) -> None:
        self._retry = retry

    def __enter__(self) -> None:
        self._before = _policy.get_resilience_defaults()
        _policy.set_resilience_defaults(dataclasses.replace(self._before, retry=self._retry))

    def __exit__(self, *exc: object) -> None:
        _policy.set_resilience_defaults(self._before)


# a value unlike the built-in default for every setting
CONFIGURED = RetryConfig(
    attempts=7,
    deadline=11.0,
    base_delay=0.25,
    max_delay=4.0,
    jitter="constant",
    budget_ratio=0.5,
    budget_min_per_second=3.0,
    max_retry_after=9.0,
)
POLICY_KEYS = [k for k in RETRY_KEYS if not k.startswith("budget_")]
BUDGET_KEYS = [k for k in RETRY_KEYS if k.startswith("budget_")]


def test_the_configured_values_differ_from_the_built_in_defaults() -> None:
    for key in RETRY_KEYS:
        assert getattr(CONFIGURED, key) != getattr(RetryConfig(), key), key


def _configure_through_settings(tmp_path: Path) -> RetryConfig:
    arguments = {f"retry_{k}": getattr(CONFIGURED, k) for k in RETRY_KEYS}
    return load_settings(environ={}, cwd=tmp_path, **arguments).retry


@pytest.mark.parametrize("key", POLICY_KEYS)
def test_a_policy_created_before_configure_follows_every_configured_default(
    key: str, tmp_path: Path
) -> None:
    made_early = [ragsight.RetryPolicy(), ragsight.retry(), ragsight.retry(name="x")]
    with _defaults(_configure_through_settings(tmp_path)):
        for policy in made_early:
            assert getattr(policy.config, key) == getattr(CONFIGURED, key)
    for policy in made_early:
        assert getattr(policy.config, key) == getattr(_policy.get_resilience_defaults().retry, key)


@pytest.mark.parametrize("key", POLICY_KEYS)
def test_a_setting_given_explicitly_stays_fixed_through_configure(key: str, tmp_path: Path) -> None:
    given = getattr(RetryConfig(), key)
    policy = ragsight.RetryPolicy(**{key: given})
    with _defaults(_configure_through_settings(tmp_path)):
        assert getattr(policy.config, key) == given


def test_a_decorated_function_made_before_configure_retries_as_configured() -> None:
    calls: list[int] = []
    clock = FakeClock()

    @ragsight.retry(name="late-decorated", clock=clock, budget=False)
    def fetch() -> None:
        calls.append(1)
        raise ConnectionError("down")

    with _defaults(CONFIGURED), pytest.raises(ConnectionError):
        fetch()
    assert len(calls) == CONFIGURED.attempts
    assert clock.sleeps == [CONFIGURED.base_delay] * (CONFIGURED.attempts - 1)  # constant


def test_the_backoff_follows_the_configured_schedule_unless_given() -> None:
    from ragsight._resilience.backoff import Backoff

    fixed = Backoff("exponential", 1.0, 2.0)
    late, early = ragsight.RetryPolicy(), ragsight.RetryPolicy(backoff=fixed)
    with _defaults(CONFIGURED):
        assert (late.backoff.kind, late.backoff.base, late.backoff.cap) == ("constant", 0.25, 4.0)
        assert early.backoff is fixed


@pytest.mark.parametrize("key", BUDGET_KEYS)
def test_a_budget_created_before_configure_follows_the_configured_default(key: str) -> None:
    attribute = key.removeprefix("budget_")
    budget = ragsight.RetryBudget("late-budget")
    fixed = ragsight.RetryBudget("fixed-budget", **{attribute: 0.0})
    with _defaults(CONFIGURED):
        assert getattr(budget, attribute) == getattr(CONFIGURED, key)
        assert getattr(fixed, attribute) == 0.0
    assert getattr(budget, attribute) == getattr(RetryConfig(), key)


def test_a_budget_grants_what_the_configured_floor_allows() -> None:
    clock = FakeClock()
    budget = ragsight.RetryBudget("late-floor", clock=clock, ttl=10.0)
    with _defaults(dataclasses.replace(CONFIGURED, budget_ratio=0.0)):
        granted = sum(budget.try_spend() for _ in range(100))
    assert granted == int(CONFIGURED.budget_min_per_second * 10)


def _always_fails() -> None:
    raise ConnectionError("down")
