"""More shapes of each reader class, with objects the libraries themselves produced:
LangChain chat models (``AIMessage`` from ``invoke``, ``AIMessageChunk`` streams from
``stream``/``astream``), LlamaIndex LLM responses keeping the provider's response in
``raw``, openai tool calls and refusals, and retrieval results of one list per query.
docs/readers.md lists what is read from each.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import chromadb
import cohere
import httpx
import httpx2
import numpy as np
import openai
import pytest
import wire_clients
from langchain_core.callbacks import (
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from llama_index.core.base.llms.types import ChatMessage, ChatResponse

import ragsight
from ragsight import names

MODEL = "gpt-4o-mini-2024-07-18"
WORDS = ["Paris ", "is ", "the ", "capital."]


class _ProviderShapedChat(BaseChatModel):
    """A chat model answering as LangChain's provider integrations do: ``invoke`` gives
    an ``AIMessage`` with ``usage_metadata`` and ``response_metadata``; a stream puts the
    input tokens on its first chunk and the output tokens, finish reason and model on its
    last (langchain-anthropic's way; LangChain sums usage when it adds chunks)."""

    @property
    def _llm_type(self) -> str:
        return "provider-shaped"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        message = AIMessage(
            content="".join(WORDS),
            id="chatcmpl-LC1",
            usage_metadata={"input_tokens": 11, "output_tokens": 4, "total_tokens": 15},
            response_metadata={"finish_reason": "stop", "model_name": MODEL},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _chunks(self) -> Iterator[ChatGenerationChunk]:
        last = len(WORDS) - 1
        for i, word in enumerate(WORDS):
            usage = None
            if i == 0:
                usage = {"input_tokens": 13, "output_tokens": 0, "total_tokens": 13}
            elif i == last:
                usage = {"input_tokens": 0, "output_tokens": 5, "total_tokens": 5}
            meta = {"stop_reason": "end_turn", "model_name": MODEL} if i == last else {}
            chunk = AIMessageChunk(
                content=word, id="msg_LC2", usage_metadata=usage, response_metadata=meta
            )
            yield ChatGenerationChunk(message=chunk)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        yield from self._chunks()

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self._chunks():
            yield chunk


def _generation_attrs(telemetry: Any) -> dict[str, Any]:
    return dict(telemetry.span("chat").attributes)


def _output_messages(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    found = json.loads(attrs[names.GEN_AI_OUTPUT_MESSAGES])
    assert isinstance(found, list)
    return found


def test_langchain_invoke_reads_usage_model_id_and_finish_reason(telemetry):
    @ragsight.generation(capture=True)
    def answer(question: str) -> AIMessage:
        return _ProviderShapedChat().invoke(question)

    result = answer("Capital of France?")
    assert isinstance(result, AIMessage)
    attrs = _generation_attrs(telemetry)
    assert attrs[names.GEN_AI_USAGE_INPUT_TOKENS] == 11
    assert attrs[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 4
    assert attrs[names.GEN_AI_RESPONSE_MODEL] == MODEL
    assert attrs[names.GEN_AI_RESPONSE_ID] == "chatcmpl-LC1"
    assert attrs[names.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert _output_messages(attrs) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Paris is the capital."}],
            "finish_reason": "stop",
        }
    ]


def test_langchain_ainvoke_reads_usage(telemetry):
    @ragsight.generation
    async def answer(question: str) -> BaseMessage:
        return await _ProviderShapedChat().ainvoke(question)

    asyncio.run(answer("Capital of France?"))
    attrs = _generation_attrs(telemetry)
    assert attrs[names.GEN_AI_USAGE_INPUT_TOKENS] == 11
    assert attrs[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 4


def test_langchain_run_id_is_not_taken_for_a_response_id(telemetry):
    @ragsight.generation
    def answer(question: str) -> BaseMessage:
        return FakeListChatModel(responses=["yes"]).invoke(question)

    assert answer("q").id.startswith("lc_run-")  # LangChain's run id, not the provider's
    assert names.GEN_AI_RESPONSE_ID not in _generation_attrs(telemetry)


def _assert_streamed(attrs: dict[str, Any]) -> None:
    assert attrs[names.GEN_AI_USAGE_INPUT_TOKENS] == 13  # first chunk's
    assert attrs[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 5  # last chunk's
    assert attrs[names.GEN_AI_RESPONSE_MODEL] == MODEL
    assert attrs[names.GEN_AI_RESPONSE_ID] == "msg_LC2"
    assert attrs[names.GEN_AI_RESPONSE_FINISH_REASONS] == ("end_turn",)
    assert attrs[names.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0
    assert _output_messages(attrs)[0]["parts"] == [
        {"type": "text", "content": "Paris is the capital."}
    ]


def test_langchain_stream_returned_from_def_reads_chunks_usage_and_text(telemetry):
    @ragsight.generation(capture=True)
    def answer(question: str) -> Iterator[BaseMessage]:
        return _ProviderShapedChat().stream(question)

    chunks = list(answer("Capital of France?"))
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    assert "".join(str(c.content) for c in chunks) == "Paris is the capital."
    _assert_streamed(_generation_attrs(telemetry))


def test_langchain_astream_yielded_by_async_generator_reads_chunks_usage(telemetry):
    @ragsight.generation(capture=True)
    async def answer(question: str) -> AsyncIterator[BaseMessage]:
        async for chunk in _ProviderShapedChat().astream(question):
            yield chunk

    async def consume() -> list[BaseMessage]:
        return [c async for c in answer("Capital of France?")]

    chunks = asyncio.run(consume())
    assert "".join(str(c.content) for c in chunks) == "Paris is the capital."
    _assert_streamed(_generation_attrs(telemetry))


# ---- openai: tool calls and refusals -----------------------------------------------------
def _openai(body: dict[str, Any]) -> openai.OpenAI:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    return openai.OpenAI(
        api_key="sk-test", max_retries=0, http_client=httpx.Client(transport=transport)
    )


def _completion(message: dict[str, Any], finish_reason: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-T1",
        "object": "chat.completion",
        "created": 1,
        "model": MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 9, "total_tokens": 29},
    }


TOOL_CALL = _completion(
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    },
    "tool_calls",
)
REFUSAL = _completion(
    {"role": "assistant", "content": None, "refusal": "I can't help with that."}, "stop"
)
MSGS = [{"role": "user", "content": "Weather in Paris?"}]
# gen_ai.output.messages of TOOL_CALL, whole or streamed
CAPTURED_TOOL_CALL = [
    {
        "role": "assistant",
        "parts": [
            {
                "type": "tool_call",
                "id": "call_1",
                "name": "get_weather",
                "arguments": '{"city": "Paris"}',
            }
        ],
        "finish_reason": "tool_calls",
    }
]


def test_openai_tool_call_is_captured_as_a_tool_call_part(telemetry):
    @ragsight.generation(capture=True)
    def answer() -> object:
        return _openai(TOOL_CALL).chat.completions.create(model="gpt-4o-mini", messages=MSGS)

    answer()
    attrs = _generation_attrs(telemetry)
    assert attrs[names.GEN_AI_RESPONSE_FINISH_REASONS] == ("tool_calls",)
    assert _output_messages(attrs) == CAPTURED_TOOL_CALL


def test_openai_tool_call_arguments_are_captured_in_the_output_not_a_type_name(telemetry):
    @ragsight.generation(capture=True)
    def answer() -> object:
        return _openai(TOOL_CALL).chat.completions.create(model="gpt-4o-mini", messages=MSGS)

    answer()
    output = json.loads(_generation_attrs(telemetry)[names.RAG_OUTPUT])
    call = output["choices"][0]["message"]["tool_calls"][0]
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}


def test_openai_refusal_is_captured_as_the_answer_text(telemetry):
    @ragsight.generation(capture=True)
    def answer() -> object:
        return _openai(REFUSAL).chat.completions.create(model="gpt-4o", messages=MSGS)

    answer()
    parts = _output_messages(_generation_attrs(telemetry))[0]["parts"]
    assert parts == [{"type": "text", "content": "I can't help with that."}]


# ---- LlamaIndex LLM responses keeping the provider's response --------------------------
COMPLETION = _completion({"role": "assistant", "content": "Paris."}, "stop")


def test_llama_index_chat_response_reads_usage_from_the_raw_provider_response(telemetry):
    completion = _openai(COMPLETION).chat.completions.create(model="gpt-4o-mini", messages=MSGS)

    @ragsight.generation(capture=True)
    def answer() -> ChatResponse:  # llama-index-llms-openai keeps the ChatCompletion as raw
        return ChatResponse(message=ChatMessage(role="assistant", content="Paris."), raw=completion)

    answer()
    attrs = _generation_attrs(telemetry)
    assert attrs[names.GEN_AI_USAGE_INPUT_TOKENS] == 20
    assert attrs[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 9
    assert attrs[names.GEN_AI_RESPONSE_MODEL] == MODEL
    assert attrs[names.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert _output_messages(attrs)[0]["parts"] == [{"type": "text", "content": "Paris."}]


def _sse(events: list[dict[str, Any]]) -> bytes:
    lines = [b"data: " + json.dumps(e).encode() + b"\n\n" for e in events]
    return b"".join(lines) + b"data: [DONE]\n\n"


def _chunks() -> list[dict[str, Any]]:
    base = {"id": "chatcmpl-S9", "object": "chat.completion.chunk", "created": 1, "model": MODEL}
    return [
        {**base, "choices": [{"index": 0, "delta": {"content": "Par"}, "finish_reason": None}]},
        {**base, "choices": [{"index": 0, "delta": {"content": "is."}, "finish_reason": None}]},
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {**base, "choices": [], "usage": {"prompt_tokens": 8, "completion_tokens": 2}},
    ]


def _streams_chunks(request: httpx.Request) -> httpx.Response:
    """Every chat completion answered with the server-sent events of ``_chunks()``."""
    return httpx.Response(
        200, content=_sse(_chunks()), headers={"content-type": "text/event-stream"}
    )


def test_llama_index_streamed_chat_responses_read_their_raw_chunks(telemetry):
    client = wire_clients.openai_client(_streams_chunks)

    @ragsight.generation(capture=True)
    def answer() -> Iterator[ChatResponse]:  # as llama-index-llms-openai's stream_chat()
        text = ""
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=MSGS, stream=True, stream_options={"include_usage": True}
        )
        for chunk in stream:
            delta = chunk.choices[0].delta.content or "" if chunk.choices else ""
            text += delta
            message = ChatMessage(role="assistant", content=text)
            yield ChatResponse(message=message, delta=delta, raw=chunk)

    assert [r.delta for r in answer()] == ["Par", "is.", "", ""]
    attrs = _generation_attrs(telemetry)
    assert attrs[names.GEN_AI_USAGE_INPUT_TOKENS] == 8
    assert attrs[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 2
    assert attrs[names.GEN_AI_RESPONSE_FINISH_REASONS] == ("stop",)
    assert _output_messages(attrs)[0]["parts"] == [{"type": "text", "content": "Paris."}]


# ---- retrieval: one result list per query ---------------------------------------------
@pytest.fixture
def collection() -> chromadb.Collection:
    client = chromadb.EphemeralClient()
    col = client.get_or_create_collection(f"per-query-{id(client)}")
    col.add(ids=["a", "b", "c"], embeddings=[[1, 0], [0, 1], [1, 1]], documents=["A", "B", "C"])
    return col


def test_chroma_documents_of_a_query_count_every_document(telemetry, collection):
    @ragsight.retrieval
    def search() -> object:
        return collection.query(query_embeddings=[[1.0, 0.1]], n_results=2)["documents"]

    assert search() == [["A", "C"]]
    attrs = telemetry.span("retrieval").attributes
    assert attrs[names.RAG_RETRIEVAL_DOCUMENTS_COUNT] == 2


def test_chroma_documents_of_two_queries_count_all_of_them(telemetry, collection):
    @ragsight.retrieval
    def search() -> object:
        return collection.query(query_embeddings=[[1.0, 0.1], [0.0, 1.0]], n_results=2)["documents"]

    search()
    assert telemetry.span("retrieval").attributes[names.RAG_RETRIEVAL_DOCUMENTS_COUNT] == 4


# ---- captured output of a stream ---------------------------------------------------------
def test_captured_output_of_a_returned_openai_stream_is_the_streamed_text(telemetry):
    client = wire_clients.openai_client(_streams_chunks)

    @ragsight.generation(capture=True)
    def answer() -> object:
        return client.chat.completions.create(
            model="gpt-4o-mini", messages=MSGS, stream=True, stream_options={"include_usage": True}
        )

    for _ in answer():
        pass
    assert _generation_attrs(telemetry)[names.RAG_OUTPUT] == "Paris."


def test_captured_output_of_a_langchain_stream_is_the_streamed_text(telemetry):
    @ragsight.generation(capture=True)
    def answer(question: str) -> Iterator[BaseMessage]:
        return _ProviderShapedChat().stream(question)

    list(answer("Capital of France?"))
    assert _generation_attrs(telemetry)[names.RAG_OUTPUT] == "Paris is the capital."


# ---- cohere chat and embed responses -------------------------------------------------
def _cohere(body: dict[str, Any]) -> cohere.ClientV2:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    return cohere.ClientV2(api_key="k", httpx_client=httpx.Client(transport=transport))


COHERE_CHAT = {
    "id": "c-1",
    "finish_reason": "COMPLETE",
    "message": {"role": "assistant", "content": [{"type": "text", "text": "Paris."}]},
    "usage": {
        "billed_units": {"input_tokens": 5, "output_tokens": 2},
        "tokens": {"input_tokens": 71, "output_tokens": 2},
    },
}
COHERE_EMBED = {
    "id": "e-1",
    "embeddings": {"float": [[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8]]},
    "texts": ["a", "b"],
    "meta": {"billed_units": {"input_tokens": 7}},
    "response_type": "embeddings_by_type",
}


def test_cohere_chat_reads_its_token_counts_finish_reason_and_answer(telemetry):
    @ragsight.generation(capture=True)
    def answer(client: cohere.ClientV2) -> object:
        return client.chat(model="command-a-03-2025", messages=MSGS)

    answer(_cohere(COHERE_CHAT))
    attrs = _generation_attrs(telemetry)
    assert attrs[names.GEN_AI_USAGE_INPUT_TOKENS] == 71  # tokens processed, not billed
    assert attrs[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 2
    assert attrs[names.GEN_AI_RESPONSE_FINISH_REASONS] == ("COMPLETE",)
    assert _output_messages(attrs)[0]["parts"] == [{"type": "text", "content": "Paris."}]


def test_cohere_embed_by_type_reads_dimension_and_billed_input_tokens(telemetry):
    @ragsight.embedding
    def embed(client: cohere.ClientV2) -> object:
        return client.embed(
            texts=["a", "b"],
            model="embed-v4.0",
            input_type="search_document",
            embedding_types=["float"],
        )

    embed(_cohere(COHERE_EMBED))
    attrs = telemetry.span("embeddings").attributes
    assert attrs[names.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == 4
    assert attrs[names.GEN_AI_USAGE_INPUT_TOKENS] == 7


def test_numpy_integer_token_counts_are_read(telemetry):
    @ragsight.generation
    def answer() -> dict[str, Any]:
        return {"usage": {"prompt_tokens": np.int64(12), "completion_tokens": np.int32(3)}}

    answer()
    attrs = _generation_attrs(telemetry)
    assert attrs[names.GEN_AI_USAGE_INPUT_TOKENS] == 12
    assert attrs[names.GEN_AI_USAGE_OUTPUT_TOKENS] == 3


# ---- tool calls streamed, and the Responses API's function calls -------------------------
def _tool_chunks() -> list[dict[str, Any]]:
    base = {"id": "chatcmpl-ST", "object": "chat.completion.chunk", "created": 1, "model": MODEL}
    first = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    return [
        {**base, "choices": [{"index": 0, "delta": {"tool_calls": [first]}}]},
        *(
            {
                **base,
                "choices": [
                    {
                        "index": 0,
                        "delta": {"tool_calls": [{"index": 0, "function": {"arguments": part}}]},
                    }
                ],
            }
            for part in ('{"city"', ': "Paris"}')
        ),
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {**base, "choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": 9}},
    ]


def _streaming(transport_type: type[Any], client_type: type[Any]) -> Any:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(
            200, content=_sse(_tool_chunks()), headers={"content-type": "text/event-stream"}
        )
    )
    return client_type(
        api_key="sk-test", max_retries=0, http_client=transport_type(transport=transport)
    )


def test_streamed_tool_call_is_captured_as_a_tool_call_part(telemetry):
    client = _streaming(httpx.Client, openai.OpenAI)

    @ragsight.generation(capture=True)
    def answer() -> object:
        return client.chat.completions.create(model="gpt-4o-mini", messages=MSGS, stream=True)

    for _ in answer():
        pass
    assert _output_messages(_generation_attrs(telemetry)) == CAPTURED_TOOL_CALL


def test_async_streamed_tool_call_is_captured_as_a_tool_call_part(telemetry):
    client = _streaming(httpx.AsyncClient, openai.AsyncOpenAI)

    @ragsight.generation(capture=True)
    async def answer() -> object:
        return await client.chat.completions.create(model="gpt-4o-mini", messages=MSGS, stream=True)

    async def consume() -> None:
        async for _ in await answer():
            pass

    asyncio.run(consume())
    assert _output_messages(_generation_attrs(telemetry)) == CAPTURED_TOOL_CALL


RESPONSE_CALL = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1,
    "status": "completed",
    "model": "gpt-4.1",
    "output": [
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "call_9",
            "name": "get_weather",
            "arguments": '{"city":"Paris"}',
            "status": "completed",
        },
    ],
    "usage": {"input_tokens": 30, "output_tokens": 12, "total_tokens": 42},
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "tools": [],
}


def test_responses_api_function_call_is_captured_as_a_tool_call_part(telemetry):
    @ragsight.generation(capture=True)
    def answer() -> object:
        return _openai(RESPONSE_CALL).responses.create(model="gpt-4.1", input="Weather?")

    answer()
    assert _output_messages(_generation_attrs(telemetry)) == [
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "call_9",
                    "name": "get_weather",
                    "arguments": '{"city":"Paris"}',
                }
            ],
            "finish_reason": "completed",
        }
    ]


