"""scripts/build-collector explains a missing Go toolchain instead of failing obscurely."""

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
