"""The wheel carries the stack files, and ``ragsight stack`` finds them when installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from stackgen import ROOT

from ragsight._stack.cli import COMPOSE_FILE


@pytest.fixture(scope="module")
def unpacked_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if not Path(uv).exists():
        pytest.skip("uv not found: cannot build the wheel")
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [uv, "build", "--wheel", "-q", "-o", str(out), str(ROOT)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    (wheel,) = out.glob("*.whl")
    target = out / "site"
    zipfile.ZipFile(wheel).extractall(target)
    return target


def test_wheel_contains_every_file_compose_mounts(unpacked_wheel: Path) -> None:
    stack = unpacked_wheel / "ragsight" / "_stack"
    for rel in (
        COMPOSE_FILE,
        Path("collector/otelcol-config.yaml"),
        Path("collector/prometheus/prometheus.yml"),
        Path("collector/prometheus/rules/ragsight.rules.yaml"),
        Path("collector/alertmanager/alertmanager.yml"),
        Path("grafana/provisioning/datasources/ragsight.yaml"),
        Path("grafana/provisioning/dashboards/ragsight.yaml"),
        Path("grafana/dashboards/ragsight-overview.json"),
        Path("grafana/dashboards/ragsight-resilience.json"),
    ):
        assert (stack / rel).is_file(), rel


def test_installed_cli_finds_the_packaged_stack(unpacked_wheel: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(unpacked_wheel)}
    env.pop("RAGSIGHT_STACK_DIR", None)
    done = subprocess.run(
        [sys.executable, "-c", "from ragsight.cli import main; main(['stack', 'path'])"],
        capture_output=True, text=True, check=False, env=env, cwd=unpacked_wheel,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == unpacked_wheel / "ragsight" / "_stack"
