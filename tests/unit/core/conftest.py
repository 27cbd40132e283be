"""Private SDK providers per test, routed to ragsight without touching the global ones."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ragsight import names
from ragsight._core import content as _content
from ragsight._core import policy as _policy
from ragsight._core import runtime as _runtime
from ragsight._core import safety as _safety
from ragsight._core import semconv as _semconv


@dataclass
class Otel:
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        found = [s for s in self.spans() if s.name == name]
        assert len(found) == 1, f"expected one span {name!r}, got {[s.name for s in self.spans()]}"
        return found[0]

    def points(self, metric: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        out: list[Any] = []
        if data is None:
            return out
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name == metric:
                        out.extend(m.data.data_points)
        return out


@pytest.fixture
def otel() -> Iterator[Otel]:
    yield from _otel()


@pytest.fixture
def otel_v1_41() -> Iterator[Otel]:
    """Like ``otel``, with the conventions pinned to v1.41.0 before the instruments exist."""
    _semconv.set_mode(names.SEMCONV_V1_41)
    yield from _otel()


def _otel() -> Iterator[Otel]:
    exporter = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    mp = MeterProvider(metric_readers=[reader])
    previous = _runtime.override(tp, mp)
    _safety.reset_internal_errors()
    try:
        yield Otel(tp, mp, exporter, reader)
    finally:
        _runtime.restore(previous)
        _policy.set_content_policy(_policy.DEFAULT_CONTENT_POLICY)
        _content.reset_env_for_tests()
        _semconv.reset_for_tests()
        mp.shutdown()
        tp.shutdown()
