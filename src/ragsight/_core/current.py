"""The stage call running in the current context (what ``current_stage()`` hands out)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ragsight._core.engine import StageCall

CURRENT: ContextVar[StageCall | None] = ContextVar("ragsight_current_stage", default=None)
