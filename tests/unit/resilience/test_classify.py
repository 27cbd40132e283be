"""Duck-typed failure classification: statuses and server hints from foreign exceptions."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import pytest

from ragsight._resilience import classify as c


class Resp:
    def __init__(self, status: int, headers: Any = None) -> None:
        self.status_code = status
        self.headers = headers or {}


class ClientError(Exception):
    def __init__(self, status: int, headers: Any = None) -> None:
        super().__init__(status)
        self.response = Resp(status, headers)


class StatusOnly(Exception):
    status_code = 502


class APIConnectionError(Exception):
    """Named like openai's; we match on class names, not imports."""


class ConnectError(Exception):
    """Named like httpx's: the request was never sent."""


def test_status_is_read_from_the_exception_or_its_response() -> None:
    assert c.http_status(ClientError(429)) == 429
    assert c.http_status(StatusOnly()) == 502
    assert c.http_status(ValueError()) is None


def test_retry_after_ms_wins_over_retry_after() -> None:
    exc = ClientError(429, {"retry-after-ms": "1500", "retry-after": "9"})
    assert c.retry_after(exc) == pytest.approx(1.5)


def test_retry_after_header_lookup_is_case_insensitive_for_plain_dicts() -> None:
    assert c.retry_after(ClientError(503, {"Retry-After": "7"})) == 7.0


def test_retry_after_accepts_an_http_date() -> None:
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    hint = c.retry_after(ClientError(503, {"retry-after": when}))
    assert hint is not None
    assert 110 < hint <= 121


def test_an_http_date_without_a_zone_is_utc_whatever_the_local_timezone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(c.time, "time", lambda: 1_800_000_000.0)
    monkeypatch.setenv("TZ", "Asia/Tokyo")  # UTC+9: a local reading is 9 hours off
    time.tzset()
    try:
        when = email.utils.formatdate(1_800_000_100.0, usegmt=True).replace("GMT", "-0000")
        assert c.retry_after(ClientError(503, {"retry-after": when})) == pytest.approx(100.0)
    finally:
        monkeypatch.undo()
        time.tzset()


def test_garbage_hints_are_ignored() -> None:
    assert c.retry_after(ClientError(503, {"retry-after": "soon"})) is None
    assert c.retry_after(ClientError(503, {"retry-after": "-3"})) is None


def test_x_should_retry_overrides_the_status() -> None:
    assert c.is_transient(ClientError(400, {"x-should-retry": "true"}))
    assert not c.is_transient(ClientError(503, {"x-should-retry": "false"}))


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 599])
def test_retryable_statuses(status: int) -> None:
    assert c.is_transient(ClientError(status))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_caller_errors_are_not_retryable(status: int) -> None:
    assert not c.is_transient(ClientError(status))


def test_connection_errors_and_timeouts_are_transient_but_bugs_are_not() -> None:
    assert c.is_transient(ConnectionResetError())
    assert c.is_transient(TimeoutError())
    assert c.is_transient(APIConnectionError())
    assert not c.is_transient(KeyError("x"))


def test_base_exceptions_are_never_transient() -> None:
    import asyncio

    assert not c.is_transient(asyncio.CancelledError())
    assert not c.is_transient(KeyboardInterrupt())


def test_provably_not_processed_requests() -> None:
    assert c.provably_not_processed(ConnectError())
    assert c.provably_not_processed(ClientError(429))
    assert c.provably_not_processed(ClientError(503, {"retry-after": "1"}))
    assert not c.provably_not_processed(ClientError(503))
    assert not c.provably_not_processed(APIConnectionError())


def test_breaker_verdict_ignores_caller_errors_only() -> None:
    assert c.breaker_verdict(ClientError(404)) == "ignore"
    assert c.breaker_verdict(ClientError(429)) == "failure"
    assert c.breaker_verdict(ValueError()) == "failure"


def test_error_type_is_qualified() -> None:
    assert c.error_type(ValueError()) == "ValueError"
    assert c.error_type(ClientError(1)).endswith("test_classify.ClientError")
