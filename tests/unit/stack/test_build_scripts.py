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


def test_install_stack_deps_keeps_apt_noninteractive_through_sudo(tmp_path: Path) -> None:
    """sudo resets the environment, so DEBIAN_FRONTEND must be passed inside the sudo call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tools = ("sed", "head", "cat", "sha256sum", "cut", "mkdir", "date", "bash", "dirname", "env")
    for tool in tools:
        found = shutil.which(tool)
        assert found is not None, tool
        (bin_dir / tool).symlink_to(found)
    log = tmp_path / "calls.log"
    stubs = {
        "id": "echo 1000",  # not root
        # like sudo's env_reset: the command runs without the caller's environment
        "sudo": f'echo "sudo $*" >>{log}; exec {bin_dir}/env -i PATH="$PATH" "$@"',
        "apt-get": f'echo "apt-get $* DEBIAN_FRONTEND=${{DEBIAN_FRONTEND:-}}" >>{log}',
    }
    for name, body in stubs.items():
        stub = bin_dir / name
        stub.write_text(f"#!{bin_dir}/bash\n{body}\n")
        stub.chmod(0o755)
    done = subprocess.run(
        [str(bin_dir / "bash"), str(ROOT / "scripts" / "install-stack-deps")],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": str(bin_dir), "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "c")},
    )
    assert done.returncode == 0, done.stderr
    calls = log.read_text().splitlines()
    assert any(line.startswith("sudo ") and " install " in line for line in calls), calls
    installs = [line for line in calls if line.startswith("apt-get install")]
    assert installs, calls
    assert all(line.endswith("DEBIAN_FRONTEND=noninteractive") for line in installs), calls
