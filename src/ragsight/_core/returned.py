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

from typing import Any, Final

import wrapt

from ragsight._core.callables import StreamObserver

ITER: Final = "iter"
AITER: Final = "aiter"
MANAGER: Final = "manager"
AMANAGER: Final = "amanager"

_NOT_STREAMS: Final[tuple[type, ...]] = (str, bytes, bytearray, list, tuple, dict, set, int, float)
_kinds: dict[type, str | None] = {t: None for t in (*_NOT_STREAMS, type(None), bool)}


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


def _classify(tp: type) -> str | None:
    if issubclass(tp, _NOT_STREAMS) or issubclass(tp, wrapt.ObjectProxy):
        return None
    if hasattr(tp, "__anext__"):
        return AITER
    if hasattr(tp, "__next__"):
        return ITER
    if tp.__name__.endswith("StreamManager"):  # openai/anthropic ...StreamManager
        if hasattr(tp, "__aenter__"):
            return AMANAGER
        if hasattr(tp, "__enter__"):
            return MANAGER
    return None


def wrap(result: Any, kind: str, observer: StreamObserver) -> Any:
    """The proxy the caller receives for the stream ``result`` of kind ``kind``."""
    proxy_type = _PROXIES[kind]
    return proxy_type(result, observer)


class _Proxy(wrapt.ObjectProxy[Any]):
    def __init__(self, wrapped: Any, observer: StreamObserver) -> None:
        super().__init__(wrapped)
        self._self_observer = observer
        self._self_done = False

    def _self_end(self, error: BaseException | None, closed: bool) -> None:
        if not self._self_done:
            self._self_done = True
            self._self_observer.end(error, closed)

    def __del__(self) -> None:  # collected unfinished: the stage ends as closed
        if not self._self_done:
            self._self_end(None, True)


class _Stream(_Proxy):
    """A returned iterator (openai ``Stream``, a generator, ``ChatCompletionStream``...)."""

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        observer = self._self_observer
        token = observer.resume()
        try:
            item = next(self.__wrapped__)
        except StopIteration:
            observer.pause(token)
            self._self_end(None, False)
            raise
        except BaseException as exc:
            observer.pause(token)
            self._self_end(exc, False)
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
        token = observer.resume()
        try:
            item = await self.__wrapped__.__anext__()
        except StopAsyncIteration:
            observer.pause(token)
            self._self_end(None, False)
            raise
        except BaseException as exc:
            observer.pause(token)
            self._self_end(exc, False)
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


class _Manager(_Proxy):
    """``client.chat.completions.stream(...)`` and the like: the stream it opens on
    ``__enter__`` is stepped by the stage; ``__exit__`` ends the stage."""

    def __enter__(self) -> Any:
        stream = self.__wrapped__.__enter__()
        return _Stream(stream, _Shared(self))

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(*exc_info)
        finally:
            self._self_end(None, True)


class _AManager(_Proxy):
    async def __aenter__(self) -> Any:
        stream = await self.__wrapped__.__aenter__()
        return _AStream(stream, _Shared(self))

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(*exc_info)
        finally:
            self._self_end(None, True)


class _Shared:
    """The manager's observer as seen by the stream it opened: the stage ends once,
    whichever of the two finishes first."""

    __slots__ = ("_manager",)

    def __init__(self, manager: _Proxy) -> None:
        self._manager = manager

    def resume(self) -> Any:
        return self._manager._self_observer.resume()

    def pause(self, token: Any) -> None:
        self._manager._self_observer.pause(token)

    def item(self, item: Any) -> None:
        self._manager._self_observer.item(item)

    def end(self, error: BaseException | None, closed: bool) -> None:
        self._manager._self_end(error, closed)


_PROXIES: Final[dict[str, type[_Proxy]]] = {
    ITER: _Stream,
    AITER: _AStream,
    MANAGER: _Manager,
    AMANAGER: _AManager,
}
