"""The POP3 front door: listening sockets (STLS on 110, implicit TLS on 995) and sessions.

Implementation notes:
- Sockets are bound by the caller (``tidings serve`` binds every service up front, tests
  bind port 0); this module only serves them, as tasks of the caller's event loop.
- One ``Session`` per connection (``session.py``); a session's failure ends that connection
  only. ``close()`` stops listening and cancels the sessions; a cancelled session deletes
  nothing (only QUIT enters the UPDATE state).
- One POP3 session per maildrop (RFC 1939 §8: the server locks the maildrop): the ids of
  the accounts in a session are kept here, for both ports of this server. With several
  nodes on one PostgreSQL each node locks for itself; a lock in the database would be the
  next step.
- TLS comes from the data folder's certificate. Without TLS, only loopback clients may log
  in (they count as secure, as in Dovecot); others are offered STLS and nothing else.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable

from mailstore.store import Store
from protocols.listener import SessionServer
from protocols.pop3.session import IDLE_TIMEOUT, MAX_LINE, Session


class Pop3Server(SessionServer):
    """Serves POP3 on pre-bound sockets for one store."""

    def __init__(
        self, store: Store, hostname: str = "localhost",
        tls: ssl.SSLContext | None = None, *, loopback_is_secure: bool = True,
        failure_delay: float = 1.0, idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        self.store = store
        self.hostname = hostname
        super().__init__("POP3", MAX_LINE, tls)
        self.loopback_is_secure = loopback_is_secure
        # Slows each guess; Store.logins locks an address out after repeated failures.
        self.failure_delay = failure_delay
        self.idle_timeout = idle_timeout
        self._in_use: set[int] = set()  # account ids with a POP3 session in TRANSACTION

    def acquire(self, account_id: int) -> bool:
        """Lock an account's maildrop for one session; False if another holds it."""
        if account_id in self._in_use:
            return False
        self._in_use.add(account_id)
        return True

    def release(self, account_id: int | None) -> None:
        if account_id is not None:
            self._in_use.discard(account_id)

    def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                tls: bool) -> Awaitable[None]:
        return Session(self, reader, writer, tls=tls).run()
