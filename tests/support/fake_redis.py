"""A tiny fake Redis on 127.0.0.1 (a port chosen at run time) that misbehaves on purpose.

It speaks enough RESP for redis-py's handshake and ragsight's exchange: a map to ``HELLO``,
``+OK`` to every other command, a SHA to ``SCRIPT LOAD``, and to ``EVALSHA`` what ``mode`` says:

* ``"good"``: the script's reply with no other replica (an empty array);
* ``"trickle"``: a reply that never ends, one byte every ``interval`` seconds (each read
  gets its byte well within a socket timeout, the reply never completes);
* ``"huge"``: a bulk string announced as ``announce`` bytes, then as many bytes as the
  client takes, as fast as it takes them.

Each connection has its own thread; ``close()`` ends them all. ``sent`` counts the bytes
written in answer to EVALSHA.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import BinaryIO, Literal

Mode = Literal["good", "trickle", "huge"]
SHA = b"0" * 40


class FakeRedis:
    def __init__(
        self, mode: Mode, *, interval: float = 0.02, announce: int = 3_000_000_000
    ) -> None:
        self.mode = mode
        self.interval = interval
        self.announce = announce
        self.sent = 0
        self.evalshas = 0
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        accept = threading.Thread(target=self._accept, name="fake-redis-accept", daemon=True)
        accept.start()
        self._threads.append(accept)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            conns = [self._listener, *self._conns]  # a shutdown wakes a blocked accept()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        for thread in self._threads:
            thread.join(timeout=10)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            while not self._stop.is_set():
                command = _read_command(reader)
                if command is None:
                    return
                name = command[0].upper() if command else b""
                if name == b"HELLO":  # RESP3, redis-py 8's default
                    conn.sendall(b"%2\r\n+server\r\n+redis\r\n+proto\r\n:3\r\n")
                elif name == b"SCRIPT":
                    conn.sendall(b"$40\r\n" + SHA + b"\r\n")
                elif name == b"EVALSHA":
                    self.evalshas += 1
                    self._answer(conn)
                else:
                    conn.sendall(b"+OK\r\n")
        except OSError:
            return
        finally:
            reader.close()

    def _answer(self, conn: socket.socket) -> None:
        if self.mode == "good":
            conn.sendall(b"*0\r\n")
            return
        if self.mode == "trickle":
            body = b"*2\r\n$100000000\r\n"
            i = 0
            while not self._stop.wait(self.interval):
                conn.sendall(body[i : i + 1] if i < len(body) else b"x")
                self.sent += 1
                i += 1
            return
        conn.sendall(b"$%d\r\n" % self.announce)
        chunk = b"x" * 65536
        while not self._stop.is_set():
            conn.sendall(chunk)  # raises once the client has hung up
            self.sent += len(chunk)


def _read_command(reader: BinaryIO) -> list[bytes] | None:
    """One RESP array of bulk strings, or None when the client hung up."""
    header = reader.readline()
    if not header:
        return None
    if not header.startswith(b"*"):  # an inline command
        return header.split()
    args = []
    for _ in range(int(header[1:])):
        length = int(reader.readline()[1:])
        args.append(reader.read(length + 2)[:-2])
    return args
