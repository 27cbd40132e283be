"""One ``error.type`` spelling for one exception, on every signal: the fully qualified
class name of opentelemetry-util-genai (``fq_exception_type``) and of the SDK's
``exception.type``, with ragsight's own exceptions under their public names."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pydantic
import pytest
import respx
from opentelemetry.util.genai.utils import fq_exception_type

import ragsight
import ragsight.testing
from ragsight import names
from ragsight._core.errortype import error_type
from ragsight.resilience_testing import no_wait

MSGS = [{"role": "user", "content": "Capital of France?"}]
BASE = "https://api.openai.com/v1"


class Outer:
    class NestedError(Exception):
        pass


class _Strict(pydantic.BaseModel):
    n: int


def _validation_error() -> Exception:
    try:
        _Strict(n="x")  # type: ignore[arg-type]
    except pydantic.ValidationError as exc:  # defined in pydantic_core._pydantic_core
        return exc
    raise AssertionError("no error")


def _server_error() -> Exception:
    client = openai.OpenAI(api_key="sk-test", max_retries=0, http_client=httpx.Client())
    with respx.mock(base_url=BASE) as mock:
        mock.post("/chat/completions").mock(return_value=httpx.Response(500, json={}))
        try:
            client.chat.completions.create(model="m", messages=MSGS)
        except openai.InternalServerError as exc:
            return exc
    raise AssertionError("no error")


EXCEPTIONS = {
    "openai": _server_error,
    "builtin": lambda: ValueError("x"),
    "nested class": lambda: Outer.NestedError(),
    "private module": _validation_error,
    "ragsight": lambda: ragsight.ConfigError("x"),
}


@pytest.mark.parametrize("case", list(EXCEPTIONS))
def test_error_type_is_util_genai_fq_exception_type(case):
    exc = EXCEPTIONS[case]()
    assert error_type(exc) == fq_exception_type(exc)


def test_openai_and_ragsight_errors_have_their_public_names():
    assert error_type(_server_error()) == "openai.InternalServerError"
    assert error_type(ragsight.ConfigError("x")) == "ragsight.ConfigError"


def _error_types(telemetry: ragsight.testing.Telemetry) -> dict[str, set[str]]:
    """Every ``error.type`` and ``exception.type`` value, by where it was found."""
    keys = (names.ERROR_TYPE, names.EXCEPTION_TYPE)
    found: dict[str, set[str]] = {}

    def add(where: str, attributes: Any) -> None:
        for key in keys:
            value = dict(attributes or {}).get(key)
            if value is not None:
                found.setdefault(where, set()).add(value)

    for span in telemetry.spans:
        add("span", span.attributes)
        for event in span.events:
            add(f"span event {event.name}", event.attributes)
    for event in telemetry.log_events:
        add(f"event {event.name}", event.attributes)
    for point in telemetry.collect():
        add(f"metric {point.name}", point.attributes)
    return found


def _failing_answer(breaker: ragsight.CircuitBreaker) -> Any:
    client = openai.OpenAI(api_key="sk-test", max_retries=0, http_client=httpx.Client())

    @ragsight.retry(attempts=3, budget=False)
    @breaker
    @ragsight.generation(provider="openai", model="m")
    def answer() -> Any:
        return client.chat.completions.create(model="m", messages=MSGS)

    return answer


@contextlib.contextmanager
def _openai_answering(
    response: httpx.Response,
) -> Iterator[tuple[ragsight.testing.Telemetry, respx.Route]]:
    """Telemetry captured, retry waits skipped, every chat completion answered ``response``."""
    with (
        ragsight.testing.capture_telemetry() as telemetry,
        no_wait(),
        respx.mock(base_url=BASE) as mock,
    ):
        yield telemetry, mock.post("/chat/completions").mock(return_value=response)


def test_a_real_500_through_retry_and_breaker_has_one_error_type_everywhere():
    breaker = ragsight.CircuitBreaker("llm-error-type", consecutive_failures=10)
    answer = _failing_answer(breaker)
    server_error = httpx.Response(500, json={"error": {"message": "The server had an error"}})
    with _openai_answering(server_error) as (telemetry, route):
        with pytest.raises(openai.InternalServerError):
            answer()
        found = _error_types(telemetry)
    assert route.call_count == 3
    assert set().union(*found.values()) == {"openai.InternalServerError"}
    for where in (
        "span",
        "span event exception",
        "metric rag.operation.duration",
        f"event {names.EVENT_RETRY_SCHEDULED}",
        f"event {names.EVENT_RETRY_GAVE_UP}",
        "metric resilience.retry.attempts",
        "metric resilience.retry.give_ups",
    ):
        assert where in found, f"no error.type on {where}: {sorted(found)}"


def test_an_open_breaker_rejection_is_ragsight_circuit_open_error_and_names_the_cause():
    breaker = ragsight.CircuitBreaker("llm-open-error-type", consecutive_failures=1)
    answer = _failing_answer(breaker)
    with _openai_answering(httpx.Response(500, json={})) as (telemetry, _):
        with pytest.raises(ragsight.CircuitOpenError):
            answer()
        found = _error_types(telemetry)
    assert found["span"] == {"openai.InternalServerError", "ragsight.CircuitOpenError"}
    assert found[f"event {names.EVENT_CB_STATE_CHANGED}"] == {"openai.InternalServerError"}
    assert set().union(*found.values()) == {
        "openai.InternalServerError",
        "ragsight.CircuitOpenError",
    }
