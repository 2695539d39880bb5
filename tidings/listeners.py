"""The mail services' listening sockets, rebound live when the admin changes the bind
address, a port, or switches a service on or off.

Implementation notes:
- Only SMTP (smtp, submission, submissions), IMAP (imap, imaps) and POP3 (pop3, pop3s) are
  managed here. The web listener serves the admin's own page and changes only with a
  restart (``tidings.control.WEB_ONLY_IN_FILE``).
- A changed service first stops listening on its old address (sessions already open go on
  until they end), then every changed service binds its new one: two services may swap
  ports in one change.
- A service that cannot bind its new address reports why in ``Control.problems`` (the
  dashboard shows it) and is retried on the next change. The admin's pages check the
  address before saving, so this only happens when another program takes it in between.
"""

from __future__ import annotations

import asyncio
import socket
import sys

from protocols.listener import SessionServer
from protocols.smtp.server import SmtpServer
from protocols.smtp.settings import MX, SUBMISSION, SUBMISSIONS
from tidings.config import Config
from tidings.control import Control
from tidings.sockets import listen, plain_reason

SMTP_SERVICES = (MX, SUBMISSION, SUBMISSIONS)
MAIL_SERVICES = (*SMTP_SERVICES, "imap", "imaps", "pop3", "pop3s")


class Listeners:
    def __init__(self, control: Control, smtp: SmtpServer,
                 access: dict[str, SessionServer]) -> None:
        self.control = control
        self.smtp = smtp
        self.access = access  # "imap" / "pop3" -> its server (plain and TLS sockets)
        self.wanted: dict[str, tuple[str, int]] = {}  # service -> configured (bind, port)
        self._servers: dict[str, asyncio.Server] = {}

    async def start(self, name: str, sock: socket.socket, wanted: tuple[str, int]) -> None:
        """Serve ``name`` on a socket bound by the caller."""
        if name in SMTP_SERVICES:
            server = (await self.smtp.start({name: sock}))[name]
        else:
            server = await self.access[name.removesuffix("s")].start(
                sock, implicit_tls=name.endswith("s"))
        self._servers[name] = server
        self.wanted[name] = wanted
        self.control.listening[name] = sock.getsockname()[:2]
        self.control.problems.pop(name, None)

    def stop(self, name: str) -> None:
        server = self._servers.pop(name, None)
        if server is not None:
            if name in SMTP_SERVICES:
                self.smtp.stop_listening(name)
            else:
                self.access[name.removesuffix("s")].stop_listening(server)
        self.wanted.pop(name, None)
        self.control.listening.pop(name, None)

    async def apply(self, cfg: Config) -> None:
        """Bring every mail service to what ``cfg`` says: listening where it says, or not."""
        wanted = {name: (cfg.bind, cfg.ports[name]) for name in MAIL_SERVICES
                  if cfg.enabled.get(name)}
        changed = [name for name in MAIL_SERVICES
                   if self.wanted.get(name) != wanted.get(name)
                   or name in self.control.problems]
        for name in changed:
            self.stop(name)
            self.control.problems.pop(name, None)
        for name in changed:
            if name not in wanted:
                continue
            host, port = wanted[name]
            try:
                sock = listen(host, port)
            except OSError as exc:
                self.control.problems[name] = plain_reason(exc, host, port)
                print(f"tidings: error: {name} cannot listen on {host}:{port}: "
                      f"{self.control.problems[name]}", file=sys.stderr, flush=True)
                continue
            await self.start(name, sock, wanted[name])
            where = self.control.listening[name]
            print(f"tidings: {name} listening on {where[0]}:{where[1]}", file=sys.stderr,
                  flush=True)
        for name in MAIL_SERVICES:
            if name not in wanted and name in changed:
                print(f"tidings: {name} switched off", file=sys.stderr, flush=True)
