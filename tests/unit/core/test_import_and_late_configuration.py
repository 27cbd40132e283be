"""Run in fresh interpreters: global provider state and sys.modules must be pristine."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_import_and_decoration_do_not_load_the_sdk():
    out = run(
        """
        import sys
        import ragsight

        @ragsight.retrieval(data_source="kb")
        def search(q):
            return [{"score": 0.5}]

        @ragsight.pipeline("p")
        async def handle(q):
            return search(q)

        search("q")
        import asyncio
        asyncio.run(handle("q"))
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry.sdk")))
        """
    )
    assert out.strip() == "[]"


def test_importtime_shows_no_sdk_import():
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import ragsight"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    imported = [line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines()]
    assert "ragsight" in imported
    assert not [m for m in imported if m.startswith("opentelemetry.sdk")]


def test_decorated_before_configuration_emits_once_a_provider_is_set():
    out = run(
        """
        import ragsight
        from ragsight._core import runtime as _runtime

        @ragsight.instrument
        def step():
            return 1

        assert _runtime.get() is None
        assert step() == 1  # nothing configured: a plain call

        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        exporter = InMemorySpanExporter()
        tp = TracerProvider()
        tp.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(tp)
        reader = InMemoryMetricReader()
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))

        assert step() == 1
        print([s.name for s in exporter.get_finished_spans()])
        data = reader.get_metrics_data()
        names = [m.name for rm in data.resource_metrics for sm in rm.scope_metrics
                 for m in sm.metrics]
        print("rag.operation.duration" in names)
        """
    )
    assert out.split("\n")[:2] == ["['step']", "True"]
