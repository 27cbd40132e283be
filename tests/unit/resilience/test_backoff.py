"""Backoff schedules: jitter survives the cap, schedules stay within their bounds."""

from __future__ import annotations

import random

import pytest

from ragsight._resilience.backoff import Backoff, jittered_duration


def test_full_jitter_survives_the_cap_at_attempt_20() -> None:
    rng = random.Random(1)
    backoff = Backoff("full", base=0.5, cap=5.0)
    draws = [backoff.delay(20, 0.0, rng) for _ in range(1000)]
    assert len(set(draws)) >= 100
    assert all(0.0 <= d <= 5.0 for d in draws)


@pytest.mark.parametrize("kind", ["equal", "decorrelated"])
def test_other_jittered_schedules_also_keep_their_spread_at_the_cap(kind: str) -> None:
    rng = random.Random(2)
    backoff = Backoff(kind, base=0.5, cap=5.0)  # type: ignore[arg-type]
    draws = [backoff.delay(20, 5.0, rng) for _ in range(1000)]
    assert len(set(draws)) >= 100
    assert all(0.0 <= d <= 5.0 for d in draws)


def test_exponential_without_jitter_doubles_then_caps() -> None:
    backoff = Backoff("exponential", base=0.5, cap=3.0)
    rng = random.Random(0)
    assert [backoff.delay(n, 0.0, rng) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_huge_attempt_numbers_do_not_overflow() -> None:
    assert Backoff("exponential", base=0.5, cap=3.0).delay(10_000, 0.0, random.Random()) == 3.0


def test_constant_ignores_the_attempt() -> None:
    assert Backoff("constant", base=2.0).delay(7, 0.0, random.Random()) == 2.0


def test_full_jitter_draws_from_zero_to_the_capped_exponential() -> None:
    rng = random.Random(3)
    draws = [Backoff("full", base=1.0, cap=100.0).delay(3, 0.0, rng) for _ in range(2000)]
    assert max(draws) <= 4.0
    assert max(draws) > 3.5  # the whole interval is used


def test_seeded_rngs_give_reproducible_schedules() -> None:
    b = Backoff("full")
    a = [b.delay(n, 0.0, random.Random(9)) for n in range(1, 5)]
    assert a == [b.delay(n, 0.0, random.Random(9)) for n in range(1, 5)]


def test_invalid_backoffs_are_rejected() -> None:
    with pytest.raises(ValueError, match="jitter"):
        Backoff("bogus")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="factor"):
        Backoff("full", factor=0.5)


def test_open_duration_jitter_is_downward_only_and_capped() -> None:
    rng = random.Random(4)
    values = [jittered_duration(30.0, 300.0, 10, 0.2, rng) for _ in range(500)]
    assert all(240.0 <= v <= 300.0 for v in values)
    assert len(set(values)) > 100
    assert jittered_duration(30.0, 300.0, 1, 0.0, rng) == 60.0


@pytest.mark.parametrize("kind", ["full", "equal", "exponential"])
def test_a_zero_cap_means_no_wait_rather_than_an_error(kind: str) -> None:
    backoff = Backoff(kind, base=1.0, cap=0.0)  # type: ignore[arg-type]
    assert [backoff.delay(n, 0.0, random.Random(1)) for n in (1, 2, 30)] == [0.0, 0.0, 0.0]
