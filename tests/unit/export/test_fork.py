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

from ragsight import names

_INSTANCE = names.SERVICE_INSTANCE_ID
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


def _spans(directory: Path) -> list[tuple[str, str]]:
    """(span name, service.instance.id) of every span in the directory's trace files."""
    out = []
    for path in directory.glob("traces*.jsonl"):
        for line in path.read_text().splitlines():
            for resource in json.loads(line)["resourceSpans"]:
                attrs = resource["resource"]["attributes"]
                (instance,) = [a["value"]["stringValue"] for a in attrs if a["key"] == _INSTANCE]
                for scope in resource["scopeSpans"]:
                    out += [(span["name"], instance) for span in scope["spans"]]
    return out


def _run(directory: Path) -> list[tuple[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAGSIGHT_"))}
    result = subprocess.run(
        [sys.executable, "-c", _APP, str(directory)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return _spans(directory)


def test_a_forked_child_exports_its_spans_and_none_of_its_parents_twice(tmp_path: Path) -> None:
    counted = Counter(name for name, _ in _run(tmp_path))
    assert counted == {"queued-before-fork": 1, "in-child": 1, "in-parent": 1}


def test_a_forked_child_reports_as_its_own_instance(tmp_path: Path) -> None:
    instance = dict(_run(tmp_path))
    assert instance["in-child"] != instance["in-parent"]
    assert instance["queued-before-fork"] == instance["in-parent"]
