"""The build scripts explain a missing Go toolchain instead of failing obscurely."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from stackgen import ROOT


def run_without_go(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sed", "head", "cat", "sha256sum", "cut", "mkdir", "date", "bash", "dirname"):
        found = shutil.which(tool)
        assert found is not None, tool
        (bin_dir / tool).symlink_to(found)
    env = {
        "PATH": str(bin_dir),
        "HOME": str(tmp_path),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),  # nothing cached here
    }
    return subprocess.run(
        [str(bin_dir / "bash"), str(ROOT / "scripts" / "build-collector")],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def test_build_collector_without_go_exits_3_with_instructions(tmp_path: Path) -> None:
    done = run_without_go(tmp_path)
    assert done.returncode == 3
    assert "Go is not installed" in done.stderr
    assert "Install Go >= 1.25" in done.stderr
    assert done.stdout == ""


def run_servers_without_go(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tools = ("sed", "head", "cat", "sha256sum", "cut", "mkdir", "date", "bash", "dirname",
             "grep", "awk", "printf", "mktemp", "rm")  # fmt: skip
    for tool in tools:
        found = shutil.which(tool)
        if found is not None:
            (bin_dir / tool).symlink_to(found)
    return subprocess.run(
        [str(bin_dir / "bash"), str(ROOT / "scripts" / "build-stack-servers"), *args],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": str(bin_dir), "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "c")},
    )


def test_build_stack_servers_without_go_exits_3_with_instructions(tmp_path: Path) -> None:
    done = run_servers_without_go(tmp_path)
    assert done.returncode == 3, done.stderr
    assert "Go is not installed" in done.stderr
    assert done.stdout == ""


def test_build_stack_servers_rejects_a_server_without_a_row(tmp_path: Path) -> None:
    done = run_servers_without_go(tmp_path, "grafana")
    assert done.returncode == 2
    assert "unknown server 'grafana'" in done.stderr
