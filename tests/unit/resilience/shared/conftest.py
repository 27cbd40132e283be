"""Replicas on an in-memory fleet (tests/support/memory_fleet.py), a fleet per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from memory_fleet import Fleet


@pytest.fixture
def fleet(request: pytest.FixtureRequest) -> Iterator[Fleet]:
    f = Fleet(request.node.name)  # a name per test: the mode gauge reads every live store
    yield f
    for r in f.replicas:
        r.store.close()
