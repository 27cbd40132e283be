"""``record_evaluation``: a judged score as the spec's event and as an alertable metric.

The GenAI conventions define the ``gen_ai.evaluation.result`` event (parented to the span
being evaluated) but no metric; without one nobody can alert on quality. ragsight emits
both: the event on the current span, and ``rag.evaluation.score`` keyed by evaluation name
and (low-cardinality) label.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from opentelemetry import trace
from opentelemetry.util.types import AttributeValue

from ragsight import names
from ragsight._core import content as _content
from ragsight._core import runtime as _runtime
from ragsight._core.safety import report_internal_error


def record_evaluation(
    name: str,
    score: float,
    *,
    label: str | None = None,
    explanation: str | None = None,
    response_id: str | None = None,
) -> None:
    """Record one evaluation result, e.g. ``record_evaluation("relevance", 0.82, label="pass")``.

    ``score`` is expected in 0..1 (the histogram's buckets); ``label`` must have low
    cardinality (pass/fail, relevant/not_relevant) because it is a metric label;
    ``explanation`` goes on the event only, redacted. Invalid input is reported through
    ragsight's internal-error count, never raised: telemetry must not break the app.
    """
    try:
        _record(name, score, label, explanation, response_id)
    except Exception as exc:
        report_internal_error("evaluation", exc)


_MAX_SERIES = 64  # distinct (name, label) pairs before they are folded into "_OTHER"
_series: dict[tuple[str, str | None], dict[str, AttributeValue]] = {}
_series_lock = threading.Lock()


def _metric_attributes(name: str, label: str | None) -> dict[str, AttributeValue]:
    """The histogram's attributes, with a cap: a label fed free text (a judge's verdict
    sentence) must cost one series, not one per distinct string. The event keeps it."""
    found = _series.get((name, label))
    if found is not None:
        return found
    with _series_lock:
        if len(_series) >= _MAX_SERIES:
            other = _series.get((name, names.VALUE_OTHER))
            if other is not None:
                return other
            if any(n == name for n, _ in _series):
                label = names.VALUE_OTHER  # a known evaluation, a new label
            else:
                name, label = names.VALUE_OTHER, names.VALUE_OTHER
        attributes: dict[str, AttributeValue] = {names.GEN_AI_EVALUATION_NAME: name}
        if label is not None:
            attributes[names.GEN_AI_EVALUATION_SCORE_LABEL] = label
        return _series.setdefault((name, label), attributes)


def _record(
    name: str, score: Any, label: str | None, explanation: str | None, response_id: str | None
) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"evaluation name must be a non-empty string, got {name!r}")
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        raise TypeError(f"evaluation score must be a number, got {score!r}")
    value = float(score)
    if not math.isfinite(value):
        raise ValueError(f"evaluation score must be finite, got {score!r}")
    event: dict[str, AttributeValue] = {
        names.GEN_AI_EVALUATION_NAME: name,
        names.GEN_AI_EVALUATION_SCORE_VALUE: value,
    }
    if label is not None:
        event[names.GEN_AI_EVALUATION_SCORE_LABEL] = label
    metric = _metric_attributes(name, label)
    if explanation is not None:
        event[names.GEN_AI_EVALUATION_EXPLANATION] = _content.redact_text(
            explanation, _content.effective_policy()
        )
    if response_id is not None:
        event[names.GEN_AI_RESPONSE_ID] = response_id
    rt = _runtime.get()
    if rt is None:
        return
    span = trace.get_current_span()
    if span.is_recording():
        span.add_event(names.EVENT_GEN_AI_EVALUATION_RESULT, event)
    if rt.instruments is not None:
        rt.instruments.record_evaluation(value, metric)
