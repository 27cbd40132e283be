"""Imports run downhill: a lower area never imports a higher one.

Order, top to bottom: the public modules at the top of ``ragsight`` (and ``_demo``),
then ``_stack`` and ``_viewer`` (read-only tools), ``_export``, ``_config``, ``_resilience``,
``_core``, and last ``names``/``_version``. Imports under ``TYPE_CHECKING`` count too: a
type seen from below is still coupling.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[3] / "src" / "ragsight"

RANK = {
    "names": 0,
    "_version": 0,
    "_core": 1,
    "_resilience": 2,
    "_config": 3,
    "_export": 4,
    "_stack": 5,
    "_viewer": 5,
}
TOP = 9  # public modules, __init__, __main__, _demo


def _area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _rank(area: str) -> int:
    return RANK.get(area, TOP)


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "ragsight":
                found += [(node.lineno, f"ragsight.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, node.module))
    return [(line, name) for line, name in found if name.split(".")[0] == "ragsight"]


MODULES = sorted(p for p in SRC.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_import_runs_upward(path: Path) -> None:
    rel = path.relative_to(SRC)
    own = rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 else rel.stem
    if own in {"__init__", "__main__"}:
        return  # the package facade re-exports everything
    upward = []
    for line, name in _imports(path):
        target = _area(name)
        if _rank(target) > _rank(own):
            upward.append(f"line {line}: {name}")
    assert upward == [], f"{rel} imports upward: {upward}"


@pytest.mark.parametrize(
    "path", sorted((SRC / "_stack").rglob("*.py")), ids=lambda p: str(p.relative_to(SRC))
)
def test_the_stack_generator_reads_only_the_names_contract(path: Path) -> None:
    # The shipped Collector config, rules and dashboards follow from names.py alone, so
    # the generator runs without the SDK's settings or components and cannot drift from
    # a default they hold.
    own = ("ragsight.names", "ragsight._stack")
    reached = {name for _, name in _imports(path) if not name.startswith(own)}
    assert reached == set(), f"{path.relative_to(SRC)} imports {sorted(reached)}"


def test_the_layer_table_names_every_private_area() -> None:
    areas = {p.name for p in SRC.iterdir() if p.is_dir() and p.name.startswith("_")}
    assert areas - {"__pycache__"} <= set(RANK)
