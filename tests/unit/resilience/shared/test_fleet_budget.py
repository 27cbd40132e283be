"""A retry budget shared through the same store: retries are checked against every fresh
replica's calls and retries with one floor for the fleet, and against the replica's own
window alone whenever the store is in local mode."""

from __future__ import annotations

from memory_fleet import Fleet

# ratio 0.1, 0.1 retries/s over a 10 s TTL: a floor of one retry


def test_the_floor_is_one_for_the_whole_fleet(fleet: Fleet) -> None:
    first, second = fleet.replica("a"), fleet.replica("b")
    assert first.budget.try_spend()
    fleet.exchange()
    second.store.exchange()  # now holds first's retry
    assert not second.budget.try_spend()


def test_calls_on_other_replicas_earn_retries_for_this_one(fleet: Fleet) -> None:
    busy, idle = fleet.replica("busy"), fleet.replica("idle")
    for _ in range(100):
        busy.budget.record(fleet.clock.monotonic(), "success_first_attempt")
    fleet.exchange()
    granted = sum(idle.budget.try_spend() for _ in range(20))
    assert granted == 11  # 0.1 x 100 fleet calls + the floor of 1


def test_a_failed_exchange_returns_the_budget_to_the_replica_alone(fleet: Fleet) -> None:
    first, second = fleet.replica("a"), fleet.replica("b")
    assert first.budget.try_spend()
    fleet.exchange()
    fleet.server.down = ConnectionError("refused")
    second.store.exchange()
    assert second.budget.try_spend()  # its own floor: no fleet view to honour


def test_a_view_older_than_stale_after_is_not_honoured(fleet: Fleet) -> None:
    first, second = fleet.replica("a"), fleet.replica("b")
    assert first.budget.try_spend()
    fleet.exchange()
    fleet.clock.advance(2.1)  # no exchange since: Redis hangs, say
    assert second.budget.try_spend()


def test_the_fleet_view_resumes_after_an_outage(fleet: Fleet) -> None:
    first, second = fleet.replica("a"), fleet.replica("b")
    fleet.server.down = ConnectionError("refused")
    fleet.exchange()
    fleet.server.down = None
    assert first.budget.try_spend()
    fleet.exchange()
    assert second.store.mode == "shared"
    assert not second.budget.try_spend()


def test_remaining_is_what_the_fleet_still_allows_in_shared_mode(fleet: Fleet) -> None:
    # the resilience.retry.budget.remaining gauge reads it: it must agree with try_spend
    first, second = fleet.replica("a"), fleet.replica("b")
    assert first.budget.try_spend()
    fleet.exchange()
    second.store.exchange()
    assert second.budget.remaining() == 0.0
    assert not second.budget.try_spend()


def test_remaining_is_the_replicas_own_in_local_mode(fleet: Fleet) -> None:
    first, second = fleet.replica("a"), fleet.replica("b")
    assert first.budget.try_spend()
    fleet.exchange()
    fleet.server.down = ConnectionError("refused")
    second.store.exchange()
    assert second.budget.remaining() == 1.0  # its own floor
