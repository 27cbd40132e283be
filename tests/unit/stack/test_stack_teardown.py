"""The stack tier stops its processes when pytest itself is told to stop (SIGTERM).

A scratch pytest session uses the stack tier's conftest pattern: a session fixture that
runs a long-lived ``Proc`` and the SIGTERM guard. The session is terminated mid-test, as a
CI timeout would, and the process must be gone afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from stackgen import ROOT
from stackprocs import wait_until

CONFTEST = """
import pytest
from pathlib import Path
from stackprocs import Proc, teardown_on_sigterm

HERE = Path(__file__).parent

@pytest.fixture(scope="session", autouse=True)
def _guard():
    with teardown_on_sigterm():
        yield

@pytest.fixture(scope="session")
def sleeper():
    proc = Proc("sleeper", ["sleep", "600"], HERE).start()
    (HERE / "sleeper.pid").write_text(str(proc.popen.pid))
    try:
        yield proc
    finally:
        proc.stop()
"""

TEST = """
import time
from pathlib import Path

def test_runs_until_terminated(sleeper):
    (Path(__file__).parent / "ready").write_text("")
    time.sleep(120)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie left for a non-reaping init counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_sigterm_to_pytest_still_stops_stack_processes(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_scratch.py").write_text(TEST)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests" / "support")}
    session = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: (tmp_path / "ready").exists(), timeout=60, what="scratch test")
        pid = int((tmp_path / "sleeper.pid").read_text())
        assert alive(pid)
        session.send_signal(signal.SIGTERM)
        session.wait(timeout=60)
        wait_until(lambda: not alive(pid), timeout=15, what=f"sleeper {pid} to stop")
    finally:
        if session.poll() is None:
            session.kill()
            session.wait()
        if (tmp_path / "sleeper.pid").exists():
            leftover = int((tmp_path / "sleeper.pid").read_text())
            if alive(leftover):
                os.kill(leftover, signal.SIGKILL)
