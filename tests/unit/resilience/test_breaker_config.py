"""BreakerConfig: one set of limits for the breaker and its ``breaker.*`` configuration keys,
and defaults that bind late for every setting a breaker was not given."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ragsight
from ragsight._config.validation import load_settings
from ragsight._core import policy as _policy
from ragsight._core.limits import Limit
from ragsight._core.policy import BREAKER_LIMITS, BreakerConfig
from ragsight.resilience_testing import FakeClock

BREAKER_KEYS = [f.name for f in dataclasses.fields(BreakerConfig)]


def _accepted(limit: Limit) -> list[Any]:
    """Values on and just inside the limit's boundaries."""
    low, high = limit.minimum, limit.maximum
    step = 1 if limit.type is int else 1e-9
    values: list[Any] = []
    if low is not None:
        values.append(low + step if limit.exclusive_min else low)
    if high is not None:
        values.append(high)
    if high is None:
        values.append(10**6 if limit.type is int else 1e6)
    return [limit.type(v) for v in values]


def _refused(limit: Limit) -> list[Any]:
    """Values just outside the limit, and the non-finite numbers."""
    low, high = limit.minimum, limit.maximum
    step = 1 if limit.type is int else 1e-9
    values: list[Any] = []
    if low is not None:
        values.append(limit.type(low) if limit.exclusive_min else limit.type(low - step))
    if high is not None:
        values.append(limit.type(high + step))
    values += [math.nan, math.inf, -math.inf]
    if limit.type is int:
        values.append(1.5)
    return values


def _cases(pick: Any) -> Iterator[Any]:
    for key in BREAKER_KEYS:
        for value in pick(BREAKER_LIMITS[key]):
            yield pytest.param(key, value, id=f"{key}={value!r}")


def _validation_accepts(key: str, value: Any, tmp_path: Path) -> bool:
    try:
        load_settings(environ={}, cwd=tmp_path, **{f"breaker_{key}": value})
    except ragsight.ConfigError:
        return False
    return True


def _breaker_accepts(key: str, value: Any) -> bool:
    try:
        ragsight.CircuitBreaker("limits", **{key: value})
    except ValueError:
        return False
    return True


def test_every_breaker_setting_is_a_configuration_key() -> None:
    assert set(BREAKER_LIMITS) == set(BREAKER_KEYS)


@pytest.mark.parametrize(("key", "value"), list(_cases(_accepted)))
def test_a_boundary_value_validation_accepts_the_breaker_accepts(
    key: str, value: Any, tmp_path: Path
) -> None:
    assert _validation_accepts(key, value, tmp_path)
    assert _breaker_accepts(key, value)


@pytest.mark.parametrize(("key", "value"), list(_cases(_refused)))
def test_a_value_just_outside_is_refused_by_validation_and_by_the_breaker(
    key: str, value: Any, tmp_path: Path
) -> None:
    assert not _validation_accepts(key, value, tmp_path)
    assert not _breaker_accepts(key, value)


@pytest.mark.parametrize("key", BREAKER_KEYS)
def test_the_allowed_text_of_a_key_is_the_limit_the_breaker_checks(key: str) -> None:
    from ragsight._config.keys import BY_NAME

    assert BY_NAME[f"breaker.{key}"].allowed == BREAKER_LIMITS[key].describe()


def test_environment_text_is_checked_by_the_same_limit(tmp_path: Path) -> None:
    settings = load_settings(environ={"RAGSIGHT_BREAKER_CONSECUTIVE_FAILURES": "0"}, cwd=tmp_path)
    assert settings.breaker.consecutive_failures == 0
    with pytest.raises(ragsight.ConfigError):
        load_settings(environ={"RAGSIGHT_BREAKER_WINDOW": "nan"}, cwd=tmp_path)


@pytest.fixture
def configured_defaults() -> Iterator[Any]:
    """Installs breaker defaults as configure() does; restores the previous ones after."""
    before = _policy.get_resilience_defaults()

    def install(**breaker: Any) -> None:
        _policy.set_resilience_defaults(
            dataclasses.replace(before, breaker=BreakerConfig(**breaker))
        )

    yield install
    _policy.set_resilience_defaults(before)


