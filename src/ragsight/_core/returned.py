"""Streams a decorated plain function returns: the stage lasts until the stream ends.

``def answer(q): return client.chat.completions.create(..., stream=True)`` returns before
a single token was generated; ending the span at ``return`` would measure nothing and read
no usage. When a stage's result is an iterator, an async iterator or a library stream
manager, the caller gets a transparent proxy of it instead (``wrapt.ObjectProxy``: same
``isinstance``, attributes such as ``.response``, context-manager behaviour, ``close()``),
which steps the stream through the stage's :class:`~ragsight._core.callables.StreamObserver`
and ends the stage when the stream is exhausted, raises, is closed, its ``with`` block
exits, or it is garbage-collected unfinished.

Recognition is by the type's protocol methods and name (``__next__``, ``__anext__``,
``...StreamManager``), decided once per type: no library is imported, and the common case
(a result that is not a stream) costs one dict lookup.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator
from typing import Any, Final, Protocol

import wrapt

from ragsight._core import extract as _extract
from ragsight._core.callables import StreamObserver

ITER: Final = "iter"
AITER: Final = "aiter"
MANAGER: Final = "manager"
AMANAGER: Final = "amanager"
RAW: Final = "raw"  # with_raw_response of a stream: parse() gives it
ARAW: Final = "araw"  # an async with_streaming_response's APIResponse: await parse()

_NOT_STREAMS: Final[tuple[type, ...]] = (str, bytes, bytearray, list, tuple, dict, set, int, float)
_kinds: dict[type, str | None] = {t: None for t in (*_NOT_STREAMS, type(None), bool)}
# openai/anthropic: ChatCompletionStreamManager, MessageStreamManager, ResponseStreamManager
# and with_streaming_response's ResponseContextManager
_MANAGER_SUFFIXES: Final = ("StreamManager", "ResponseContextManager")


class Observer(StreamObserver, Protocol):
    """A stream observer that also takes the stream's final result (a library stream's
    accumulated snapshot, a streamed raw response's parsed body): the stage's
    ``set_result``."""

    def set_result(self, result: Any) -> None: ...


def stream_kind(tp: type) -> str | None:
    """What a value of type ``tp`` is as a returned stream (``None``: not a stream)."""
    try:
        return _kinds[tp]
    except KeyError:
        pass
    found = _classify(tp)
    if len(_kinds) < 1024:
        _kinds[tp] = found
    return found


def stream_kind_of(result: Any) -> str | None:
    """What ``result`` is as a returned stream: its type's kind, except that a raw
    response holding a complete body is no stream (extract.py reads its ``parse()``)."""
    kind = stream_kind(type(result))
    if kind == RAW and not _extract.raw_streamed(result):
        return None
    return kind


def requested_streaming(result: Any, kind: str) -> bool:
    """Whether a returned stream of kind ``kind`` shows that the request was made in
    streaming mode (``gen_ai.request.stream``): an iterator, a library ``...StreamManager``
    or a raw response wrapping an event stream. ``with_streaming_response``'s context
    manager says nothing: it streams the HTTP body of any request, streamed or not."""
    if kind in (ITER, AITER, RAW):
        return True
    if kind in (MANAGER, AMANAGER):
        return type(result).__name__.endswith("StreamManager")
    return kind == ARAW and _extract.raw_streamed(result)


def _classify(tp: type) -> str | None:
    if issubclass(tp, _NOT_STREAMS) or issubclass(tp, wrapt.ObjectProxy):
        return None
    if hasattr(tp, "__anext__"):
        return AITER
    if hasattr(tp, "__next__"):
        return ITER
    name = tp.__name__
    if name.endswith(_MANAGER_SUFFIXES):
        if hasattr(tp, "__aenter__"):
            return AMANAGER
        if hasattr(tp, "__enter__"):
            return MANAGER
    parse = getattr(tp, "parse", None)
    if name in _extract.RAW_RESPONSES and callable(parse):
        return ARAW if inspect.iscoroutinefunction(parse) else RAW
    return None


def _final_of(stream: Any) -> Any:
    """The result a library stream accumulated itself, read once it ended: openai
    ``ChatCompletionStream.current_completion_snapshot``, anthropic ``MessageStream.
    current_message_snapshot`` (both raise before the first event), openai
    ``ResponseStream``'s completed response. It covers consumers that bypass the proxy's
    ``__next__`` (``get_final_completion()``, ``until_done()``, ``text_stream``)."""
    for attr in ("current_completion_snapshot", "current_message_snapshot"):
        try:
            found = getattr(stream, attr, None)
        except Exception:  # no event yet: the library asserts
            found = None
        if found is not None:
            return found
    return getattr(getattr(stream, "_state", None), "_completed_response", None)


def wrap(result: Any, kind: str, observer: Observer) -> Any:
    """The proxy the caller receives for the stream ``result`` of kind ``kind``."""
    proxy_type = _PROXIES[kind]
    return proxy_type(result, observer)


class _Proxy(wrapt.ObjectProxy[Any]):
    def __init__(self, wrapped: Any, observer: Observer) -> None:
        super().__init__(wrapped)
        self._self_observer: Observer | None = observer
        self._self_done = False
        self._self_inside = False  # the library's own iterator reports the items

    def _self_end(self, error: BaseException | None, closed: bool) -> None:
        observer = self._self_observer
        if self._self_done or observer is None:
            return
        self._self_done = True
        self._self_observer = None  # an ended stream the caller keeps holds no stage
        if error is None:
            final = self._self_final()
            if final is not None:
                observer.set_result(final)
        observer.end(error, closed)

    def _self_stopped(self, observer: Observer, token: Any, error: BaseException | None) -> None:
        """The stream stopped while ``observer`` timed the step ``token`` resumed: it was
        exhausted (``error`` ``None``) or raised ``error``. Runs once a stream, never per item."""
        observer.pause(token)
        self._self_end(error, False)

    def _self_final(self) -> Any:
        return _final_of(self.__wrapped__)

    def __del__(self) -> None:  # collected unfinished: the stage ends as closed
        if not self._self_done:
            self._self_end(None, True)


class _Stream(_Proxy):
    """A returned iterator (openai ``Stream``, a generator, ``ChatCompletionStream``...)."""

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        observer = self._self_observer
        if observer is None or self._self_inside:  # ended, or observed inside
            return next(self.__wrapped__)
        token = observer.resume()
        try:
            item = next(self.__wrapped__)
        except StopIteration:
            self._self_stopped(observer, token, None)
            raise
        except BaseException as exc:
            self._self_stopped(observer, token, exc)
            raise
        observer.pause(token)
        observer.item(item)
        return item

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_end(None, True)

    def __enter__(self) -> Any:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc_info)
        finally:
            self._self_end(None, True)


class _AStream(_Proxy):
    """A returned async iterator (openai ``AsyncStream``, an async generator...)."""

    def __aiter__(self) -> Any:
        return self

    async def __anext__(self) -> Any:
        observer = self._self_observer
        if observer is None or self._self_inside:
            return await self.__wrapped__.__anext__()
        token = observer.resume()
        try:
            item = await self.__wrapped__.__anext__()
        except StopAsyncIteration:
            self._self_stopped(observer, token, None)
            raise
        except BaseException as exc:
            self._self_stopped(observer, token, exc)
            raise
        observer.pause(token)
        observer.item(item)
        return item

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            self._self_end(None, True)

    async def aclose(self) -> Any:
        try:
            return await self.__wrapped__.aclose()
        finally:
            self._self_end(None, True)

    async def __aenter__(self) -> Any:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc_info)
        finally:
            self._self_end(None, True)


class _Raw(_Proxy):
    """A raw response of a stream (``with_raw_response.create(stream=True)``), or the
    ``APIResponse`` a ``with_streaming_response`` block opened: ``parse()`` gives the
    stream (followed by this stage) or the complete body (read as the stage's result)."""

    def __init__(self, wrapped: Any, observer: Observer) -> None:
        super().__init__(wrapped, observer)
        self._self_parsed: Any = None

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_parsed_as(self.__wrapped__.parse(*args, **kwargs))

    def _self_parsed_as(self, parsed: Any) -> Any:
        if self._self_parsed is not None and self._self_parsed.__wrapped__ is parsed:
            return self._self_parsed  # the client caches parse(): so does the proxy
        observer = self._self_observer
        if observer is None:
            return parsed
        kind = stream_kind(type(parsed))
        if kind in (ITER, AITER):
            self._self_parsed = _PROXIES[kind](parsed, _Shared(self))
            return self._self_parsed
        observer.set_result(parsed)
        if not _extract.raw_streamed(self.__wrapped__) and not isinstance(self, _OpenedRaw):
            self._self_end(None, False)
        return parsed

    def _self_final(self) -> Any:
        parsed = self._self_parsed
        return _final_of(parsed.__wrapped__) if parsed is not None else None


class _ARaw(_Raw):
    async def parse(self, *args: Any, **kwargs: Any) -> Any:
        return self._self_parsed_as(await self.__wrapped__.parse(*args, **kwargs))


class _OpenedRaw(_Raw):
    """The ``APIResponse`` of a ``with_streaming_response`` block: its stage ends when
    the block exits, whatever ``parse()`` gave."""


class _AOpenedRaw(_ARaw, _OpenedRaw):
    pass


class _Manager(_Proxy):
    """``client.chat.completions.stream(...)``, ``with_streaming_response.create(...)``
    and the like: what ``__enter__`` opens is followed by the stage; ``__exit__`` ends it."""

    def __init__(self, wrapped: Any, observer: Observer) -> None:
        super().__init__(wrapped, observer)
        self._self_opened: Any = None

    def __enter__(self) -> Any:
        opened = self.__wrapped__.__enter__()
        self._self_opened = opened
        return _opened(opened, self)

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc_info)
        finally:
            self._self_end(None, True)

    def _self_final(self) -> Any:
        opened = self._self_opened
        if opened is None:
            return None
        if type(opened).__name__ in _extract.RAW_RESPONSES:
            return None  # its parse() already set the result
        return _final_of(opened)


