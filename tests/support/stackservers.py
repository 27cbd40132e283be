"""The stack's servers as the stack tier runs them: built from collector/stack-versions.tsv.

``build_servers()`` runs scripts/build-stack-servers (seconds when cached) and returns where
each server's binaries are; ``VERSIONS`` is the parsed table, the single source of truth
that compose.yaml's image tags and the tested binaries are checked against.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from stackgen import ROOT

TABLE = ROOT / "collector" / "stack-versions.tsv"
BUILD_SCRIPT = ROOT / "scripts" / "build-stack-servers"


@dataclass(frozen=True)
class ServerVersion:
    """One row of stack-versions.tsv."""

    name: str
    release: str
    image: str
    module: str
    module_version: str
    packages: tuple[str, ...]
    tags: str


def read_versions(path: Path = TABLE) -> dict[str, ServerVersion]:
    out = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, release, image, module_at, packages, tags = line.split()
        module, version = module_at.split("@")
        out[name] = ServerVersion(
            name, release, image, module, version, tuple(packages.split(",")), tags
        )
    return out


VERSIONS = read_versions()


class GoMissing(Exception):
    """scripts/build-stack-servers exited 3: no Go toolchain here."""


def build_servers() -> dict[str, Path]:
    """Every server's binary directory (builds what is not cached; raises GoMissing)."""
    done = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, check=False)
    if done.returncode == 3:
        raise GoMissing(done.stderr.strip())
    if done.returncode != 0:
        raise RuntimeError(f"scripts/build-stack-servers failed:\n{done.stderr[-3000:]}")
    dirs = {}
    for line in done.stdout.splitlines():
        name, directory = line.split(maxsplit=1)
        dirs[name] = Path(directory)
    return dirs
