"""Stages for blocks that are not functions: ``stage(...)`` and ``cache(name)``.

Both work with ``with`` and ``async with`` and hand out the same handle as
``current_stage()``. A cache block counts one lookup, by the result it reports
(``hit()``/``miss()``/``error()``); a block that raises without reporting counts as
``error``; a block that reports nothing counts nothing (there was no lookup to count).
"""

from __future__ import annotations

from contextvars import Token
from functools import lru_cache
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, Span
from opentelemetry.util.types import AttributeValue

from ragsight import names
from ragsight._core import runtime as _runtime
from ragsight._core.current import CURRENT
from ragsight._core.engine import _NOTHING, StageCall
from ragsight._core.plan import Extract, Plan, StageSpec

_STAGES = frozenset(
    {
        names.STAGE_PIPELINE,
        names.STAGE_RETRIEVAL,
        names.STAGE_EMBEDDING,
        names.STAGE_RERANK,
        names.STAGE_GENERATION,
        names.STAGE_TOOL,
        names.STAGE_GENERIC,
    }
)


class _NoopStage(StageCall):
    """The handle when no stage is running or telemetry is off: every method does nothing."""

    __slots__ = ()

    def __init__(self) -> None:  # no span, no runtime
        pass

    @property
    def span(self) -> Span:
        return INVALID_SPAN

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        pass

    def set_attributes(self, attributes: Any) -> None:
        pass

    def set_result(self, result: Any) -> None:
        pass

    def set_usage(self, input_tokens: int | None = None, output_tokens: int | None = None) -> None:
        pass

    def set_input(self, value: Any) -> None:
        pass

    def set_output(self, value: Any) -> None:
        pass


NOOP_STAGE = _NoopStage()


def current_stage() -> StageCall:
    """The running stage's handle, or a do-nothing handle (never ``None``: no branching).

    Inside a decorated function or a ``stage``/``cache`` block this is the innermost one;
    its ``set_attribute``/``set_result`` calls annotate that stage. Never raises.
    """
    call = CURRENT.get()
    return call if call is not None else NOOP_STAGE


@lru_cache(maxsize=512)
def _plan_for(spec: StageSpec) -> Plan:
    return Plan(spec, spec.name or spec.stage)


class _Scope:
    """One ``stage``/``cache`` context-manager object; it may be entered many times.

    A scope kept in a module variable and entered by concurrent tasks, or nested in
    itself, has several entries open at once: each exit closes the entry that is current
    in the exiting context (the innermost one), never another task's.
    """

    __slots__ = ("_entries", "_plan")

    def __init__(self, plan: Plan) -> None:
        self._plan = plan
        # open entries, oldest first: the call -> (its tokens, the parent context)
        self._entries: dict[StageCall, tuple[Any, otel_context.Context]] = {}

    def _current_entry(self) -> StageCall | None:
        entries = self._entries
        if not entries:
            return None
        call = CURRENT.get()
        if call is not None and call in entries:
            return call
        # exited in another context than it entered (see _close): the latest entry
        return next(reversed(entries))

    def _open(self) -> StageCall:
        rt = _runtime.get()
        if rt is None:
            return NOOP_STAGE
        call = StageCall(self._plan, rt)
        parent = otel_context.get_current()
        self._entries[call] = (call._enter(), parent)
        return call

    def _close(self, exc: BaseException | None) -> None:
        call = self._current_entry()
        if call is None:
            return
        (otel_token, stage_token), parent = self._entries.pop(call)
        try:
            CURRENT.reset(stage_token)
        except (ValueError, RuntimeError):
            # A block that spans a ``yield`` of a generator consumed from another task or
            # thread exits in another Context than it entered: the tokens are unusable
            # there (and OTel's detach would log "Failed to detach context"). Undo by value
            # where this context still shows our stage, and always end the span.
            _restore_elsewhere(call, stage_token, parent)
        else:
            otel_context.detach(otel_token)
        if exc is None:
            call._finish_ok(_NOTHING)
        else:
            call._finish_exc(exc)