# ---- Anthropic tool use and LlamaIndex query engine answers ----------------------------
TOOL_USE = {
    "id": "msg_T1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 30, "output_tokens": 12},
}


def _captured_tool_use(arguments: Any) -> list[dict[str, Any]]:
    """gen_ai.output.messages of TOOL_USE (its text, then its tool call with ``arguments``)."""
    return [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "Checking."},
                {
                    "type": "tool_call",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "arguments": arguments,
                },
            ],
            "finish_reason": "tool_use",
        }
    ]


def test_anthropic_tool_use_block_is_captured_with_its_id_and_input(telemetry):
    client = wire_clients.anthropic_client(lambda request: httpx2.Response(200, json=TOOL_USE))

    @ragsight.generation(capture=True)
    def answer() -> object:
        return client.messages.create(model="claude-sonnet-4-5", max_tokens=64, messages=MSGS)

    answer()
    assert _output_messages(_generation_attrs(telemetry)) == _captured_tool_use({"city": "Paris"})


def test_llama_index_query_engine_response_is_captured_as_the_answer(telemetry):
    from llama_index.core import Document as LlamaDocument
    from llama_index.core import VectorStoreIndex
    from llama_index.core.embeddings import MockEmbedding
    from llama_index.core.llms import MockLLM

    index = VectorStoreIndex.from_documents(
        [LlamaDocument(text="Paris is the capital of France.")],
        embed_model=MockEmbedding(embed_dim=8),
    )
    engine = index.as_query_engine(llm=MockLLM(max_tokens=3))

    @ragsight.generation(capture=True)
    def answer(question: str) -> object:
        return engine.query(question)

    response = answer("Capital of France?")
    parts = _output_messages(_generation_attrs(telemetry))[0]["parts"]
    assert parts == [{"type": "text", "content": response.response}]


def _tool_use_events() -> bytes:
    message = {**TOOL_USE, "content": [], "stop_reason": None, "usage": {"input_tokens": 30}}
    events = [
        {"type": "message_start", "message": message},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "Checking."},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "get_weather",
                "input": {},
            },
        },
        *(
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": p},
            }
            for p in ('{"city"', ': "Paris"}')
        ),
        {"type": "content_block_stop", "index": 1},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use"},
            "usage": {"output_tokens": 12},
        },
        {"type": "message_stop"},
    ]
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def test_anthropic_streamed_tool_use_is_captured_as_a_tool_call_part(telemetry):
    client = wire_clients.anthropic_client(
        lambda request: httpx2.Response(
            200, content=_tool_use_events(), headers={"content-type": "text/event-stream"}
        )
    )

    @ragsight.generation(capture=True)
    def answer() -> object:
        return client.messages.create(
            model="claude-sonnet-4-5", max_tokens=64, messages=MSGS, stream=True
        )

    for _ in answer():
        pass
    # streamed: the arguments are the JSON text the input_json_delta fragments spell
    assert _output_messages(_generation_attrs(telemetry)) == _captured_tool_use('{"city": "Paris"}')
