"""Listening sockets for the front doors, and why one cannot be had, in plain words.

``tidings serve`` binds at start, the admin's Server page checks an address before saving
it, and a changed service is rebound live: all three go through ``listen``.
"""

from __future__ import annotations

import errno
import socket


def listen(host: str, port: int) -> socket.socket:
    """A non-blocking listening TCP socket; OSError says why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(512)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def bind_problem(host: str, port: int) -> str:
    """Why this machine cannot listen on ``host:port``, in plain words ("" if it can)."""
    try:
        listen(host, port).close()
    except OSError as exc:
        return plain_reason(exc, host, port)
    return ""


def plain_reason(exc: OSError, host: str, port: int) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} is already in use by another program on this machine"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine"
    if exc.errno == errno.EACCES:
        return (f"port {port} is below 1024 and the server may not use it (run it with the "
                "right to bind low ports)")
    if isinstance(exc, socket.gaierror):
        return f"{host} is not an IP address"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
