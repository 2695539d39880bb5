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
import ssl
from collections.abc import Awaitable

from mailstore.store import Store
from protocols.imap.session import MAX_LINE, Session
from protocols.listener import SessionServer

DEFAULT_APPEND_LIMIT = 50 * 1024 * 1024
# All messages of one MULTIAPPEND together (they are held in memory until stored).
DEFAULT_APPEND_TOTAL_LIMIT = 100 * 1024 * 1024


class ImapServer(SessionServer):
    """Serves IMAP on pre-bound sockets for one store."""

    def __init__(
        self, store: Store, hostname: str = "localhost",
        tls: ssl.SSLContext | None = None, *, loopback_is_secure: bool = True,
        append_limit: int = DEFAULT_APPEND_LIMIT, failure_delay: float = 1.0,
        append_total_limit: int | None = None,
    ) -> None:
        self.store = store
        self.hostname = hostname
        super().__init__("IMAP", MAX_LINE, tls)
        self.loopback_is_secure = loopback_is_secure
        self.append_limit = append_limit
        self.append_total_limit = max(append_limit, append_total_limit
                                      if append_total_limit is not None
                                      else DEFAULT_APPEND_TOTAL_LIMIT)
        # Slows each guess; Store.logins locks an address out after repeated failures.
        self.failure_delay = failure_delay

    def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                tls: bool) -> Awaitable[None]:
        return Session(self, reader, writer, tls=tls).run()
