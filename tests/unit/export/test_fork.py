"""A process forked after configure() (gunicorn pre-fork, multiprocessing with fork) exports
its own telemetry through its own worker, and nothing of its parent's twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

_APP = textwrap.dedent(
    """
    import os, sys
    import ragsight
    from opentelemetry import trace

    ragsight.configure(file_sink_directory=sys.argv[1], batch_schedule_delay=60)
    tracer = trace.get_tracer("fork-test")
    with tracer.start_as_current_span("queued-before-fork"):
        pass
    pid = os.fork()
    if pid == 0:
        with tracer.start_as_current_span("in-child"):
            pass
        ragsight.shutdown()
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    with tracer.start_as_current_span("in-parent"):
        pass
    ragsight.shutdown()
    sys.exit(os.waitstatus_to_exitcode(status))
    """
)


def _span_names(directory: Path) -> Counter[str]:
    names: Counter[str] = Counter()
    for path in directory.glob("traces*.jsonl"):
        for line in path.read_text().splitlines():
            for resource in json.loads(line)["resourceSpans"]:
                for scope in resource["scopeSpans"]:
                    names.update(span["name"] for span in scope["spans"])
    return names


def test_a_forked_child_exports_its_spans_and_none_of_its_parents_twice(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAGSIGHT_"))}
    result = subprocess.run(
        [sys.executable, "-c", _APP, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert _span_names(tmp_path) == {"queued-before-fork": 1, "in-child": 1, "in-parent": 1}
