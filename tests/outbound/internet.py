"""The "internet" of the outbound tests: real SMTP servers on loopback addresses.

Every remote mail server listens on its own 127.0.0.N address and the same port, as MX
hosts on the internet all listen on port 25; the loopback DNS server (tests/dnszone.py)
gives them names and MX records. A remote's ``mode`` says how it answers.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

ACCEPT, TEMPFAIL, REJECT, HANGUP_IN_DATA, HANG = (
    "accept", "tempfail", "reject", "hangup-in-data", "hang")


@dataclass
class Received:
    mail_from: str
    recipients: list[str]
    data: bytes
    tls: bool
    mail_options: list[str]
    rcpt_options: list[list[str]]

    @property
    def message(self) -> Message:
        return message_from_bytes(self.data)


@dataclass
class Remote:
    """One loopback mail server and what it received."""

    address: str
    port: int
    mode: str = ACCEPT
    refuse: set[str] = field(default_factory=set)  # recipients answered 550 5.1.1
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    delay: float = 0.0  # seconds before answering each DATA
    server: asyncio.AbstractServer | None = None
    released: asyncio.Event = field(default_factory=asyncio.Event)

    async def close(self) -> None:
        self.released.set()
        if self.server is not None:
            self.server.close()


class _Handler:
    def __init__(self, remote: Remote) -> None:
        self.remote = remote

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if self.remote.mode == TEMPFAIL:
            return "451 4.3.0 please try again later"
        if self.remote.mode == REJECT or address in self.remote.refuse:
            return f"550 5.1.1 <{address}>: no such user here"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.append(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.remote.mode == HANG:
            await self.remote.released.wait()
            return "451 4.3.0 released"
        if self.remote.delay:
            await asyncio.sleep(self.remote.delay)
        self.remote.received.append(Received(
            envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or b"",
            session.ssl is not None, list(envelope.mail_options),
            list(envelope.rcpt_options)))
        return "250 2.0.0 queued as remote"


class _Smtp(SMTP):
    """Counts connections; ``hangup-in-data`` drops the line after 354 and a few bytes."""

    def __init__(self, remote: Remote, **kwargs: object) -> None:
        super().__init__(_Handler(remote), **kwargs)
        self.remote = remote

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.remote.connections += 1
        super().connection_made(transport)

    async def smtp_DATA(self, arg: str) -> None:
        if self.remote.mode == HANGUP_IN_DATA and self.envelope.rcpt_tos:
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            await self._reader.read(100)
            self.transport.close()
            return
        await super().smtp_DATA(arg)


async def start_remote(address: str, port: int, mode: str = ACCEPT, *,
                       tls: ssl.SSLContext | None = None, auth: dict[str, str] | None = None,
                       implicit_tls: bool = False) -> Remote:
    remote = Remote(address, port, mode)

    def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                     data: object) -> AuthResult:
        ok = isinstance(data, LoginPassword) and auth is not None and \
            auth.get(data.login.decode()) == data.password.decode()
        return AuthResult(success=ok, handled=False)

    def factory() -> SMTP:
        return _Smtp(remote, hostname=f"mx-{address}", enable_SMTPUTF8=True,
                     decode_data=False, data_size_limit=None,
                     tls_context=None if implicit_tls else tls,
                     require_starttls=bool(auth) and tls is not None and not implicit_tls,
                     authenticator=authenticate if auth else None,
                     auth_require_tls=bool(tls), auth_exclude_mechanism=["CRAM-MD5"])

    loop = asyncio.get_running_loop()
    remote.server = await loop.create_server(factory, address, port,
                                             ssl=tls if implicit_tls else None)
    return remote
