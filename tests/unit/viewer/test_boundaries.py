"""The viewer reads files: it imports only ragsight.names (and itself), and nothing of it
(nor rich) is imported by `import ragsight`."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import ragsight

VIEWER = Path(ragsight.__file__).parent / "_viewer"


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            if node.module == "ragsight":
                found.update(f"ragsight.{alias.name}" for alias in node.names)
    return found


def test_the_viewer_imports_only_names_from_the_rest_of_ragsight() -> None:
    for path in sorted(VIEWER.glob("*.py")):
        ours = {m for m in _imported_modules(path) if m.split(".")[0] == "ragsight"}
        foreign = {m for m in ours if m not in ("ragsight", "ragsight.names")}
        foreign = {m for m in foreign if not m.startswith("ragsight._viewer")}
        assert foreign == set(), path.name


def test_import_ragsight_loads_neither_the_viewer_nor_rich() -> None:
    code = (
        "import sys, ragsight; "
        "print(sorted(m for m in sys.modules if m.startswith(('rich', 'ragsight._viewer'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
