"""Content capture is off by default; when on, redacted and truncated; secrets never leave."""

from __future__ import annotations

import json

import pytest

import ragsight
from ragsight import names
from ragsight._core import content as _content
from ragsight._core import policy as _policy
from ragsight._core.policy import ContentPolicy

SECRET = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789"
EMAIL = "jane.doe@example.com"


def everything(otel) -> str:  # type: ignore[no-untyped-def]
    """Every exported string: span names and attributes, events, metric labels."""
    parts: list[str] = []
    for span in otel.spans():
        parts.append(span.name)
        parts.extend(f"{k}={v}" for k, v in (span.attributes or {}).items())
        for event in span.events:
            parts.extend(f"{k}={v}" for k, v in (event.attributes or {}).items())
    data = otel.reader.get_metrics_data()
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for dp in metric.data.data_points:
                    parts.extend(f"{k}={v}" for k, v in dp.attributes.items())
    return "\n".join(parts)


def run_pipeline() -> None:
    @ragsight.retrieval(data_source="kb")
    def search(query: str, api_key: str) -> list[dict]:
        return [{"id": "d1", "score": 0.9, "text": f"contact {EMAIL}"}]

    @ragsight.generation(provider="openai", model="m")
    def answer(query: str, docs: list[dict], *, api_key: str) -> str:
        raise ValueError(f"quota exceeded for {EMAIL} using key {SECRET}")

    @ragsight.pipeline("qa")
    def handle(query: str) -> None:
        docs = search(query, api_key=SECRET)
        with pytest.raises(ValueError):
            answer(query, docs, api_key=SECRET)

    handle(f"what is the refund policy? reply to {EMAIL}")


@pytest.mark.parametrize(
    "policy",
    [
        ContentPolicy(),
        ContentPolicy(capture=True),
        ContentPolicy(capture=True, capture_to="span_and_event"),
    ],
    ids=["capture-off", "capture-span", "capture-span-and-event"],
)
def test_api_key_and_email_never_reach_exported_telemetry(otel, policy):
    _policy.set_content_policy(policy)
    run_pipeline()
    exported = everything(otel)
    assert otel.spans()  # the pipeline ran and was traced
    assert SECRET not in exported
    assert "abcdefghijklmnop" not in exported
    assert EMAIL not in exported
    assert "jane.doe" not in exported


def test_nothing_is_captured_by_default(otel):
    run_pipeline()
    for span in otel.spans():
        assert not set(span.attributes) & set(names.CONTENT_ATTRIBUTES), span.name


def test_capture_on_records_redacted_arguments_and_query(otel):
    _policy.set_content_policy(ContentPolicy(capture=True))
    run_pipeline()
    search = otel.span("retrieval kb").attributes
    captured = json.loads(search[names.RAG_INPUT])
    assert captured["api_key"] == _content.REDACTED
    assert captured["query"].startswith("what is the refund policy? reply to ")
    assert search[names.GEN_AI_RETRIEVAL_QUERY_TEXT].endswith(_content.REDACTED)
    assert json.loads(search[names.GEN_AI_RETRIEVAL_DOCUMENTS]) == [{"id": "d1", "score": 0.9}]


def test_event_only_puts_content_on_an_event_not_the_span(otel):
    _policy.set_content_policy(ContentPolicy(capture=True, capture_to="event"))

    @ragsight.instrument
    def step(text: str) -> str:
        return text.upper()

    step("hello")
    span = otel.span("step")
    assert names.RAG_INPUT not in span.attributes
    (event,) = [e for e in span.events if e.name == names.EVENT_RAG_CONTENT]
    assert json.loads(event.attributes[names.RAG_INPUT]) == {"text": "hello"}
    assert event.attributes[names.RAG_OUTPUT] == "HELLO"


def test_captured_strings_are_truncated_per_value_keeping_json_valid(otel):
    _policy.set_content_policy(ContentPolicy(capture=True, max_length=32))

    @ragsight.instrument
    def step(text: str, other: list[str]) -> None:
        pass

    step("x" * 500, ["y" * 500])
    captured = json.loads(otel.span("step").attributes[names.RAG_INPUT])
    assert captured["text"] == "x" * 32 + _content.TRUNCATED_MARK
    assert captured["other"] == ["y" * 32 + _content.TRUNCATED_MARK]


