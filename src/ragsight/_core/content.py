"""Privacy: what user content may reach telemetry, and in what shape.

Nothing is captured unless the user opts in. The policy is resolved per call with one
global read: an explicit policy set by ``configure()`` (``_policy.set_content_policy``)
always wins; while none was set, ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` is
read once and applies (``NO_CONTENT`` default, ``SPAN_ONLY``, ``EVENT_ONLY``,
``SPAN_AND_EVENT``; the legacy ``true``/``false`` map to ``SPAN_ONLY``/``NO_CONTENT``).

When content is captured, every string is redacted first (API keys, bearer tokens, JWTs,
password assignments, e-mail addresses, the user's own patterns and hook) and truncated
second, per string, so captured JSON stays valid. Arguments and mapping keys whose names
look like secrets are replaced by a marker whatever their value: five of six peer SDKs
export an ``api_key=`` argument by default; ragsight never does.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import json
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from ragsight import names
from ragsight._core import policy as _policy
from ragsight._core.extract import RAW_RESPONSES, StreamSummary, raw_parsed, response_status
from ragsight._core.policy import DEFAULT_CONTENT_POLICY, ContentPolicy

logger = logging.getLogger("ragsight")

REDACTED: Final = "[REDACTED]"
TRUNCATED_MARK: Final = "...[truncated]"
_MAX_ITEMS: Final = 20
_MAX_DEPTH: Final = 10  # a ChatCompletion's tool call arguments sit at depth 6

# (pattern, replacement). Order matters: specific token shapes before generic assignments.
DEFAULT_REDACTIONS: Final[tuple[tuple[str, str], ...]] = (
    # provider API keys: OpenAI/Anthropic (sk-, sk-proj-, sk-ant-), AWS, GitHub, Google, Slack
    (r"\bsk-[A-Za-z0-9_\-]{16,}", REDACTED),
    (r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", REDACTED),
    (r"\bgh[pousr]_[A-Za-z0-9]{30,}\b", REDACTED),
    (r"\bgithub_pat_[A-Za-z0-9_]{30,}\b", REDACTED),
    (r"\bAIza[0-9A-Za-z_\-]{35}\b", REDACTED),
    (r"\bxox[abposr]-[A-Za-z0-9\-]{10,}", REDACTED),
    # Hugging Face, GitLab, npm, PyPI tokens; Stripe secret and restricted keys
    (r"\b(?:hf_|glpat-|npm_|pypi-)[A-Za-z0-9_\-]{20,}", REDACTED),
    (r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}", REDACTED),
    # JSON web tokens
    (r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}", REDACTED),
    # Authorization headers
    (r"(?i)\b(bearer|basic|token)(?:\s+|%20)[A-Za-z0-9\-._~+/]{8,}=*", r"\1 " + REDACTED),
    # password=..., "api_key": "...", secret: ..., also inside a longer name
    # (AWS_SECRET_ACCESS_KEY=..., refresh_token=...); "token" alone, not "max_tokens"
    (
        # the name may sit after "_" (AWS_SECRET...); at most 4 more name parts after it, so
        # the work per position is bounded (unbounded repeats were quadratic: 150 s on 40 kB)
        r"(?i)(?<![A-Za-z0-9])((?:password|passwd|pwd|passphrase|secret|api[_\-]?key|"
        r"access[_\-]?key|private[_\-]?key|access[_\-]?token|client[_\-]?secret|"
        r"auth[_\-]?token|token(?![A-Za-z]))(?:[_\-][A-Za-z0-9]{1,24}){0,4})"
        r"(\"?'?\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&]+)",
        r"\1\2" + REDACTED,
    ),
    # credentials in URLs: scheme://user:password@host
    # (a scheme is short: an unbounded one rescanned every run of "a-a-a-...", 5 s on 40 kB)
    (r"(?i)\b([a-z][a-z0-9+.\-]{0,31}://)[^\s/:@]+:[^\s/@]+@", r"\1" + REDACTED + "@"),
    # e-mail addresses. The lookbehind lets a match start only where a local part starts:
    # without it every position of a long run of letters restarts the scan (quadratic:
    # a 40 kB exception message took over a second on the caller's thread)
    (
        r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
        REDACTED,
    ),
)

_SECRET_PARTS: Final = frozenset(
    {
        "password", "passwd", "pwd", "passphrase", "secret", "secrets", "token", "tokens",
        "auth", "authorization", "credential", "credentials", "cookie", "cookies", "session",
        "sessionid", "apikey", "jwt", "bearer", "signature", "otp", "pin", "ssn",
    }
)  # fmt: skip
_SECRET_SUBSTRINGS: Final = (
    "api_key", "apikey", "access_key", "private_key", "secret_key", "signing_key",
    "encryption_key", "client_secret", "x_api_key",
)  # fmt: skip

_CAPTURE_VALUES: Final[dict[str, tuple[bool, str]]] = {
    "NO_CONTENT": (False, "span"),
    "SPAN_ONLY": (True, "span"),
    "EVENT_ONLY": (True, "event"),
    "SPAN_AND_EVENT": (True, "span_and_event"),
    "TRUE": (True, "span"),  # legacy
    "FALSE": (False, "span"),  # legacy
    "": (False, "span"),
}


def policy_from_env_value(value: str | None) -> ContentPolicy:
    """The policy an ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` value asks for.

    Unknown values capture nothing (and say so once): a typo must never turn capture on.
    Public to the setup area so configure() and this module parse the variable alike.
    """
    key = (value or "").strip().upper()
    found = _CAPTURE_VALUES.get(key)
    if found is None:
        logger.warning(
            "ragsight: %s=%r is not one of %s; capturing no content",
            names.CAPTURE_CONTENT_ENV,
            value,
            ", ".join(k for k in _CAPTURE_VALUES if k),
        )
        found = (False, "span")
    capture, to = found
    if not capture:
        return ContentPolicy()
    return ContentPolicy(capture=True, capture_to=to)  # type: ignore[arg-type]


_env_policy: ContentPolicy | None = None


def effective_policy() -> ContentPolicy:
    """The policy for this call: configure()'s if it set one, else the environment's."""
    policy = _policy._content
    if policy is not DEFAULT_CONTENT_POLICY:
        return policy
    env = _env_policy
    if env is None:
        env = _load_env_policy()
    return env


def _load_env_policy() -> ContentPolicy:
    global _env_policy
    _env_policy = policy_from_env_value(os.environ.get(names.CAPTURE_CONTENT_ENV))
    return _env_policy


def reset_env_for_tests() -> None:
    global _env_policy
    _env_policy = None


def _compile(pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[re.Pattern[str], str], ...]:
    return tuple((re.compile(pattern), repl) for pattern, repl in pairs)


_DEFAULT_COMPILED: Final = _compile(DEFAULT_REDACTIONS)


def redact_text(text: str, policy: ContentPolicy | None = None) -> str:
    """Apply the default patterns, the policy's extra patterns and its hook (no truncation).

    Also used on exception messages, which ragsight records even with capture off.
    """
    for pattern, repl in _DEFAULT_COMPILED:
        text = pattern.sub(repl, text)
    if policy is not None:
        for pattern, repl in _Redactor.for_policy(policy).extra:
            text = pattern.sub(repl, text)
        if policy.redact_hook is not None:
            text = policy.redact_hook(text)
    return text


STACKTRACE_LENGTH_FACTOR: Final = 8


def bound(text: str, limit: int, *, middle: bool = False) -> str:
    """Cap ``text`` at ``limit`` characters plus a marker saying how much was cut.

    Exception messages and stack traces are recorded even with capture off; an unbounded
    one (a whole response body in a message) would bloat every export and the backend.
    A traceback is cut in the middle: its head holds the outer frames, its tail the
    raising frame and the message.
    """
    extra = len(text) - limit
    if extra <= 0:
        return text
    marker = f"...[{extra} characters truncated]..."
    if middle:
        head = limit // 2
        return text[:head] + marker + text[len(text) - (limit - head) :]
    return text[:limit] + marker


_CAMEL_BOUNDARY: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def is_secret_name(name: str, extra: tuple[str, ...] = ()) -> bool:
    # camelCase is split into words first: ``accessToken``/``dbPassword`` are as secret
    # as ``access_token``/``db_password``
    norm = _CAMEL_BOUNDARY.sub("_", name).lower().replace("-", "_")
    if any(part in _SECRET_PARTS for part in norm.split("_")):
        return True
    squashed = norm.replace("_", "")
    if any(s in norm or s.replace("_", "") in squashed for s in _SECRET_SUBSTRINGS):
        return True
    return any(e.lower().replace("-", "_") in norm for e in extra)


_COUNT_QUALIFIERS: Final = frozenset({"count", "num", "max", "min", "total", "limit", "budget"})


def is_count_name(name: str) -> bool:
    """Whether ``name`` names a number of tokens (``completion_tokens``, ``max_tokens``,
    ``token_count``), the one way a secret word (``token``) names no secret."""
    norm = _CAMEL_BOUNDARY.sub("_", name).lower().replace("-", "_")
    if any(s in norm.replace("_", "") for s in (x.replace("_", "") for x in _SECRET_SUBSTRINGS)):
        return False  # api_key_tokens: a key first
    parts = norm.split("_")
    secret = {p for p in parts if p in _SECRET_PARTS}
    if secret == {"tokens"}:
        return True
    return secret == {"token"} and bool(_COUNT_QUALIFIERS.intersection(parts))


class _Redactor:
    """A policy compiled once: patterns, limits and secret names for captured values."""

    _cache: tuple[ContentPolicy, _Redactor] | None = None

    def __init__(self, policy: ContentPolicy) -> None:
        self.policy = policy
        self.extra = _compile(tuple((p, REDACTED) for p in policy.redact_patterns))
        self.max_length = max(16, policy.max_length)

    @classmethod
    def for_policy(cls, policy: ContentPolicy) -> _Redactor:
        cached = cls._cache
        if cached is not None and cached[0] is policy:
            return cached[1]
        made = cls(policy)
        cls._cache = (policy, made)
        return made

    def text(self, value: str) -> str:
        value = redact_text(value, self.policy)
        if len(value) > self.max_length:
            value = value[: self.max_length] + TRUNCATED_MARK
        return value

    def secret(self, name: str) -> bool:
        return is_secret_name(name, self.policy.secret_argument_names)

    def hides(self, name: str, value: Any) -> bool:
        """Whether ``value`` under ``name`` is replaced: a secret-named key, unless it is
        empty, a flag, or a number under a token-count name (``prompt_tokens: 12``,
        ``max_tokens: 256`` are counts, not credentials; ``pin: 1234`` and
        ``password: 12345678`` are hidden). Secret-shaped values under any name are caught
        by the text patterns."""
        if value is None or isinstance(value, bool) or not self.secret(name):
            return False
        if isinstance(value, (int, float)):
            return not is_count_name(name)
        return True

    def value(self, value: Any, depth: int = 0) -> Any:
        """A JSON-ready, redacted, truncated copy of ``value`` (bounded depth and size)."""
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes):
            return f"<{len(value)} bytes>"
        if depth >= _MAX_DEPTH:
            return self.text(type(value).__name__)
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for i, (k, v) in enumerate(value.items()):
                if i >= _MAX_ITEMS:
                    out["..."] = f"{len(value) - _MAX_ITEMS} more"
                    break
                key = self.text(str(k))
                out[key] = REDACTED if self.hides(str(k), v) else self.value(v, depth + 1)
            return out
        if isinstance(value, (list, tuple, set, frozenset)):
            # islice, not list(value)[:n]: a 20M-element result must not be copied on the
            # caller's thread to keep 20 of its items
            seq = [self.value(v, depth + 1) for v in itertools.islice(value, _MAX_ITEMS)]
            if len(value) > _MAX_ITEMS:
                seq.append(f"... {len(value) - _MAX_ITEMS} more")
            return seq
        if type(value).__name__ in RAW_RESPONSES:  # with_raw_response: its parsed body
            parsed = raw_parsed(value)
            if parsed is not value:
                return self.value(parsed, depth)
        dump = getattr(value, "model_dump", None)  # pydantic v2 models
        if callable(dump):  # a model is its data: its fields cost no extra depth
            return self.value(dump(), depth)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self.value(
                {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, depth
            )
        return self.text(repr(value))

    def json(self, value: Any) -> str:
        return json.dumps(self.value(value), ensure_ascii=False, default=str)


def redactor(policy: ContentPolicy) -> _Redactor:
    return _Redactor.for_policy(policy)


def bind_arguments(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """Argument names to values as the function sees them (``**kwargs`` flattened)."""
    try:
        bound = inspect.signature(fn).bind_partial(*args, **kwargs)
    except (TypeError, ValueError):
        out: dict[str, Any] = {f"arg{i}": a for i, a in enumerate(args)}
        out.update(kwargs)
        return out
    params = bound.signature.parameters
    flat: dict[str, Any] = {}
    for name, value in bound.arguments.items():
        kind = params[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            flat.update(value)
        else:
            flat[name] = value
    return flat


def capture_arguments(red: _Redactor, arguments: Mapping[str, Any]) -> str:
    """JSON of the arguments with secret-named ones replaced (never serialised at all)."""
    safe = {
        name: (REDACTED if red.hides(name, value) else red.value(value))
        for name, value in arguments.items()
        if name not in ("self", "cls")
    }
    return json.dumps(safe, ensure_ascii=False, default=str)


def _text_part(red: _Redactor, text: Any) -> dict[str, Any]:
    return {"type": "text", "content": red.text(text if isinstance(text, str) else repr(text))}


def _field(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, Mapping) else getattr(obj, key, None)


# text parts: chat content parts and Anthropic blocks ("text"), the Responses API's
# "input_text" (sent) and "output_text" (generated)
_TEXT_PARTS: Final = frozenset({"text", "input_text", "output_text"})


def _parts(red: _Redactor, content: Any) -> list[dict[str, Any]]:
    """GenAI message parts of one message's content: a string, or a list of openai
    content parts / Anthropic content blocks (``{"type": "text", "text": ...}``)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [_text_part(red, content)]
    if isinstance(content, (list, tuple)):
        out: list[dict[str, Any]] = []
        for part in content[:_MAX_ITEMS]:
            kind = _field(part, "type")
            text = _field(part, "text")
            if isinstance(part, str):
                out.append(_text_part(red, part))
            elif kind in _TEXT_PARTS and isinstance(text, str):
                out.append(_text_part(red, text))
            elif kind in ("tool_use", "function"):  # Anthropic tool_use: id, name, input
                call = {"id": _field(part, "id"), "name": _field(part, "name")}
                call["arguments"] = _field(part, "input")
                out.extend(_tool_calls(red, [call]))
            else:
                out.append({"type": red.text(str(kind or type(part).__name__))})
        return out
    return [_text_part(red, content)]


def _bounded_conversation(messages: Sequence[Any]) -> Sequence[Any]:
    """At most ``_MAX_ITEMS`` messages of a conversation: its leading system (or developer)
    message and the latest turns, since the last user turn is the question being answered
    (the first ones would drop exactly that)."""
    if len(messages) <= _MAX_ITEMS:
        return messages
    if _field(messages[0], "role") in ("system", "developer"):
        return [messages[0], *messages[len(messages) - (_MAX_ITEMS - 1) :]]
    return messages[len(messages) - _MAX_ITEMS :]


def input_messages(red: _Redactor, arguments: Mapping[str, Any]) -> str | None:
    """``gen_ai.input.messages`` (GenAI JSON schema: role + parts) of what was sent: an
    OpenAI/Anthropic-style ``messages`` argument (or the Responses API's ``input=``
    list), else a ``prompt``/``input`` string, which is by name the text sent. A
    ``question`` or ``query`` is not: a RAG stage sends it inside a prompt it builds, so
    it stays in ``rag.input`` only, and a returned stream or raw response adds the
    messages its request really carried (:func:`sent_request`)."""
    messages = arguments.get("messages")
    if not isinstance(messages, (list, tuple)):
        messages = arguments.get("input")  # the Responses API's input= as a message list
    out: list[dict[str, Any]] = []
    if isinstance(messages, (list, tuple)):
        # a system prompt passed apart (Anthropic's system=) is system_instructions()
        for message in _bounded_conversation(messages):
            role = _field(message, "role")
            if isinstance(role, str):
                out.append({"role": role, "parts": _parts(red, _field(message, "content"))})
    else:
        for key in ("prompt", "input"):
            value = arguments.get(key)
            if isinstance(value, str):
                out.append({"role": "user", "parts": [_text_part(red, value)]})
                break
    return json.dumps(out, ensure_ascii=False) if out else None


_SENT_BODY_LIMIT: Final = 1 << 20  # a larger request body is not parsed for content
_SENT_TYPES: Final = frozenset({"Stream", "AsyncStream", *RAW_RESPONSES})


def sent_request(result: Any) -> Mapping[str, Any] | None:
    """The JSON body an openai/anthropic call really sent, when the object it returned
    carries its HTTP request: a ``with_raw_response`` response (``http_request``) or a
    ``Stream``/``AsyncStream`` (``response.request``). ``None`` for anything else (a
    ``ChatCompletion`` keeps no request)."""
    tp = type(result)
    if tp.__name__ not in _SENT_TYPES or not tp.__module__.startswith(("openai", "anthropic")):
        return None
    request = getattr(result, "http_request", None)
    if request is None:
        request = getattr(getattr(result, "response", None), "request", None)
    body = getattr(request, "content", None)
    if not isinstance(body, bytes) or not body or len(body) > _SENT_BODY_LIMIT:
        return None
    try:
        found = json.loads(body)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def system_instructions(red: _Redactor, arguments: Mapping[str, Any]) -> str | None:
    """``gen_ai.system_instructions`` (a list of parts): instructions passed apart from the
    chat history, Anthropic's ``system=`` or the OpenAI Responses API's ``instructions=``.
    A system message inside ``messages`` stays in the input messages, as the spec says."""
    for key in ("system", "instructions"):
        value = arguments.get(key)
        if value is not None and not red.secret(key):
            parts = _parts(red, value)
            return json.dumps(parts, ensure_ascii=False) if parts else None
    return None


def output_value(result: Any) -> Any:
    """What ``rag.output`` shows of a stage's result: a stream's is the text it streamed
    (one string, or one per choice), never ragsight's own :class:`StreamSummary`."""
    if not isinstance(result, StreamSummary):
        return result
    texts = [m.get("content", "") for m in result.messages or ()]
    return texts[0] if len(texts) == 1 else texts


def output_messages(red: _Redactor, result: Any) -> str | None:
    """``gen_ai.output.messages`` from a text answer or an OpenAI-style completion."""
    if isinstance(result, str):
        return json.dumps(
            [{"role": "assistant", "parts": [_text_part(red, result)], "finish_reason": "stop"}],
            ensure_ascii=False,
        )
    result = raw_parsed(result)
    if isinstance(result, StreamSummary):
        return _streamed_messages(red, result)
    if _field(result, "object") == "response":
        return _response_messages(red, result)
    choices = _field(result, "choices")
    if not isinstance(choices, (list, tuple)):
        if _field(result, "type") == "ai":  # a LangChain AIMessage
            return _langchain_messages(red, result)
        if type(result).__name__ in ("ChatResponse", "CompletionResponse", "Response") and (
            type(result).__module__.startswith("llama_index")
        ):
            return _llama_messages(red, result)
        message = _field(result, "message")  # cohere's chat: message and finish_reason
        if message is not None and _field(message, "role") == "assistant":
            parts = _parts(red, _field(message, "content"))
            parts.extend(_tool_calls(red, _field(message, "tool_calls")))
            reason = _field(result, "finish_reason")
            answer = {
                "role": "assistant",
                "parts": parts,
                "finish_reason": reason if isinstance(reason, str) else "stop",
            }
            return json.dumps([answer], ensure_ascii=False)
        content = _field(result, "content")  # an Anthropic Message
        if _field(result, "role") == "assistant" and isinstance(content, (list, tuple)):
            reason = _field(result, "stop_reason")
            answer = {
                "role": "assistant",
                "parts": _parts(red, content),
                "finish_reason": reason if isinstance(reason, str) else "stop",
            }
            return json.dumps([answer], ensure_ascii=False)
        return None
    out = []
    for choice in choices[:_MAX_ITEMS]:
        message = _field(choice, "message")
        if isinstance(choice, Mapping) and not isinstance(message, Mapping):
            message = None
        content = _field(message, "content") if message is not None else None
        if content is None and message is not None:  # a refusal is what the model said
            content = _field(message, "refusal")
        reason = (
            choice.get("finish_reason")
            if isinstance(choice, Mapping)
            else getattr(choice, "finish_reason", None)
        )
        parts = [_text_part(red, content)] if content is not None else []
        if message is not None:
            parts.extend(_tool_calls(red, _field(message, "tool_calls")))
        out.append(
            {
                "role": "assistant",
                "parts": parts,
                "finish_reason": reason if isinstance(reason, str) else "stop",
            }
        )
    return json.dumps(out, ensure_ascii=False) if out else None


def _tool_calls(red: _Redactor, calls: Any) -> list[dict[str, Any]]:
    """GenAI ``tool_call`` parts of an openai message's ``tool_calls`` (``function.name``,
    ``function.arguments``) or a LangChain message's (``name``, ``args``)."""
    if not isinstance(calls, (list, tuple)):
        return []
    out: list[dict[str, Any]] = []
    for call in calls[:_MAX_ITEMS]:
        function = _field(call, "function")
        source = function if function is not None else call
        arguments = _field(source, "arguments")
        if arguments is None:
            arguments = _field(source, "args")
        part: dict[str, Any] = {"type": "tool_call"}
        call_id = _field(call, "id")
        if isinstance(call_id, str):
            part["id"] = red.text(call_id)
        part["name"] = red.text(str(_field(source, "name")))
        if arguments is not None:
            part["arguments"] = red.value(arguments, 1)
        out.append(part)
    return out


def _llama_messages(red: _Redactor, response: Any) -> str | None:
    """Output messages of a LlamaIndex ``ChatResponse`` (``message.content``),
    ``CompletionResponse`` (``text``) or query engine ``Response`` (``response``)."""
    message = _field(response, "message")
    text = _field(message, "content") if message is not None else _field(response, "text")
    if text is None:
        text = _field(response, "response")
    if not isinstance(text, str):
        return None
    answer = {"role": "assistant", "parts": [_text_part(red, text)], "finish_reason": "stop"}
    return json.dumps([answer], ensure_ascii=False)


def _langchain_messages(red: _Redactor, message: Any) -> str | None:
    """Output messages of a LangChain ``AIMessage``: its content (a string or content
    blocks) and ``tool_calls``; the finish reason from ``response_metadata``."""
    parts = _parts(red, _field(message, "content"))
    if _field(message, "tool_calls"):  # anthropic-style blocks repeat them as tool_use
        parts = [p for p in parts if p.get("type") != "tool_call"]
        parts.extend(_tool_calls(red, _field(message, "tool_calls")))
    meta = _field(message, "response_metadata")
    reason = None
    if isinstance(meta, Mapping):
        reason = meta.get("finish_reason") or meta.get("stop_reason")
    answer = {
        "role": "assistant",
        "parts": [p for p in parts if p.get("content") != "" or p.get("type") != "text"],
        "finish_reason": reason if isinstance(reason, str) else "stop",
    }
    return json.dumps([answer], ensure_ascii=False)


def _streamed_messages(red: _Redactor, summary: StreamSummary) -> str | None:
    """Output messages of a stream: the text :class:`StreamReader` kept per choice."""
    if not summary.messages:
        return None
    reasons = [c.get("finish_reason") for c in summary.choices or []]
    out = []
    for i, message in enumerate(summary.messages[:_MAX_ITEMS]):
        reason = reasons[i] if i < len(reasons) else summary.stop_reason
        text = message.get("content", "")
        parts = [_text_part(red, text)] if text or not message.get("tool_calls") else []
        parts.extend(_tool_calls(red, message.get("tool_calls")))
        out.append(
            {
                "role": "assistant",
                "parts": parts,
                "finish_reason": reason if isinstance(reason, str) else "stop",
            }
        )
    return json.dumps(out, ensure_ascii=False)


def _response_messages(red: _Redactor, response: Any) -> str | None:
    """Output messages of an openai Responses API ``Response``: its ``message`` items."""
    items = _field(response, "output")
    if not isinstance(items, (list, tuple)):
        return None
    reason = response_status(response) or "stop"
    out = [
        {
            "role": "assistant",
            "parts": _parts(red, _field(item, "content")),
            "finish_reason": reason,
        }
        for item in items[:_MAX_ITEMS]
        if _field(item, "type") == "message"
    ]
    calls = [
        {"id": _field(item, "call_id"), "function": item}
        for item in items[:_MAX_ITEMS]
        if _field(item, "type") == "function_call"
    ]
    if calls:  # function calls are output items of their own: one message asking for them
        out.append({"role": "assistant", "parts": _tool_calls(red, calls), "finish_reason": reason})
    return json.dumps(out, ensure_ascii=False) if out else None


# ------------------------------------------------------------------ the content events --
# Content captured for an event (capture_to event / span_and_event) travels as a Logs-API
# event (ragsight._core.events) whose attributes may be structured: the conventions'
# messages and documents are lists of objects there, not JSON text as on span attributes.
_STRUCTURED: Final = frozenset(
    {
        names.GEN_AI_INPUT_MESSAGES,
        names.GEN_AI_OUTPUT_MESSAGES,
        names.GEN_AI_SYSTEM_INSTRUCTIONS,
        names.GEN_AI_RETRIEVAL_DOCUMENTS,
        names.RAG_INPUT,  # always the JSON of the captured arguments
    }
)
# the span attributes an event repeats, so it reads on its own ("stored independently of
# traces", the conventions say of the details event)
_DESCRIBING_PREFIXES: Final = ("gen_ai.", "server.", names.ERROR_TYPE, names.RAG_STAGE)


def content_event(
    stage: str | None, content: Mapping[str, Any], span_attributes: Mapping[str, Any] | None
) -> tuple[str, dict[str, Any]]:
    """The event name and attributes for one stage's captured ``content``.

    Inference (generation) stages: the conventions' ``gen_ai.client.inference.operation.
    details`` with the inference span's attributes. Retrieval stages: ragsight's
    ``rag.retrieval.operation.details`` with the retrieval span's (the conventions define
    no retrieval event). Any other stage: ``rag.content``. JSON-rendered content becomes
    structured values again; content that does not parse stays text.
    """
    if stage == names.STAGE_GENERATION:
        name = names.EVENT_GEN_AI_INFERENCE_DETAILS
    elif stage == names.STAGE_RETRIEVAL:
        name = names.EVENT_RAG_RETRIEVAL_DETAILS
    else:
        name = names.EVENT_RAG_CONTENT
    attributes: dict[str, Any] = {}
    for key, value in (span_attributes or {}).items():
        if key.startswith(_DESCRIBING_PREFIXES) and key not in content:
            attributes[key] = list(value) if isinstance(value, tuple) else value
    for key, value in content.items():
        attributes[key] = _structured(value) if key in _STRUCTURED else value
    return name, attributes


def _structured(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value
