"""pytest plugin (entry point ``ragsight``): the ``ragsight_telemetry`` fixture."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ragsight.testing import Telemetry


@pytest.fixture
def ragsight_telemetry() -> Iterator[Telemetry]:
    """Everything ragsight emits during the test, captured in memory (see ragsight.testing)."""
    from ragsight.testing import capture_telemetry  # the SDK loads only when used

    with capture_telemetry() as telemetry:
        yield telemetry
