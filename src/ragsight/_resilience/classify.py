"""What a failure means: does it count against a dependency, may it be retried, and when.

RAG code talks to httpx, requests, openai, anthropic, qdrant, ... clients; importing them to
inspect their exceptions would make ragsight depend on all of them. Instead the helpers
here duck-type what those exceptions expose: ``status_code``/``status``, a ``response``
carrying ``status_code`` and ``headers``, or ``headers`` directly. The server hints
``retry-after-ms`` (Stainless SDKs), ``retry-after`` (RFC 9110: delta-seconds or an
HTTP-date) and ``x-should-retry`` are read from those headers.
"""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal, cast

from ragsight._core.errortype import error_type as error_type  # the one spelling, re-exported

Verdict = Literal["failure", "success", "ignore"]
ExceptionTypes = type[BaseException] | tuple[type[BaseException], ...]

# Stainless-generated SDKs (openai, anthropic) retry exactly this set; so do we.
RETRYABLE_STATUSES: frozenset[int] = frozenset({408, 409, 429, 500, 502, 503, 504})
THROTTLE_STATUSES: frozenset[int] = frozenset({429, 503})
# Class names of well-known transient errors in clients we do not import.
_TRANSIENT_NAME_PARTS = (
    "Timeout",
    "ConnectError",
    "ConnectionError",
    "APIConnectionError",
    "RemoteProtocolError",
    "ReadError",
    "WriteError",
    "RateLimit",
    "Overloaded",
    "ServiceUnavailable",
    "InternalServerError",
    "TooManyRequests",
)
# Errors that prove the request never reached the server (safe to retry non-idempotent work).
_NOT_SENT_NAME_PARTS = ("ConnectError", "ConnectTimeout", "NewConnectionError")


def _int_or_none(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return None


def http_status(exc: BaseException) -> int | None:
    """The HTTP status an exception carries, if any (``status_code``, ``status``, response)."""
    for attr in ("status_code", "status", "http_status"):
        status = _int_or_none(getattr(exc, attr, None))
        if status is not None:
            return status
    response = getattr(exc, "response", None)
    if response is not None:
        for attr in ("status_code", "status"):
            status = _int_or_none(getattr(response, attr, None))
            if status is not None:
                return status
    return None


def _headers(exc: BaseException) -> Any:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) if response is not None else None
    if headers is None:
        headers = getattr(exc, "headers", None)
    return headers


def header(exc: BaseException, name: str) -> str | None:
    """A response header of ``exc``, case-insensitively, or None."""
    headers = _headers(exc)
    if headers is None:
        return None
    try:
        value = headers.get(name)
        if value is None and isinstance(headers, Mapping):
            lowered = name.lower()
            for key, candidate in headers.items():
                if isinstance(key, str) and key.lower() == lowered:
                    value = candidate
                    break
    except Exception:  # foreign objects; a hint is optional
        return None
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return str(value).strip()


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait, from ``retry-after-ms`` or ``retry-after``.

    An HTTP-date is the one place where the wall clock is legitimately involved: the server
    names an absolute time. Negative or unparsable hints are ignored.
    """
    raw_ms = header(exc, "retry-after-ms")
    if raw_ms:
        try:
            ms = float(raw_ms)
        except ValueError:
            ms = -1.0
        if ms >= 0:
            return ms / 1000.0
    raw = header(exc, "retry-after")
    if not raw:
        hint = getattr(exc, "retry_after", None)
        if isinstance(hint, (int, float)) and not isinstance(hint, bool) and hint >= 0:
            return float(hint)
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000": RFC 5322 says UTC of unknown origin, not local
            when = when.replace(tzinfo=datetime.timezone.utc)
        seconds = when.timestamp() - time.time()
        return max(0.0, seconds)
    return seconds if seconds >= 0 else None


def should_retry_header(exc: BaseException) -> bool | None:
    """The server's explicit ``x-should-retry`` verdict, if it sent one."""
    raw = header(exc, "x-should-retry")
    if raw is None:
        return None
    lowered = raw.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    return None


def _name_matches(exc: BaseException, parts: tuple[str, ...]) -> bool:
    for cls in type(exc).__mro__:
        name = cls.__name__
        if any(part in name for part in parts):
            return True
    return False


def is_transient(exc: BaseException) -> bool:
    """The default retry classifier: connection errors, timeouts, retryable HTTP statuses.

    ``BaseException``s that are not ``Exception`` (cancellation, interrupts) are never
    transient. ``x-should-retry`` overrides the status.
    """
    if not isinstance(exc, Exception):
        return False
    hint = should_retry_header(exc)
    if hint is not None:
        return hint
    status = http_status(exc)
    if status is not None:
        return status in RETRYABLE_STATUSES or status >= 500
    if isinstance(exc, (ConnectionError, TimeoutError, asyncio.TimeoutError)):
        return True
    return _name_matches(exc, _TRANSIENT_NAME_PARTS)


def is_throttle(exc: BaseException) -> bool:
    """A 429/503: the server is shedding load and its hint (or a floor) should be honoured."""
    return http_status(exc) in THROTTLE_STATUSES or _name_matches(exc, ("RateLimit",))


def provably_not_processed(exc: BaseException) -> bool:
    """True when a non-idempotent request can be retried without risking a duplicate."""
    if isinstance(exc, ConnectionRefusedError) or _name_matches(exc, _NOT_SENT_NAME_PARTS):
        return True
    status = http_status(exc)
    if status == 429:
        return True
    return status == 503 and retry_after(exc) is not None


def breaker_verdict(exc: BaseException) -> Verdict:
    """Default breaker classification: caller errors (4xx but 408/429) don't count.

    A 404 or a 400 says the request was wrong, not that the dependency is unhealthy; opening
    the breaker on them would punish every other caller for one bad request.
    """
    status = http_status(exc)
    if status is not None and 400 <= status < 500 and status not in (408, 429):
        return "ignore"
    return "failure"


def matcher(
    spec: ExceptionTypes | Callable[[BaseException], bool] | None,
) -> Callable[[BaseException], bool] | None:
    """Normalise "exception types or a predicate" into a predicate (None stays None)."""
    if spec is None:
        return None
    if isinstance(spec, type) and issubclass(spec, BaseException):
        types: tuple[type[BaseException], ...] = (spec,)
    elif isinstance(spec, tuple):
        if not spec:
            return None
        types = spec
    elif callable(spec):
        return cast(Callable[[BaseException], bool], spec)
    else:
        raise TypeError(f"expected exception types or a predicate, got {spec!r}")
    return lambda exc: isinstance(exc, types)
