"""TCP ports on the loopback interface: a free one to serve on, and whether one is served."""

from __future__ import annotations

import socket

__all__ = ["accepts_connections", "free_port"]


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on now, picked by the OS.

    The port is released before it is returned, so another process could take it first;
    tests accept that small race rather than pass open sockets to their servers.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def accepts_connections(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something listens on `host:port`; connects and closes without sending a byte,
    so no request reaches the server (no access log line, no rate-limit token spent)."""
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False
