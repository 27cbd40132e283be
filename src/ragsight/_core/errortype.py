"""The one ``error.type`` spelling of an exception, used by spans, metrics and events.

OpenTelemetry's GenAI conventions show ``error.type`` as the exception's fully qualified
class name (``openai.InternalServerError``...), and every signal ragsight emits for one
failure must carry the same value, or a dashboard joining the stage duration with the
retry counters finds two different errors. Builtins keep their bare name (``TimeoutError``),
as Python prints them; ragsight's own exceptions declare ``__module__ = "ragsight"`` and so
appear under their public names (``ragsight.CircuitOpenError``).
"""

from __future__ import annotations

import sys
from typing import Final

_BARE_MODULES: Final = frozenset({"builtins", "__main__"})
_cache: dict[type, str] = {}


def error_type(exc: BaseException) -> str:
    """``error.type`` for ``exc``: ``module.QualName`` of its class (bare for builtins).

    Names are public module paths: a library that defines its exceptions in a private
    submodule and re-exports them (``openai._exceptions.InternalServerError`` is
    ``openai.InternalServerError``) is named by its top-level package when the class is
    reachable there.
    """
    cls = type(exc)
    found = _cache.get(cls)
    if found is None:
        found = _spell(cls)
        if len(_cache) < 1024:
            _cache[cls] = found
    return found


def _spell(cls: type) -> str:
    module = cls.__module__ or ""
    if module in _BARE_MODULES:
        return cls.__qualname__
    if any(part.startswith("_") for part in module.split(".")):
        top = module.split(".", 1)[0]
        package = sys.modules.get(top)
        if package is not None and getattr(package, cls.__name__, None) is cls:
            module = top
    return f"{module}.{cls.__qualname__}"