class _AManager(_Manager):
    async def __aenter__(self) -> Any:
        opened = await self.__wrapped__.__aenter__()
        self._self_opened = opened
        return _opened(opened, self)

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc_info)
        finally:
            self._self_end(None, True)


def _opened(opened: Any, manager: _Proxy) -> Any:
    kind = stream_kind(type(opened))
    shared = _Shared(manager)
    if kind in (ITER, AITER):
        proxy: _Proxy = (_Stream if kind == ITER else _AStream)(opened, shared)
        proxy._self_inside = _observe_inside(opened, proxy, kind)
        return proxy
    if kind == RAW:
        return _OpenedRaw(opened, shared)
    if kind == ARAW:
        return _AOpenedRaw(opened, shared)
    return opened


_LIBRARY_STREAMS: Final = ("openai", "anthropic")


def _observe_inside(stream: Any, proxy: _Proxy, kind: str) -> bool:
    """Route an openai/anthropic helper stream's own iterator through the stage.

    ``ChatCompletionStream``, ``ResponseStream`` and ``MessageStream`` (and their async
    twins) read every event from ``self._iterator``, whichever way the caller consumes
    them: iterating, ``get_final_completion()``/``get_final_response()``/
    ``get_final_message()``, ``until_done()``, Anthropic's ``text_stream``. Observing
    there, rather than in the proxy's ``__next__``, times the first chunk and sees every
    event in all those ways. Where the attribute is not the generator expected (another
    library version), the proxy observes as for any stream."""
    if not (type(stream).__module__ or "").startswith(_LIBRARY_STREAMS):
        return False
    inner = getattr(stream, "_iterator", None)
    if kind == ITER and inspect.isgenerator(inner):
        stream._iterator = _observing(inner, proxy)
        return True
    if kind == AITER and inspect.isasyncgen(inner):
        stream._iterator = _aobserving(inner, proxy)
        return True
    return False