def test_user_redaction_hook_and_patterns_run_after_the_defaults(otel):
    _policy.set_content_policy(
        ContentPolicy(
            capture=True,
            redact_patterns=(r"ACME-\d+",),
            redact_hook=lambda s: s.replace("internal", "[hidden]"),
        )
    )

    @ragsight.instrument
    def step(text: str) -> None:
        pass

    step("ticket ACME-1234 from internal system")
    captured = json.loads(otel.span("step").attributes[names.RAG_INPUT])
    assert captured["text"] == "ticket [REDACTED] from [hidden] system"


def test_secret_named_arguments_and_nested_keys_are_never_captured(otel):
    _policy.set_content_policy(ContentPolicy(capture=True, secret_argument_names=("tenant",)))

    @ragsight.instrument
    def call(password: str, headers: dict, tenant_code: str, **kwargs: str) -> None:
        pass

    call("hunter2", {"Authorization": "opaque-value-1"}, "t-9", session_token="opaque-value-2")
    raw = otel.span("call").attributes[names.RAG_INPUT]
    for leaked in ("hunter2", "opaque-value-1", "opaque-value-2", "t-9"):
        assert leaked not in raw


@pytest.mark.parametrize(
    "text",
    [
        "Authorization: Bearer abcdef1234567890abcdef",
        "key sk-ant-api03-abcdefghijklmnopqrstuvwx",
        "aws AKIAIOSFODNN7EXAMPLE",
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefghijklmnop",
        'config {"password": "pa55word"}',
        "password=pa55word&user=x",
        "mail someone.else+tag@sub.example.co.uk now",
    ],
)
def test_default_patterns_redact_common_secrets(text):
    redacted = _content.redact_text(text)
    assert _content.REDACTED in redacted
    for fragment in ("abcdef1234567890", "api03-abcdef", "IOSFODNN7", "eyJzdWIi", "pa55word"):
        assert fragment not in redacted
    assert "someone.else" not in redacted


@pytest.mark.parametrize(
    ("value", "capture", "to"),
    [
        (None, False, "span"),
        ("NO_CONTENT", False, "span"),
        ("SPAN_ONLY", True, "span"),
        ("EVENT_ONLY", True, "event"),
        ("span_and_event", True, "span_and_event"),
        ("true", True, "span"),
        ("False", False, "span"),
        ("maybe", False, "span"),
    ],
)
def test_capture_env_values(value, capture, to):
    policy = _content.policy_from_env_value(value)
    assert policy.capture is capture
    assert policy.capture_to == to


def test_env_applies_only_while_no_policy_was_set_explicitly(otel, monkeypatch):
    monkeypatch.setenv(names.CAPTURE_CONTENT_ENV, "SPAN_ONLY")
    _content.reset_env_for_tests()

    @ragsight.instrument
    def step(text: str) -> None:
        pass

    step("from env")
    assert names.RAG_INPUT in otel.span("step").attributes
    otel.exporter.clear()
    _policy.set_content_policy(ContentPolicy(capture=False))  # configure() wins over env
    step("explicit off")
    assert names.RAG_INPUT not in otel.span("step").attributes


def test_per_stage_capture_false_overrides_a_global_opt_in(otel):
    _policy.set_content_policy(ContentPolicy(capture=True))

    @ragsight.instrument(capture=False)
    def handles_pii(text: str) -> str:
        return text

    handles_pii("private")
    assert "private" not in everything(otel)


def test_exception_messages_are_redacted_even_with_capture_off(otel):
    @ragsight.instrument
    def fail() -> None:
        raise PermissionError(f"denied for {EMAIL}")

    with pytest.raises(PermissionError):
        fail()
    span = otel.span("fail")
    assert EMAIL not in span.status.description
    assert EMAIL not in span.events[0].attributes[names.EXCEPTION_MESSAGE]


