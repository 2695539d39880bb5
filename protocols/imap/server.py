"""The IMAP front door: listening sockets (STARTTLS on 143, implicit TLS on 993) and sessions.

Implementation notes:
- Sockets are bound by the caller (``tidings serve`` binds every service up front, tests
  bind port 0); this module only serves them, as tasks of the caller's event loop.
- One ``Session`` per connection (``session.py``); a session's failure ends that connection
  only. ``close()`` stops listening and cancels the sessions, which say BYE when they can.
- TLS comes from the data folder's certificate (``tls/cert.pem`` + ``tls/key.pem``, written by
  ``tidings init``). Without TLS, only loopback clients may log in (they count as secure,
  as in Dovecot); others see LOGINDISABLED (RFC 9051 §6.2.3).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl

from mailstore.store import Store
from protocols.imap.session import MAX_LINE, Session

log = logging.getLogger("tidings.imap")

DEFAULT_APPEND_LIMIT = 50 * 1024 * 1024
# All messages of one MULTIAPPEND together (they are held in memory until stored).
DEFAULT_APPEND_TOTAL_LIMIT = 100 * 1024 * 1024


class ImapServer:
    """Serves IMAP on pre-bound sockets for one store."""

    def __init__(
        self, store: Store, hostname: str = "localhost",
        tls: ssl.SSLContext | None = None, *, loopback_is_secure: bool = True,
        append_limit: int = DEFAULT_APPEND_LIMIT, failure_delay: float = 1.0,
        append_total_limit: int | None = None,
    ) -> None:
        self.store = store
        self.hostname = hostname
        self.tls_context = tls
        self.loopback_is_secure = loopback_is_secure
        self.append_limit = append_limit
        self.append_total_limit = max(append_limit, append_total_limit
                                      if append_total_limit is not None
                                      else DEFAULT_APPEND_TOTAL_LIMIT)
        # Slows each guess; Store.logins locks an address out after repeated failures.
        self.failure_delay = failure_delay
        self._servers: list[asyncio.Server] = []
        self._sessions: set[asyncio.Task] = set()

    async def start(self, sock: socket.socket, implicit_tls: bool = False) -> None:
        """Accept connections on ``sock`` (IMAPS when ``implicit_tls``)."""
        if implicit_tls and self.tls_context is None:
            raise ValueError("implicit TLS needs a TLS context")

        async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            self._sessions.add(task)
            try:
                await Session(self, reader, writer, tls=implicit_tls).run()
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("IMAP session ended by an unexpected error")
            finally:
                self._sessions.discard(task)

        server = await asyncio.start_server(
            connected, sock=sock, ssl=self.tls_context if implicit_tls else None,
            limit=MAX_LINE)
        self._servers.append(server)

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
