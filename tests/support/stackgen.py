"""Access to scripts/generate_stack.py (the bundled stack's generator) and the stack files.

The generator lives in scripts/ because users run it from a checkout; tests load it by
path so that there is one implementation for both.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def load_generator() -> ModuleType:
    """The generate_stack module (loaded once per process)."""
    name = "ragsight_generate_stack"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "generate_stack.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
