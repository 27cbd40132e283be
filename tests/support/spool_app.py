"""A service under steady load for the outage-spool stack test, run as its own process.

    python tests/support/spool_app.py --control <file> [--interval SECONDS]

Configured like a user's service, from the environment only (OTEL_EXPORTER_OTLP_ENDPOINT,
OTEL_SERVICE_NAME, RAGSIGHT_SPOOL_*...). Every ``--interval`` it runs one retrieval stage
inside a pipeline stage (two spans, their metric points). It counts the spans the SDK
ended with its own span processor, independently of ragsight's export counting.

After each request it writes ``<control>.status``: iterations, spans ended, ragsight's
dropped counts, the spool counters and the items still waiting in the spool. When the
control file says ``{"mode": "stop"}`` it calls ``ragsight.shutdown()`` and writes the final
status to ``<control>.result``.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

import ragsight


class EndedSpans(SpanProcessor):
    """A span processor counting sampled spans the SDK ended (what the app produced)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is not None and span.context.trace_flags.sampled:
            with self._lock:
                self.count += 1


def _pending() -> dict[str, int]:
    from ragsight._export.setup import active_providers

    providers = active_providers()
    if providers is None:
        return {}
    return {
        call.signal: call.store.items_pending()
        for call in providers.plan.calls
        if hasattr(call, "store")
    }


def _status(iterations: int, ended: EndedSpans) -> dict[str, Any]:
    from ragsight._export.health import HEALTH

    return {
        "iterations": iterations,
        "spans_ended": ended.count,
        "dropped": ragsight.dropped_counts(),
        "spool": HEALTH.spool_counts(),
        "pending": _pending(),
    }


def _write(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--control", type=Path, required=True)
    parser.add_argument("--interval", type=float, default=0.02)
    args = parser.parse_args()
    status_path = args.control.with_suffix(".status")

    ragsight.configure()
    from opentelemetry import trace

    ended = EndedSpans()
    trace.get_tracer_provider().add_span_processor(ended)  # type: ignore[attr-defined]

    iterations = 0
    while True:
        try:
            mode = json.loads(args.control.read_text()).get("mode", "run")
        except (OSError, ValueError):
            mode = "run"
        if mode == "stop":
            break
        with (
            ragsight.stage("pipeline", "answer"),
            ragsight.stage("retrieval", "kb_search", top_k=3) as s,
        ):
            s.set_result([{"id": "a"}, {"id": "b"}, {"id": "c"}])
        iterations += 1
        _write(status_path, _status(iterations, ended))
        time.sleep(args.interval)

    ragsight.shutdown()
    _write(args.control.with_suffix(".result"), _status(iterations, ended))
    return 0


if __name__ == "__main__":
    sys.exit(main())
