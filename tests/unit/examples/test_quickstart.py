"""examples/quickstart.py runs as documented and leaves telemetry ragsight summary reads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def run_quickstart(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAGSIGHT_"))}
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_quickstart_answers_from_the_matching_document(tmp_path: Path) -> None:
    done = run_quickstart(tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "Which plans include SSO? -> SSO is included" in lines[0]
    assert "How are refunds issued? -> Refunds are issued" in lines[1]


def test_quickstart_telemetry_is_summarised_with_its_cache_hits(tmp_path: Path) -> None:
    assert run_quickstart(tmp_path).returncode == 0
    summary = subprocess.run(
        [sys.executable, "-m", "ragsight.cli", "summary", str(tmp_path / "ragsight-telemetry")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    rows = [[cell.strip() for cell in line.split("│")] for line in summary.splitlines()]
    cache_row = next(row for row in rows if row[0] == "answers")
    assert cache_row[1:4] == ["2", "2", "0"]  # hits, misses, errors
    pipeline_row = next(row for row in rows if row[0].startswith("pipeline /"))
    assert pipeline_row[1] == "4"  # calls
