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

Handler = Callable[[httpx.Request], httpx.Response]


def openai_client(handler: Handler = wire.openai_handler) -> openai.OpenAI:
    http_client = httpx.Client(transport=httpx.MockTransport(handler))
    return openai.OpenAI(api_key="sk-test", max_retries=0, http_client=http_client)


def async_openai_client(handler: Handler = wire.openai_handler) -> openai.AsyncOpenAI:
    http_client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return openai.AsyncOpenAI(api_key="sk-test", max_retries=0, http_client=http_client)


def _anthropic_transport(handler: Callable[[Any], Any] | None) -> httpx2.MockTransport:
    """anthropic 2's transport: ``handler``, or llm_wire's messages endpoint."""
    return httpx2.MockTransport(handler or wire.anthropic_handler(httpx2.Response))


def anthropic_client(handler: Callable[[Any], Any] | None = None) -> anthropic.Anthropic:
    http_client = httpx2.Client(transport=_anthropic_transport(handler))
    return anthropic.Anthropic(api_key="k", max_retries=0, http_client=http_client)


def async_anthropic_client(handler: Callable[[Any], Any] | None = None) -> anthropic.AsyncAnthropic:
    http_client = httpx2.AsyncClient(transport=_anthropic_transport(handler))
    return anthropic.AsyncAnthropic(api_key="k", max_retries=0, http_client=http_client)
