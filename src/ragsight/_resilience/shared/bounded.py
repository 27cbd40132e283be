"""Bounds on one exchange with Redis: a deadline for the whole exchange and a cap on the
bytes read for it.

redis-py's ``socket_timeout`` bounds each socket read, not a reply: a server that trickles
one byte at a time, or announces a reply of gigabytes, keeps an exchange going for ever and
makes redis-py buffer whatever it announced. The store's connections read through
:class:`BoundedSocket` instead (installed by the parser :func:`bounded_parser` builds):
every read waits at most until the exchange's deadline and counts against its byte
allowance; past either, the read raises :class:`RedisTooSlow` or :class:`ReplyTooLarge`
(neither an ``OSError``, so redis-py neither retries nor rewords them; it drops the
connection, whose stream is then mid-reply).

redis-py is imported only by :func:`bounded_parser`, when a store first connects.
"""

from __future__ import annotations

import functools
import math
import time
from typing import Any, Final

# A report's reply is the other fresh replicas' (id, payload) pairs: ~150 bytes each with
# RESP framing, so this is thousands of replicas per component. Each exchange may read
# this much per report, plus HANDSHAKE_BYTES for the connection's own replies (HELLO,
# CLIENT SETINFO, AUTH, SELECT) and the script's load.
REPLY_BYTES_PER_REPORT: Final = 1 << 20
HANDSHAKE_BYTES: Final = 64 << 10


class RedisTooSlow(Exception):
    """The exchange's replies did not all arrive within its time budget."""

    outage = "too slow"


class ReplyTooLarge(Exception):
    """The server sent more bytes than the exchange's replies can take."""

    outage = "reply too large"


class ExchangeGuard:
    """The limits of the exchange in progress, shared by the store's connections.

    Disarmed (no exchange in progress) it limits nothing; :meth:`arm` starts an exchange's
    budget, :meth:`disarm` ends it. One exchange at a time (the store serialises them).
    """

    __slots__ = ("budget", "deadline", "max_bytes", "received")

    def __init__(self) -> None:
        self.deadline = math.inf
        self.budget = math.inf
        self.max_bytes = math.inf
        self.received = 0

    def arm(self, budget: float, max_bytes: int) -> None:
        self.budget = budget
        self.max_bytes = max_bytes
        self.received = 0
        self.deadline = time.monotonic() + budget

    def disarm(self) -> None:
        self.deadline = self.budget = self.max_bytes = math.inf

    def too_slow(self) -> RedisTooSlow:
        return RedisTooSlow(f"no whole reply within timeout={self.budget:g} s")

    def take(self, count: int) -> None:
        self.received += count
        if self.received > self.max_bytes:
            raise ReplyTooLarge(
                f"more than {int(self.max_bytes)} bytes read, the most the replies of this "
                f"exchange can hold"
            )


class BoundedSocket:
    """A connected socket whose reads respect an :class:`ExchangeGuard`.

    The timeout redis-py sets is kept (0 polls, a number bounds one read) but no read
    waits past the guard's deadline; everything but reading is the socket's own.
    """

    def __init__(self, sock: Any, guard: ExchangeGuard) -> None:
        self._sock = sock
        self._guard = guard
        self._timeout: float | None = sock.gettimeout()

    def settimeout(self, value: float | None) -> None:
        self._timeout = value
        self._sock.settimeout(value)

    def gettimeout(self) -> float | None:
        return self._timeout

    def recv(self, size: int, *flags: int) -> bytes:
        guard = self._guard
        asked = self._timeout
        left = guard.deadline - time.monotonic()
        if left <= 0:
            raise guard.too_slow()
        # the deadline ends this read before redis-py's own timeout would (a poll, timeout
        # 0, stays a poll; disarmed, the deadline is infinite)
        by_deadline = asked != 0 and left < math.inf and (asked is None or left < asked)
        if by_deadline:
            self._sock.settimeout(left)
        try:
            data: bytes = self._sock.recv(size, *flags)
        except TimeoutError:  # socket.timeout
            if by_deadline:
                raise guard.too_slow() from None
            raise
        finally:
            if by_deadline:
                self._sock.settimeout(asked)
        guard.take(len(data))
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def bounded_parser(guard: ExchangeGuard, protocol: object) -> Any:
    """A redis-py ``parser_class`` whose connections read through :class:`BoundedSocket`.

    Pure Python (hiredis, if installed, buffers a reply whole before returning it), for
    RESP3 when the URL asks for it (redis-py would otherwise swap a RESP2 parser for its
    own RESP3 one after HELLO, dropping the bounds; redis-py 8 speaks RESP3 by default)."""
    from redis._parsers import _RESP2Parser, _RESP3Parser
    from redis._parsers.socket import SocketBuffer

    base: Any = _RESP3Parser if _resp3(protocol) else _RESP2Parser

    class BoundedParser(base):  # type: ignore[misc]
        _buffer: Any
        _sock: Any

        def __init__(self, socket_read_size: int, guard: ExchangeGuard) -> None:
            super().__init__(socket_read_size=socket_read_size)
            self._guard = guard

        def on_connect(self, connection: Any) -> None:
            super().on_connect(connection)
            self._buffer.close()
            self._sock = BoundedSocket(connection._sock, self._guard)
            self._buffer = SocketBuffer(
                self._sock, self.socket_read_size, connection.socket_timeout
            )

    return functools.partial(BoundedParser, guard=guard)


def _resp3(protocol: object) -> bool:
    """Whether redis-py speaks RESP3 for a pool's ``protocol`` (None: its default, 3 from
    redis-py 8 on, 2 before)."""
    try:
        from redis.utils import check_protocol_version
    except ImportError:  # redis-py before 8: RESP2 unless asked
        return str(protocol) == "3"
    return bool(check_protocol_version(protocol, 3))
