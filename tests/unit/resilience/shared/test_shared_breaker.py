"""A breaker shared through a store: the fleet's trip opens the other replicas, once per
trip, from fresh reports only; the call path never touches the store."""

from __future__ import annotations

from memory_fleet import Fleet

from ragsight import StateChange


def test_a_fleet_trip_opens_a_closed_replica_with_reason_fleet(fleet: Fleet) -> None:
    seer, other = fleet.replica("a"), fleet.replica("b")
    changes: list[StateChange] = []
    other.breaker.add_listener(changes.append)
    seer.fail(20)
    assert seer.breaker.state == "open"
    fleet.exchange()
    assert other.breaker.state == "open"
    assert [(c.to_state, c.reason) for c in changes] == [("open", "fleet")]


def test_one_bad_replica_among_busy_healthy_ones_does_not_open_them(fleet: Fleet) -> None:
    bad, *healthy = fleet.replica("a"), fleet.replica("b"), fleet.replica("c")
    for r in healthy:
        r.ok(50)
    bad.fail(1000)
    for _ in range(3):
        fleet.exchange()
    assert [r.breaker.state for r in healthy] == ["closed", "closed"]


def test_a_trip_opens_a_replica_once_so_its_own_recovery_holds(fleet: Fleet) -> None:
    seer, other = fleet.replica("a"), fleet.replica("b")
    seer.fail(20)
    fleet.exchange()
    other.breaker.reset()  # as its own half-open probes would close it
    fleet.exchange()  # the same trip is still the fleet's view
    assert other.breaker.state == "closed"


def test_a_new_trip_after_the_fleet_recovered_opens_the_replica_again(fleet: Fleet) -> None:
    seer, other = fleet.replica("a"), fleet.replica("b")
    seer.fail(20)
    fleet.exchange()
    other.breaker.reset()
    seer.breaker.reset()  # the seer recovered: an empty window, no vote, a healthy view
    fleet.exchange()
    assert other.breaker.state == "closed"
    seer.fail(20)  # the dependency fails again: a new trip
    fleet.exchange()
    assert other.breaker.state == "open"


def test_a_report_older_than_stale_after_no_longer_votes(fleet: Fleet) -> None:
    seer, other = fleet.replica("a"), fleet.replica("b")
    seer.fail(20)
    seer.store.exchange()  # the seer reports once, then goes silent (partitioned, dead)
    fleet.clock.advance(2.5)  # past stale_after by the server's clock
    other.store.exchange()
    assert other.breaker.state == "closed"


def test_a_replica_that_joins_a_tripped_fleet_opens(fleet: Fleet) -> None:
    seer = fleet.replica("a")
    seer.fail(20)
    seer.store.exchange()
    late = fleet.replica("late")
    late.store.exchange()
    assert late.breaker.state == "open"


def test_the_call_path_never_touches_the_store(fleet: Fleet) -> None:
    r = fleet.replica("a")
    r.ok(500)
    r.fail(5)
    r.budget.try_spend()
    assert r.backend.round_trips == 0  # only exchanges talk to the server


def test_one_exchange_carries_every_attached_component_in_one_round_trip(
    fleet: Fleet,
) -> None:
    r = fleet.replica("a")  # a breaker and a budget on one store
    r.store.exchange()
    assert r.backend.round_trips == 1
    assert sorted(fleet.server.hashes) == [
        f"ragsight:{{budget:{fleet.name}}}:reports",
        f"ragsight:{{cb:{fleet.name}}}:reports",
    ]
