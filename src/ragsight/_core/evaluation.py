"""``record_evaluation``: a judged score as the spec's event and as an alertable metric.

The GenAI conventions define the ``gen_ai.evaluation.result`` event, parented to the span of
the operation being evaluated, but no metric; without one nobody can alert on quality.
ragsight emits both: the event through the Logs API (:mod:`ragsight._core.events`, mirrored
as a span event unless ``events.span_events=off``) and ``rag.evaluation.score`` keyed by
evaluation name and (low-cardinality) label.
"""

from __future__ import annotations

import math
import threading
from typing import Any, Protocol, SupportsFloat

from opentelemetry import trace
from opentelemetry.trace import Span, SpanContext
from opentelemetry.util.types import AttributeValue

from ragsight import names
from ragsight._core import content as _content
from ragsight._core import events as _events
from ragsight._core import runtime as _runtime
from ragsight._core.current import CURRENT
from ragsight._core.safety import report_internal_error


class HasSpan(Protocol):
    """A stage handle (``ragsight.current_stage()``, ``with ragsight.stage(...) as s``)."""

    @property
    def span(self) -> Span: ...


class HasSpanContext(Protocol):
    """A finished span's record (the SDK's ``ReadableSpan``, as an exporter or
    ``SpanProcessor.on_end`` hands it to a background judge)."""

    def get_span_context(self) -> SpanContext | None: ...


def record_evaluation(
    name: str,
    score: SupportsFloat | None,
    *,
    label: str | None = None,
    explanation: str | None = None,
    response_id: str | None = None,
    judged: HasSpan | Span | SpanContext | HasSpanContext | None = None,
    error_type: str | None = None,
) -> None:
    """Record one evaluation result, e.g. ``record_evaluation("relevance", 0.82, label="pass")``.

    ``score`` is expected in 0..1 (the histogram's buckets), of any number type (numpy
    scalars included); ``label`` must have low cardinality (pass/fail,
    relevant/not_relevant) because it is a metric label; ``explanation`` goes on the event
    only, redacted and bounded (``content.max_length``). ``error_type`` says the
    evaluation itself failed (the judge timed out): ``score`` may then be ``None``, and a
    score given anyway goes on the event only, since
    a failed judgement in ``rag.evaluation.score`` would read as a quality drop. A
    label-only evaluation (``score=None, label="not_toxic"``) is an event without a score
    and no metric sample; with neither score, label nor error type there is nothing to
    record.

    ``judged`` is what was evaluated: a stage handle (``ragsight.current_stage()``, a
    ``ragsight.stage(...)`` block), an OpenTelemetry span, a finished span's record (the
    SDK's ``ReadableSpan``, from an exporter or ``SpanProcessor.on_end``), or a
    ``SpanContext`` (for a span that ended long ago, e.g. one kept from
    ``span.get_span_context()``). The event is
    parented to it (its trace and span ids). Without ``judged``:

    1. inside a ragsight stage, the innermost stage being run is judged;
    2. otherwise, the ragsight inference (generation) or pipeline span of the current
       trace that ended most recently in this thread or task, else anywhere in that trace
       (with no span current: in this thread or task only), so
       ``answer = pipeline(q); record_evaluation(...)`` judges that pipeline call, also
       when other pipelines of the same request run concurrently;
    3. otherwise the event has no parent; pass ``response_id`` to correlate it.

    ``gen_ai.response.id`` is taken from the judged span when it recorded one and
    ``response_id`` is not given. Invalid input is reported through ragsight's
    internal-error count, never raised: telemetry must not break the app.
    """
    try:
        _record(name, score, label, explanation, response_id, judged, error_type)
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
    name: str,
    score: Any,
    label: str | None,
    explanation: str | None,
    response_id: str | None,
    judged: Any,
    error_type: str | None,
) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"evaluation name must be a non-empty string, got {name!r}")
    value: float | None = None
    if score is not None:
        if isinstance(score, bool) or not isinstance(score, SupportsFloat):
            raise TypeError(f"evaluation score must be a number or None, got {score!r}")
        value = float(score)
        if not math.isfinite(value):
            raise ValueError(f"evaluation score must be finite, got {score!r}")
    elif label is None and error_type is None:
        raise ValueError("an evaluation needs a score, a label or an error_type")
    target, mirror_to, known_id = _judged(judged)
    event: dict[str, AttributeValue] = {names.GEN_AI_EVALUATION_NAME: name}
    if value is not None:
        event[names.GEN_AI_EVALUATION_SCORE_VALUE] = value
    if label is not None:
        event[names.GEN_AI_EVALUATION_SCORE_LABEL] = label
    if explanation is not None:
        policy = _content.effective_policy()  # redacted, then bounded like exception messages
        event[names.GEN_AI_EVALUATION_EXPLANATION] = _content.bound(
            _content.redact_text(explanation, policy), policy.max_length
        )
    if response_id is None:
        response_id = known_id
    if response_id is not None:
        event[names.GEN_AI_RESPONSE_ID] = response_id
    if error_type is not None:
        event[names.ERROR_TYPE] = error_type
    rt = _runtime.get()
    if rt is None:
        return
    _events.emit(
        names.EVENT_GEN_AI_EVALUATION_RESULT,
        event,
        parent=target,
        mirror_to=mirror_to,
        severity=_events.INFO,
    )
    if rt.instruments is not None and value is not None and error_type is None:
        rt.instruments.record_evaluation(value, _metric_attributes(name, label))


def _judged(judged: Any) -> tuple[SpanContext | None, Span | None, str | None]:
    """(the judged span's context, the span itself when known, its response id)."""
    if judged is None:
        stage = CURRENT.get()
        if stage is not None:
            judged = stage.span
        else:
            current = trace.get_current_span()
            context = current.get_span_context()
            found = _events.last_ended(context.trace_id if context.is_valid else None)
            if found is None:
                return None, None, None
            return found[0], None, found[1]
    if isinstance(judged, SpanContext):
        return (judged if judged.is_valid else None), None, None
    span = judged if isinstance(judged, Span) else getattr(judged, "span", None)
    if isinstance(span, Span):
        context = span.get_span_context()
        record: Any = span
    else:  # a finished span's record: its context, nothing to mirror on
        get_context = getattr(judged, "get_span_context", None)
        found = get_context() if callable(get_context) else None
        if not isinstance(found, SpanContext):
            raise TypeError(
                "judged must be a stage handle, an OpenTelemetry span (or a finished "
                f"span's record) or a SpanContext, got {type(judged).__name__}"
            )
        span, record, context = None, judged, found
    attributes = getattr(record, "attributes", None)  # SDK spans expose what they recorded
    found_id = attributes.get(names.GEN_AI_RESPONSE_ID) if attributes is not None else None
    return (
        (context if context.is_valid else None),
        span,
        found_id if isinstance(found_id, str) else None,
    )
