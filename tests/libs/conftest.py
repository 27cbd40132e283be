"""The real-library tier: objects the libraries themselves produced (pyproject extra ``libs``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import ragsight.testing


@pytest.fixture
def telemetry() -> Iterator[ragsight.testing.Telemetry]:
    with ragsight.testing.capture_telemetry() as captured:
        yield captured
