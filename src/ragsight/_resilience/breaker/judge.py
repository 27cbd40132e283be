"""How a breaker counts an outcome: which exceptions are failures, which results are bad."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ragsight._core import safety as _safety
from ragsight._resilience import classify as _classify

Classifier = Callable[[BaseException], _classify.Verdict]


class OutcomeJudge:
    """The breaker's classification options, applied to one outcome at a time.

    A user ``classifier`` decides first; then ``ignore_exceptions``, then
    ``record_exceptions`` (anything else is ignored), else the default classification.
    A user callable that raises (``classifier``, or ``ignore_exceptions``/
    ``record_exceptions`` given as predicates) is contained: it is counted as an internal
    error, the next rule (in the end the default classification) decides, and the caller
    still sees its own exception.
    """

    __slots__ = ("_classifier", "_ignore", "_record", "honor_retry_after", "record_result")

    def __init__(
        self,
        record_exceptions: _classify.ExceptionTypes | Callable[[BaseException], bool],
        ignore_exceptions: _classify.ExceptionTypes | Callable[[BaseException], bool],
        record_result: Callable[[Any], bool] | None,
        classifier: Classifier | None,
        honor_retry_after: bool,
    ) -> None:
        self._record = _classify.matcher(record_exceptions)
        self._ignore = _classify.matcher(ignore_exceptions)
        self.record_result = record_result
        self._classifier = classifier
        self.honor_retry_after = honor_retry_after

    def verdict(self, exc: BaseException) -> _classify.Verdict | None:
        """None means "cancelled": a BaseException that is not an Exception never counts."""
        if not isinstance(exc, Exception):
            return None
        if self._classifier is not None:
            try:
                return self._classifier(exc)
            except Exception as err:  # user hook; fall back to the default
                _safety.report_internal_error("resilience.breaker.classifier", err)
        if self._ignore is not None and _matches(self._ignore, exc, "ignore_exceptions"):
            return "ignore"
        if self._record is not None:
            recorded = _matches(self._record, exc, "record_exceptions")
            if recorded is not None:
                return "failure" if recorded else "ignore"
        return _classify.breaker_verdict(exc)

    def bad_result(self, result: Any) -> bool:
        """``record_result`` judged ``result`` a failure (a raising predicate: not bad)."""
        pred = self.record_result
        if pred is None:
            return False
        try:
            return bool(pred(result))
        except Exception as err:  # user hook
            _safety.report_internal_error("resilience.breaker.record_result", err)
            return False

    def retry_after(self, exc: BaseException) -> float | None:
        """The server's Retry-After hint carried by ``exc``, when the breaker honours it."""
        return _classify.retry_after(exc) if self.honor_retry_after else None


def _matches(
    predicate: Callable[[BaseException], bool], exc: Exception, option: str
) -> bool | None:
    """``predicate(exc)``; None (reported as an internal error) when the predicate raises."""
    try:
        return bool(predicate(exc))
    except Exception as err:  # user hook
        _safety.report_internal_error(f"resilience.breaker.{option}", err)
        return None


class BadResult(Exception):
    """Stands in for a result that ``record_result`` judged a failure."""

    def __init__(self, result: Any) -> None:
        super().__init__("result judged a failure by record_result")
        self.result = result