def _restore_elsewhere(call: StageCall, stage_token: Token[Any], parent: Any) -> None:
    if CURRENT.get() is call:
        old = stage_token.old_value
        CURRENT.set(None if old is Token.MISSING else old)
    if trace.get_current_span() is call.span:
        otel_context.attach(parent)  # no token: this context simply moves back


class StageScope(_Scope):
    __slots__ = ()

    def __enter__(self) -> StageCall:
        return self._open()

    def __exit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._close(exc)

    async def __aenter__(self) -> StageCall:
        return self._open()

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._close(exc)


def stage(
    stage: str = names.STAGE_GENERIC,
    /,
    name: str | None = None,
    *,
    data_source: str | None = None,
    provider: str | None = None,
    model: str | None = None,
    top_k: int | None = None,
    top_n: int | None = None,
    operation: str | None = None,
    local: bool = False,
    attributes: dict[str, AttributeValue] | None = None,
    extract: Extract | None = None,
    capture: bool | None = None,
) -> StageScope:
    """A stage around a block: ``with ragsight.stage("retrieval", "kb_search") as s:``.

    ``stage`` is one of the decorator stages (pipeline, retrieval, embedding, rerank,
    generation, tool, stage) and ``name`` the operation's name (the function name of a
    decorator); the keyword arguments are those of the matching decorator. Report what
    the block produced with ``s.set_result(...)``. Raises ``ValueError`` for an unknown
    stage.
    """
    if stage not in _STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {sorted(_STAGES)}")
    spec = StageSpec(
        stage=stage,
        name=name,
        operation=operation,
        provider=provider,
        model=model,
        data_source=data_source,
        top_k=top_k,
        top_n=top_n,
        local=local,
        attributes=tuple((attributes or {}).items()),
        extract=extract,
        capture=capture,
    )
    return StageScope(_plan_for(spec))


class CacheLookup(_Scope):
    """The handle of a ``cache(name)`` block: report ``hit()``, ``miss()`` or ``error()``.

    A block left by an exception without a report counts as ``error``; one left normally
    without a report records no result. The handle may be kept and entered again.
    """

    __slots__ = ("_name", "_result")

    def __init__(self, plan: Plan, name: str) -> None:
        super().__init__(plan)
        self._name = name
        self._result: str | None = None

    def hit(self) -> None:
        """The lookup found the entry (``rag.cache.result=hit``)."""
        self._result = names.CACHE_HIT

    def miss(self) -> None:
        """The lookup found nothing (``rag.cache.result=miss``)."""
        self._result = names.CACHE_MISS

    def error(self) -> None:
        """The cache itself failed (``rag.cache.result=error``)."""
        self._result = names.CACHE_ERROR

    @property
    def span(self) -> Span:
        """The block's span (an invalid, non-recording span outside the block)."""
        call = self._current_entry()
        return call.span if call is not None else INVALID_SPAN

    def _finish(self, exc: BaseException | None) -> None:
        call = self._current_entry()
        result = self._result
        self._result = None  # a reused handle starts its next lookup unreported
        if result is None and isinstance(exc, Exception):
            result = names.CACHE_ERROR
        if call is not None:
            if result is not None:
                call.set_attribute(names.RAG_CACHE_RESULT, result)
                call.set_result(result)  # counted off the caller's thread, like durations
            self._close(exc)

    def __enter__(self) -> CacheLookup:
        self._open()
        return self

    def __exit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._finish(exc)

    async def __aenter__(self) -> CacheLookup:
        self._open()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._finish(exc)


def cache(name: str) -> CacheLookup:
    """A cache lookup block: span ``cache {name}`` and ``rag.cache.requests`` by result.

    ``name`` identifies the cache (``rag.cache.name``, a metric label: keep it a fixed
    string). Use as ``with ragsight.cache("answers") as lookup: ... lookup.hit()``.
    """
    spec = StageSpec(
        stage=names.STAGE_CACHE,
        name=name,
        attributes=((names.RAG_CACHE_NAME, name),),
    )
    return CacheLookup(_plan_for(spec), name)