def test_exception_message_and_stacktrace_on_the_span_are_bounded(otel):
    _policy.set_content_policy(ContentPolicy(max_length=300))
    body = "x" * 50_000

    @ragsight.instrument
    def fail() -> None:
        raise RuntimeError(body)

    with pytest.raises(RuntimeError) as raised:
        fail()
    assert str(raised.value) == body  # the application's exception is untouched
    event = otel.span("fail").events[0].attributes
    message = event[names.EXCEPTION_MESSAGE]
    assert message.startswith("x" * 300)
    assert "49700 characters truncated" in message
    assert len(message) < 400
    stack = event[names.EXCEPTION_STACKTRACE]
    assert len(stack) < 300 * _content.STACKTRACE_LENGTH_FACTOR + 100
    assert stack.startswith("Traceback (most recent call last):")
    assert "in fail" in stack  # the raising frame survives a huge message
    assert stack.rstrip().endswith("x")  # and so does the end of the message


def test_generation_content_uses_the_genai_message_schema(otel):
    _policy.set_content_policy(ContentPolicy(capture=True))

    @ragsight.generation(provider="openai", model="m")
    def chat(messages: list[dict], api_key: str) -> str:
        return f"write to {EMAIL}"

    chat([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}], SECRET)
    span = otel.span("chat m").attributes
    assert json.loads(span[names.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
        {"role": "user", "parts": [{"type": "text", "content": "hi"}]},
    ]
    assert json.loads(span[names.GEN_AI_OUTPUT_MESSAGES]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": f"write to {_content.REDACTED}"}],
            "finish_reason": "stop",
        }
    ]
    assert SECRET not in everything(otel)


def test_email_pattern_starts_matching_only_where_a_local_part_starts():
    # the property that keeps redaction linear: a scan from inside a run of local-part
    # characters fails at once instead of re-reading the rest of the run
    (pattern, _) = _content._DEFAULT_COMPILED[-1]
    text = "alice.smith@example.com"
    assert pattern.match(text, 0) is not None
    assert pattern.match(text, 1) is None
    assert pattern.match(text, 6) is None


def test_long_text_without_secrets_is_redacted_in_one_pass():
    # a large error body (no '@' anywhere) followed by an address: quadratic before
    text = "x" * 200_000 + " contact bob@example.com"
    out = _content.redact_text(text)
    assert out == "x" * 200_000 + " contact " + _content.REDACTED


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mailto:bob@example.com", "mailto:[REDACTED]"),
        ("<a.b+c@d.co.uk>", "<[REDACTED]>"),
        ("write to first.last@mail.example.org.", "write to [REDACTED]."),
    ],
)
def test_email_addresses_are_redacted_in_context(text, expected):
    assert _content.redact_text(text) == expected


def test_camel_case_secret_names_in_kwargs_and_nested_keys_are_never_captured(otel):
    _policy.set_content_policy(ContentPolicy(capture=True))

    @ragsight.instrument
    def call(query: str, **kwargs: object) -> None:
        pass

    call(
        "q",
        accessToken="opaque-value-1",
        dbPassword="opaque-value-2",
        options={"refreshToken": "opaque-value-3", "nested": [{"clientSecret": "opaque-4"}]},
    )
    raw = otel.span("call").attributes[names.RAG_INPUT]
    for leaked in ("opaque-value-1", "opaque-value-2", "opaque-value-3", "opaque-4"):
        assert leaked not in raw
    assert json.loads(raw)["query"] == "q"


@pytest.mark.parametrize("name", ["prompt", "passages", "tokenizer", "keyword", "authors"])
def test_ordinary_argument_names_are_not_taken_for_secrets(name):
    assert not _content.is_secret_name(name)


def test_capturing_a_long_list_reads_only_the_items_it_keeps():
    class Counting(list):  # type: ignore[type-arg]
        read = 0

        def __iter__(self):  # type: ignore[no-untyped-def]
            for item in super().__iter__():
                Counting.read += 1
                yield item

    red = _content.redactor(ContentPolicy(capture=True))
    captured = json.loads(red.json(Counting(range(100_000))))
    assert captured[:2] == [0, 1]
    assert captured[-1] == f"... {100_000 - 20} more"
    assert Counting.read <= 20
