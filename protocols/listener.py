"""What the IMAP and POP3 front doors share: serving sessions on pre-bound sockets, and who
is on the other end.

Implementation notes:
- Sockets are bound by the caller (``tidings serve`` binds every service up front, tests
  bind port 0); a listener only serves them, as tasks of the caller's event loop.
- One task per connection; a session's failure ends that connection only (logged).
  ``close()`` stops listening and cancels the sessions, which say goodbye when they can.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Peer:
    text: str  # "ip:port", for logs
    ip: str  # the key of login throttling
    loopback: bool  # loopback counts as secure, as in Dovecot

    @classmethod
    def of(cls, writer: asyncio.StreamWriter) -> Peer:
        peer = writer.get_extra_info("peername")
        if not isinstance(peer, tuple):
            return cls(str(peer), str(peer), isinstance(peer, str))  # a Unix socket is local
        try:
            loopback = ipaddress.ip_address(peer[0]).is_loopback
        except ValueError:
            loopback = False
        return cls(f"{peer[0]}:{peer[1]}", str(peer[0]), loopback)


class SessionListener:
    def __init__(self, protocol: str, line_limit: int) -> None:
        self.log = logging.getLogger(f"tidings.{protocol.lower()}")
        self.protocol = protocol
        self.line_limit = line_limit
        self._servers: list[asyncio.Server] = []
        self._sessions: set[asyncio.Task] = set()

    async def start(self, sock: socket.socket, handler: Handler,
                    tls: ssl.SSLContext | None = None) -> asyncio.Server:
        """Accept connections on ``sock``; with ``tls``, TLS from the first byte."""

        async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            self._sessions.add(task)
            try:
                await handler(reader, writer)
            except asyncio.CancelledError:
                pass
            except Exception:
                self.log.exception("%s session ended by an unexpected error", self.protocol)
            finally:
                self._sessions.discard(task)

        server = await asyncio.start_server(
            connected, sock=sock, ssl=tls, limit=self.line_limit,
            ssl_handshake_timeout=60 if tls is not None else None)
        self._servers.append(server)
        return server

    def stop_listening(self, server: asyncio.Server) -> None:
        """Close one socket: no new connections there; sessions already open go on."""
        server.close()
        if server in self._servers:
            self._servers.remove(server)

    @property
    def sessions(self) -> int:
        """Connections being served now (a session's clean-up after its end included)."""
        return len(self._sessions)

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._sessions):
            task.cancel()
        for task in list(self._sessions):
            with contextlib.suppress(BaseException):
                await task
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
        self._servers.clear()


class SessionServer:
    """A front door's server: one ``session(reader, writer, tls)`` per connection on every
    socket it was given, plain or TLS from the first byte (IMAPS, POP3S)."""

    def __init__(self, protocol: str, line_limit: int, tls: ssl.SSLContext | None) -> None:
        self.tls_context = tls
        self._listener = SessionListener(protocol, line_limit)
        # implicit TLS or not -> (allow, deny) networks; empty allow: everyone may connect
        self.access: dict[bool, tuple[tuple[Network, ...], tuple[Network, ...]]] = {}

    def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                tls: bool) -> Awaitable[None]:
        raise NotImplementedError

    async def start(self, sock: socket.socket, implicit_tls: bool = False) -> asyncio.Server:
        """Accept connections on ``sock`` (TLS from the first byte when ``implicit_tls``).

        A client whose address ``refused`` names is disconnected before the greeting: the
        allow and deny lists are looked up per connection, so a change applies at once."""
        if implicit_tls and self.tls_context is None:
            raise ValueError("implicit TLS needs a TLS context")

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if self.refused(Peer.of(writer).ip, implicit_tls):
                writer.close()
                return
            await self.session(reader, writer, implicit_tls)

        return await self._listener.start(sock, serve,
                                          self.tls_context if implicit_tls else None)

    def refused(self, ip: str, implicit_tls: bool) -> bool:
        """Whether the plain (``implicit_tls`` False) or TLS socket turns ``ip`` away."""
        allow, deny = self.access.get(implicit_tls, ((), ()))
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False  # a Unix socket: local
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped

        def within(networks: tuple[Network, ...]) -> bool:
            return any(address.version == n.version and address in n for n in networks)

        return within(deny) or (bool(allow) and not within(allow))

    def stop_listening(self, server: asyncio.Server) -> None:
        """Stop accepting on one socket given by ``start``; open sessions go on."""
        self._listener.stop_listening(server)

    @property
    def sessions(self) -> int:
        return self._listener.sessions

    async def close(self) -> None:
        await self._listener.close()