def _fail(breaker: ragsight.CircuitBreaker) -> None:
    with contextlib.suppress(RuntimeError, ragsight.CircuitOpenError):
        breaker.call(_raise)


def _raise() -> None:
    raise RuntimeError("down")


def test_zero_consecutive_failures_disables_the_consecutive_rule(configured_defaults: Any) -> None:
    configured_defaults(consecutive_failures=0, minimum_calls=50)
    breaker = ragsight.CircuitBreaker("no-consecutive", clock=FakeClock())
    for _ in range(49):
        _fail(breaker)
    assert breaker.state == "closed"


def test_configured_zero_consecutive_failures_still_lets_breakers_be_created(
    tmp_path: Path,
) -> None:
    code = """
        import json, ragsight
        early = ragsight.CircuitBreaker("early")
        ragsight.configure(exporter="none", breaker_consecutive_failures=0)
        late = ragsight.CircuitBreaker("late")
        print(json.dumps([early.config.consecutive_failures, late.config.consecutive_failures]))
    """
    assert _run(code, tmp_path) == [0, 0]


# a value for every breaker setting that differs from the built-in default
CONFIGURED = {
    "failure_rate_threshold": 0.9,
    "slow_call_rate_threshold": 0.7,
    "slow_call_duration": 12.0,
    "minimum_calls": 7,
    "consecutive_failures": 3,
    "window": 30.0,
    "buckets": 6,
    "open_duration": 4.0,
    "max_open_duration": 40.0,
    "open_jitter": 0.0,
    "half_open_probes": 2,
    "probe_successes_to_close": 3,
    "probe_timeout": 9.0,
}


def test_the_table_of_configured_values_differs_from_the_defaults_in_every_setting() -> None:
    defaults = dataclasses.asdict(BreakerConfig())
    assert set(CONFIGURED) == set(defaults)
    assert all(CONFIGURED[k] != defaults[k] for k in defaults)


def test_a_breaker_created_before_configure_follows_every_configured_default(
    configured_defaults: Any,
) -> None:
    breaker = ragsight.CircuitBreaker("early-bird")
    configured_defaults(**CONFIGURED)
    assert dataclasses.asdict(breaker.config) == CONFIGURED


def test_explicit_arguments_stay_explicit_when_the_defaults_change(
    configured_defaults: Any,
) -> None:
    breaker = ragsight.CircuitBreaker("explicit", failure_rate_threshold=0.25, buckets=3)
    configured_defaults(**CONFIGURED)
    assert breaker.config.failure_rate_threshold == 0.25
    assert breaker.config.buckets == 3
    assert breaker.config.minimum_calls == CONFIGURED["minimum_calls"]


def test_a_breaker_used_before_configure_trips_on_the_configured_threshold(
    configured_defaults: Any,
) -> None:
    clock = FakeClock()
    breaker = ragsight.CircuitBreaker("used-early", clock=clock)
    breaker.call(lambda: None)
    configured_defaults(failure_rate_threshold=0.9, minimum_calls=10, consecutive_failures=0)
    for _ in range(5):  # 5 failures of 10 calls: 0.5 trips the built-in default, not 0.9
        breaker.call(lambda: None)
        _fail(breaker)
    assert breaker.state == "closed"


def test_configure_end_to_end_rebinds_a_breaker_created_at_import(tmp_path: Path) -> None:
    code = """
        import json, ragsight
        early = ragsight.CircuitBreaker("import-time")
        ragsight.configure(exporter="none", breaker_failure_rate_threshold=0.9)
        print(json.dumps(early.config.failure_rate_threshold))
    """
    assert _run(code, tmp_path) == 0.9


def _run(code: str, cwd: Path) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAGSIGHT_"))}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_an_open_duration_above_the_maximum_means_no_backoff_on_both_sides(
    tmp_path: Path,
) -> None:
    settings = load_settings(environ={}, cwd=tmp_path, breaker_open_duration=500.0)
    assert settings.breaker.open_duration == 500.0
    assert ragsight.CircuitBreaker("no-backoff", open_duration=500.0).config.open_duration == 500.0
