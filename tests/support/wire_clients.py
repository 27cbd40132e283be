"""The real openai and anthropic clients, sync and async, over mock transports that answer
with llm_wire's payloads (or a handler a test gives), for the real-library tier (tests/libs).

No retries, so a failing answer reaches the caller at once. anthropic 2 ships its own
``httpx2``; openai uses ``httpx``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import httpx2
import llm_wire as wire
import openai


def openai_client(
    handler: Callable[[httpx.Request], httpx.Response] = wire.openai_handler,
) -> openai.OpenAI:
    transport = httpx.MockTransport(handler)
    return openai.OpenAI(
        api_key="sk-test", max_retries=0, http_client=httpx.Client(transport=transport)
    )


def async_openai_client(
    handler: Callable[[httpx.Request], httpx.Response] = wire.openai_handler,
) -> openai.AsyncOpenAI:
    transport = httpx.MockTransport(handler)
    return openai.AsyncOpenAI(
        api_key="sk-test", max_retries=0, http_client=httpx.AsyncClient(transport=transport)
    )


def _anthropic_handler(handler: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    return handler if handler is not None else wire.anthropic_handler(httpx2.Response)


def anthropic_client(handler: Callable[[Any], Any] | None = None) -> anthropic.Anthropic:
    transport = httpx2.MockTransport(_anthropic_handler(handler))
    return anthropic.Anthropic(
        api_key="k", max_retries=0, http_client=httpx2.Client(transport=transport)
    )


def async_anthropic_client(
    handler: Callable[[Any], Any] | None = None,
) -> anthropic.AsyncAnthropic:
    transport = httpx2.MockTransport(_anthropic_handler(handler))
    return anthropic.AsyncAnthropic(
        api_key="k", max_retries=0, http_client=httpx2.AsyncClient(transport=transport)
    )
