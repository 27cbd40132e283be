"""A forked child (gunicorn pre-fork, multiprocessing with fork) gets its own replica id,
connection and publisher thread: it never reports as its parent or through its socket."""

from __future__ import annotations

import json
import os
import threading

import pytest
from memory_fleet import MemoryFleet

from ragsight import CircuitBreaker, RedisState
from ragsight.resilience_testing import FakeClock

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def in_child(store: RedisState, parent_thread: threading.Thread | None) -> dict[str, object]:
    """Runs in the forked child: what the child's store looks like after it exchanged."""
    backend = store._backend
    assert backend is not None
    rounds = backend.round_trips
    ok = store.exchange()
    thread = store._thread
    return {
        "replica_id": store.replica_id,
        "forked_in": getattr(backend, "forked_in", None),
        "pid": os.getpid(),
        "thread_alive": thread is not None and thread.is_alive(),
        "new_thread": thread is not parent_thread,
        "exchanged": ok and backend.round_trips > rounds,
    }


def fork_and_report(store: RedisState) -> dict[str, object]:
    parent_thread = store._thread
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running pytest's teardown
        code = 0
        try:
            os.close(read_fd)
            with os.fdopen(write_fd, "w") as out:
                out.write(json.dumps(in_child(store, parent_thread)))
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd) as inp:
        data = inp.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return json.loads(data)  # type: ignore[no-any-return]


@pytest.mark.parametrize("explicit", [None, "web-1"])
def test_a_forked_child_reports_as_a_replica_of_its_own(explicit: str | None) -> None:
    server = MemoryFleet(FakeClock())
    store = RedisState(backend=server.backend(), clock=server.clock, replica_id=explicit)
    breaker = CircuitBreaker("forked", shared=store)
    try:
        child = fork_and_report(store)
        assert child["replica_id"] != store.replica_id
        if explicit is not None:
            assert child["replica_id"] == f"web-1:{child['pid']}"
        assert child["forked_in"] == child["pid"]  # the connection was dropped in the child
        assert child["thread_alive"]
        assert child["new_thread"]
        assert child["exchanged"]
        assert breaker.state == "closed"
    finally:
        store.close()
