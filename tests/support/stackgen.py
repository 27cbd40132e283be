"""The bundled stack's generator and the repository root the stack files live under."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from ragsight._stack import generator

ROOT = Path(__file__).resolve().parents[2]


def load_generator() -> ModuleType:
    """The generator module (kept as a function so callers read as before)."""
    return generator
