"""One SMTP connection: aiosmtpd's protocol, with Tidings's own MAIL, RCPT, DATA and AUTH.

Implementation notes (invariants a maintainer must keep):
- DATA ends only at ``<CRLF>.<CRLF>`` (``protocols/smtp/data.py``: lines end with CRLF
  alone); a bare LF or bare CR anywhere in the data rejects the message (RFC 5321 §2.3.8;
  SMTP smuggling).
- An over-size message is read to its end and then refused with its real size, so the client
  sees the 552 instead of a broken pipe (RFC 5321 §4.2.5 allows the reply after the data).
- "Secure" means TLS (STARTTLS or implicit) or a loopback peer, as in Dovecot: AUTH is
  offered and accepted only then (RFC 4954 §4 forbids plaintext passwords in the clear).
- The reply to DATA is sent only after ``SmtpServer.accept`` returned, which is after the
  message is durable (the delivery commit) — never before.
- Every reply a client sees after EHLO carries an enhanced status code (RFC 2034).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from typing import TYPE_CHECKING, Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope

from mailstore.routing import Route
from mailstore.trace import RecipientVerdict
from protocols.smtp.data import DataReceived, read_data
from protocols.smtp.limits import is_loopback
from protocols.smtp.replies import with_enhanced_code

if TYPE_CHECKING:
    from protocols.smtp.server import SmtpServer
    from protocols.smtp.settings import ListenerSettings

# RFC 3461 §4: DSN parameters we keep for the outbound queue.
MAIL_PARAMS = {"SIZE", "BODY", "SMTPUTF8", "RET", "ENVID", "AUTH"}
RCPT_PARAMS = {"NOTIFY", "ORCPT"}


class TidingsEnvelope(Envelope):
    """aiosmtpd's envelope plus what RCPT decided for each recipient."""

    def __init__(self) -> None:
        super().__init__()
        self.routes: list[Route] = []
        self.verdicts: list[RecipientVerdict] = []
        self.dsn: dict[str, Any] = {}
        self.declared_size: int | None = None
        self.in_data = False
        self.finished = False  # recorded in the message trace


class _NoHooks:
    """aiosmtpd's event handler: Tidings defines none of its ``handle_*`` hooks."""

    def __dir__(self) -> list[str]:
        # aiosmtpd looks for hooks in ``dir(handler)`` on every connection, through
        # ``inspect.getmembers``, which fetches every attribute object has.
        return []


_NO_HOOKS = _NoHooks()
# The everyday address, <local@domain> with a dot-atom local part, parsed without the
# general RFC 5322 parser (a few µs instead of ~50); anything else takes the general path.
_PLAIN_ADDRESS = re.compile(
    r"<((?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+\.)*[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
    r"@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)>")


# The ``smtp_*``/``auth_*`` method names of each session class (see ``SmtpSession.__dir__``).
_COMMAND_NAMES: dict[type, list[str]] = {}


