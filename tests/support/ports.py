"""Free TCP ports on 127.0.0.1 for servers that tests start."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port the OS just handed out and released; races are possible but rare on one host.

    Prefer binding servers to port 0 directly; use this only for a process that must be
    told its port up front (a Collector, Prometheus) or to get a port that is surely closed.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def closed_port() -> int:
    """A port with nothing listening on it, for "collector is down" tests."""
    return free_port()
