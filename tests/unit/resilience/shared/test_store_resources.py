"""What a store holds on to: its publisher thread lives only while a component is
attached, and a missing optional dependency says which extra to install."""

from __future__ import annotations

import gc
import sys

import pytest
from memory_fleet import MemoryFleet

from ragsight import CircuitBreaker, RedisState
from ragsight.resilience_testing import FakeClock


def test_the_publisher_thread_ends_once_every_attached_component_is_gone() -> None:
    backend = MemoryFleet(FakeClock()).backend()
    store = RedisState(backend=backend, replica_id="gone")
    breaker = CircuitBreaker("resources-gone", shared=store)
    assert backend.entered.wait(timeout=30), "the publisher thread never exchanged"
    thread = store._thread
    assert thread is not None
    del breaker
    gc.collect()
    thread.join(timeout=30)  # a bound against a hang only: it ends at its next tick
    try:
        assert not thread.is_alive()
    finally:
        store.close()


def test_a_store_attached_again_after_its_thread_ended_publishes_again() -> None:
    backend = MemoryFleet(FakeClock()).backend()
    store = RedisState(backend=backend, replica_id="again")
    first = CircuitBreaker("resources-again", shared=store)
    assert backend.entered.wait(timeout=30)
    thread = store._thread
    assert thread is not None
    del first
    gc.collect()
    thread.join(timeout=30)
    backend.entered.clear()
    second = CircuitBreaker("resources-again", shared=store)
    try:
        assert backend.entered.wait(timeout=30), "no exchange after the second attach"
        assert second.state == "closed"
    finally:
        store.close()


def test_without_redis_py_attaching_names_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # import redis fails as if not installed
    store = RedisState("redis://127.0.0.1:1/0")
    with pytest.raises(ImportError, match=r"pip install 'ragsight\[redis\]'"):
        CircuitBreaker("resources-no-redis", shared=store)
    store.close()
