"""Resilience errors survive pickling and copying (process pools, task queues)."""

from __future__ import annotations

import copy
import pickle

from ragsight import CircuitOpenError, RetryError


def test_circuit_open_error_round_trips_through_pickle() -> None:
    error = CircuitOpenError("vector-store", "open", 12.5, "httpx.ConnectError")
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.name, clone.state, clone.retry_after, clone.last_failure_type) == (
        "vector-store",
        "open",
        12.5,
        "httpx.ConnectError",
    )
    assert str(clone) == str(error)


def test_retry_error_round_trips_through_pickle_and_copy() -> None:
    error = RetryError("llm", 3, "attempts_exhausted", {"answer": ""})
    for clone in (pickle.loads(pickle.dumps(error)), copy.copy(error)):
        assert (clone.name, clone.attempts, clone.stop_reason, clone.last_result) == (
            "llm",
            3,
            "attempts_exhausted",
            {"answer": ""},
        )
        assert str(clone) == str(error)
