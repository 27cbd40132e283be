"""What a forked child must not inherit from export (gunicorn pre-fork, ``multiprocessing``
with fork): locks another thread held at the fork, worker threads that do not exist in the
child, and items the parent is still going to export.

Objects register a bound method with :func:`reset_in_child`; after a fork, the child calls
each one that is still alive, in registration order. A hook that fails is skipped: the
child's application must start whatever export does.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from collections.abc import Callable

_hooks: list[weakref.WeakMethod[Callable[[], object]]] = []


def reset_in_child(method: Callable[[], object]) -> None:
    """Call ``method`` (a bound method; held weakly) in every child forked from now on."""
    _hooks.append(weakref.WeakMethod(method))


def _after_fork_in_child() -> None:
    alive = []
    for ref in list(_hooks):
        method = ref()
        if method is None:
            continue
        alive.append(ref)
        with contextlib.suppress(Exception):  # never break the child's start
            method()
    _hooks[:] = alive


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