class SmtpSession(SMTP):
    def __init__(self, server: SmtpServer, listener: ListenerSettings, **kwargs: Any) -> None:
        self.server = server
        self.listener = listener
        self.peer_ip = ""
        self.counted = False
        self.data_bytes = 0
        # aiosmtpd scans its handler for hooks on every connection; we have none (the
        # session calls ``server`` itself), so an empty handler saves that scan.
        super().__init__(_NO_HOOKS, **kwargs)
        self.command_size_limits["MAIL"] = 1024
        self.command_size_limits["RCPT"] = 1024

    def __dir__(self) -> list[str]:
        """Only the command and AUTH methods. aiosmtpd's __init__ looks its ``smtp_*`` and
        ``auth_*`` methods up in ``dir(self)`` (through ``inspect.getmembers``, which reads
        every attribute) on every connection: ~10% of the event loop under SMTP load."""
        cls = type(self)
        names = _COMMAND_NAMES.get(cls)
        if names is None:
            names = _COMMAND_NAMES[cls] = [
                n for n in object.__dir__(self) if n.startswith(("smtp_", "auth_"))]
        return list(names)

    def _create_envelope(self) -> TidingsEnvelope:
        return TidingsEnvelope()

    def _set_post_data_state(self) -> None:
        """A new transaction begins (EHLO, RSET, after DATA): trace the one that ends."""
        if isinstance(self.envelope, TidingsEnvelope):
            self.server.transaction_ended(self, self.envelope, "abandoned")
        super()._set_post_data_state()

    # Connection -------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.transport is None
        super().connection_made(transport)
        if first:
            self.server.sessions.add(self)
            peer = transport.get_extra_info("peername") or ("", 0)
            self.peer_ip = str(peer[0])
            # Submission demands STARTTLS (RFC 8314 §3.3), except from loopback, which counts
            # as secure; MX takes plaintext from servers that cannot do TLS.
            self.require_starttls = (bool(self.tls_context) and self.listener.auth_required
                                     and not self.secure)
            self._auth_required = self.listener.auth_required

    def connection_lost(self, error: Exception | None) -> None:
        if isinstance(self.envelope, TidingsEnvelope):
            self.server.transaction_ended(
                self, self.envelope, "aborted" if self.envelope.in_data else "abandoned")
        self.server.sessions.discard(self)
        if self.counted:
            self.server.connections.close(self.peer_ip)
            self.counted = False
        super().connection_lost(error)

    @property
    def tls_object(self) -> Any:
        return self.transport.get_extra_info("ssl_object") if self.transport else None

    @property
    def secure(self) -> bool:
        return self.tls_object is not None or is_loopback(self.peer_ip)

    def tls_description(self) -> str:
        tls = self.tls_object
        if tls is None:
            return ""
        cipher = tls.cipher()
        return f"using {tls.version()} with cipher {cipher[0] if cipher else 'unknown'}"

    async def _handle_client(self) -> None:
        refusal = await self.server.connect_refusal(self)
        if refusal is None and not self.server.connections.open(self.peer_ip):
            refusal = (f"421 4.7.0 too many connections from {self.peer_ip}, "
                       "try again later")
        elif refusal is None:
            self.counted = True
        if refusal is not None:
            await self.push(refusal)
            if self.transport is not None:
                self.transport.close()
            return
        await super()._handle_client()

    async def push(self, status: str | bytes) -> None:
        if isinstance(status, str) and self.session is not None \
                and self.session.extended_smtp:
            status = with_enhanced_code(status)
        await super().push(status)

    # EHLO ---------------------------------------------------------------------------------
    async def smtp_EHLO(self, hostname: str) -> None:
        if not hostname:
            await self.push("501 Syntax: EHLO hostname")
            return
        self._set_rset_state()
        assert self.session is not None
        self.session.extended_smtp = True
        self.session.host_name = hostname
        lines = [f"{self.hostname} greets {hostname}", "PIPELINING",
                 f"SIZE {self.server.settings.max_message_size}", "8BITMIME", "SMTPUTF8",
                 "ENHANCEDSTATUSCODES", "DSN"]
        if self.tls_context and self.tls_object is None:
            lines.append("STARTTLS")
        if self.secure:
            lines.append("AUTH PLAIN LOGIN")
        # One write for the whole reply: a send per line costs a system call each.
        await super().push("\r\n".join(
            f"250{' ' if i == len(lines) - 1 else '-'}{line}" for i, line in enumerate(lines)))

    # AUTH ---------------------------------------------------------------------------------
    async def smtp_AUTH(self, arg: str) -> None:
        assert self.session is not None
        if self.session.extended_smtp and not self.secure:
            await self.push("538 5.7.11 encryption required: use STARTTLS before AUTH")
            return
        if self.server.store.logins.locked(self.peer_ip):
            await self.push("454 4.7.0 too many failed attempts, try later")
            return
        was = self.session.authenticated
        await super().smtp_AUTH(arg)
        if not was and arg and not self.session.authenticated:
            self.server.store.logins.fail(self.peer_ip)
        elif self.session.authenticated and not was:
            self.server.store.logins.succeed(self.peer_ip)

    async def auth_PLAIN(self, _: Any, args: list[str]) -> AuthResult:
        if len(args) == 1:
            blob = await self.challenge_auth("")
            if not isinstance(blob, bytes):
                return AuthResult(success=False, handled=True)
        else:
            blob = await self._decode(args[1])
            if blob is None:
                return AuthResult(success=False, handled=True)
        parts = blob.split(b"\x00")
        if len(parts) != 3:  # RFC 4616 §2: [authzid] NUL authcid NUL passwd
            await self.push("501 5.5.2 cannot split the AUTH PLAIN value")
            return AuthResult(success=False, handled=True)
        return await self._check(parts[1], parts[2])

    async def auth_LOGIN(self, _: Any, args: list[str]) -> AuthResult:
        if len(args) == 1:
            login = await self.challenge_auth(self.AuthLoginUsernameChallenge)
        else:
            login = await self._decode(args[1])
        if not isinstance(login, bytes):
            return AuthResult(success=False, handled=True)
        password = await self.challenge_auth(self.AuthLoginPasswordChallenge)
        if not isinstance(password, bytes):
            return AuthResult(success=False, handled=True)
        return await self._check(login, password)

    async def _decode(self, text: str) -> bytes | None:
        try:
            return base64.b64decode(text.encode(), validate=True)
        except (binascii.Error, ValueError):
            await self.push("501 5.5.2 cannot decode base64")
            return None

    async def _check(self, login: bytes, password: bytes) -> AuthResult:
        account = await self.server.store.accounts.authenticate(
            login.decode("utf-8", "replace"), password.decode("utf-8", "replace"))
        if account is None:
            return AuthResult(success=False, handled=False,
                              message="535 5.7.8 authentication failed: wrong user name or "
                                      "password")
        return AuthResult(success=True, auth_data=account)

    @property
    def auth_user(self) -> str | None:
        data = self.session.auth_data if self.session else None
        return getattr(data, "address", None)

    # MAIL / RCPT --------------------------------------------------------------------------
    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        match = _PLAIN_ADDRESS.match(arg)
        limit = self.local_part_limit
        rest = arg[match.end():] if match else ""
        if match is None or "(" in rest or (  # a comment: the general parser drops it
                limit and len(match[1].rpartition("@")[0]) > limit):
            return super()._getaddr(arg)
        return match[1], rest.lstrip()

    async def smtp_MAIL(self, arg: str | None) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("MAIL"):
            return
        assert self.session is not None and self.envelope is not None
        syntax = "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]"
        arg = self._strip_command_keyword("FROM:", arg or "")
        if arg is None:
            await self.push(syntax)
            return
        address, rest = self._getaddr(arg)
        if address is None:
            await self.push("553 5.1.3 malformed sender address")
            return
        if self.envelope.mail_from is not None:
            await self.push("503 5.5.1 nested MAIL command")
            return
        params = self._getparams((rest or "").split())
        if params is None or (rest and not self.session.extended_smtp):
            await self.push(syntax)
            return
        params = {k.upper(): v for k, v in params.items()}
        unknown = set(params) - MAIL_PARAMS
        if unknown:
            await self.push(f"555 5.5.4 MAIL parameter {sorted(unknown)[0]} not supported")
            return
        size = params.get("SIZE")
        if size is not None:
            if not isinstance(size, str) or not size.isdigit():
                await self.push("501 5.5.4 SIZE needs a number")
                return
            limit = self.server.settings.max_message_size
            if int(size) > limit:
                await self.push(f"552 5.3.4 message too big: {int(size)} bytes, "
                                f"limit is {limit}")
                return
            self.envelope.declared_size = int(size)
        body = params.get("BODY", "7BIT")
        if not isinstance(body, str) or body.upper() not in ("7BIT", "8BITMIME"):
            await self.push("501 5.5.4 BODY must be 7BIT or 8BITMIME")
            return
        if "RET" in params:
            if not isinstance(params["RET"], str) or params["RET"].upper() not in (
                    "FULL", "HDRS"):
                await self.push("501 5.5.4 RET must be FULL or HDRS")
                return
            self.envelope.dsn["ret"] = params["RET"].upper()
        if isinstance(params.get("ENVID"), str):
            self.envelope.dsn["envid"] = params["ENVID"]
        refusal = self.server.mail_refusal(self, address)
        if refusal:
            await self.push(refusal)
            return
        self.envelope.mail_from = address
        self.envelope.smtp_utf8 = bool(params.get("SMTPUTF8"))
        self.envelope.mail_options.extend((rest or "").split())
        await self.push("250 2.1.0 sender OK")

    async def smtp_RCPT(self, arg: str | None) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("RCPT"):
            return
        assert self.session is not None and self.envelope is not None
        if self.envelope.mail_from is None:
            await self.push("503 5.5.1 need MAIL command first")
            return
        syntax = "501 5.5.4 Syntax: RCPT TO:<address> [parameters]"
        arg = self._strip_command_keyword("TO:", arg or "")
        if arg is None:
            await self.push(syntax)
            return
        address, rest = self._getaddr(arg)
        if not address:
            await self.push("553 5.1.3 malformed recipient address" if address is None
                            else syntax)
            return
        params = self._getparams((rest or "").split())
        if params is None:
            await self.push(syntax)
            return
        params = {k.upper(): v for k, v in params.items()}
        unknown = set(params) - RCPT_PARAMS
        if unknown:
            await self.push(f"555 5.5.4 RCPT parameter {sorted(unknown)[0]} not supported")
            return
        if len(self.envelope.rcpt_tos) >= self.server.settings.max_recipients:
            await self.push("452 4.5.3 too many recipients")
            return
        route, reply = await self.server.rcpt_verdict(self, address)
        self.server.note_recipient(self, address, route, reply)
        if route is not None:
            self.envelope.rcpt_tos.append(address)
            self.envelope.routes.append(route)
            if params:
                self.envelope.dsn.setdefault("rcpt", {})[address] = params
        await self.push(reply)

    # DATA ---------------------------------------------------------------------------------
    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 5.5.1 need RCPT command first")
            return
        if arg:
            await self.push("501 5.5.4 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        envelope = self.envelope
        envelope.in_data = True
        data = await self._read_data(self.server.settings.max_message_size)
        envelope.in_data = False
        envelope.finished = True  # ``accept`` traces it
        self._set_post_data_state()
        reply = await self.server.accept(self, envelope, data)
        await self.push(reply)

    async def _read_data(self, limit: int) -> DataReceived:
        try:
            return await read_data(self._reader, limit)
        except asyncio.IncompleteReadError as exc:
            raise asyncio.CancelledError from exc