def _observing(inner: Iterator[Any], proxy: _Proxy) -> Iterator[Any]:
    while True:
        observer = proxy._self_observer
        if observer is None:  # the stage ended (the block exited): pass through
            yield from inner
            return
        token = observer.resume()
        try:
            item = next(inner)
        except StopIteration:
            proxy._self_stopped(observer, token, None)
            return
        except BaseException as exc:
            proxy._self_stopped(observer, token, exc)
            raise
        observer.pause(token)
        observer.item(item)
        yield item


async def _aobserving(inner: AsyncIterator[Any], proxy: _Proxy) -> AsyncIterator[Any]:
    while True:
        observer = proxy._self_observer
        if observer is None:
            async for item in inner:
                yield item
            return
        token = observer.resume()
        try:
            item = await inner.__anext__()
        except StopAsyncIteration:
            proxy._self_stopped(observer, token, None)
            return
        except BaseException as exc:
            proxy._self_stopped(observer, token, exc)
            raise
        observer.pause(token)
        observer.item(item)
        yield item


class _Shared:
    """The manager's observer as seen by what it opened: the stage ends once, when the
    manager exits (or the opened stream ends first)."""

    __slots__ = ("_manager",)

    def __init__(self, manager: _Proxy) -> None:
        self._manager = manager

    def _observer(self) -> Observer | None:
        return self._manager._self_observer

    def resume(self) -> Any:
        observer = self._observer()
        return observer.resume() if observer is not None else None

    def pause(self, token: Any) -> None:
        observer = self._observer()
        if observer is not None:
            observer.pause(token)

    def item(self, item: Any) -> None:
        observer = self._observer()
        if observer is not None:
            observer.item(item)

    def set_result(self, result: Any) -> None:
        observer = self._observer()
        if observer is not None:
            observer.set_result(result)

    def end(self, error: BaseException | None, closed: bool) -> None:
        self._manager._self_end(error, closed)


_PROXIES: Final[dict[str, type[_Proxy]]] = {
    ITER: _Stream,
    AITER: _AStream,
    MANAGER: _Manager,
    AMANAGER: _AManager,
    RAW: _Raw,
    ARAW: _ARaw,
}
