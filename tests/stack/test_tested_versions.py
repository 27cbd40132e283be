"""The binaries the stack tier runs report the releases compose.yaml pins.

tests/unit/stack/test_version_parity.py checks compose.yaml against
collector/stack-versions.tsv; this checks the built binaries against the same table.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from stackservers import VERSIONS

# How each binary reports its version.
VERSION_ARGS = {
    "prometheus": ["--version"],
    "promtool": ["--version"],
    "alertmanager": ["--version"],
    "amtool": ["--version"],
    "jaeger": ["version"],
    "victoria-logs": ["-version"],
}


def reported_version(binary: Path) -> str:
    done = subprocess.run(
        [str(binary), *VERSION_ARGS[binary.name]], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


@pytest.mark.parametrize(
    ("server", "binary"),
    [(name, Path(pkg).name) for name, row in VERSIONS.items() for pkg in row.packages],
)
def test_each_tested_binary_reports_the_pinned_release(
    servers: dict[str, Path], server: str, binary: str
) -> None:
    output = reported_version(servers[server] / binary)
    release = VERSIONS[server].release
    assert f"version {release} " in output or f"v{release}" in output, output
