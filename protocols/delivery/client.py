"""One SMTP client connection to a remote server, sending one message after another.

Implementation notes:
- Every command has the RFC 5321 §4.5.3.2 timeout from the settings; nothing waits forever.
- Answers are per recipient: a refused RCPT gets its own reply, a refused MAIL or DATA is
  every recipient's answer. ``Answer.reply`` keeps the remote's words, for the bounce.
- TLS: with ``tls="opportunistic"`` (MX hosts) STARTTLS is used when offered, without
  checking the certificate (as Postfix's "may" level), and a failed handshake falls back to
  a plain connection. Smart hosts use "starttls" (required), "implicit" or "none".
- A connection that broke (the peer hung up, a timeout) raises ``ConnectionLost`` carrying
  the answers so far; recipients without one are retried later.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import aiosmtplib
from aiosmtplib import (
    SMTPException,
    SMTPRecipientRefused,
    SMTPResponseException,
    SMTPServerDisconnected,
    SMTPTimeoutError,
)

OPPORTUNISTIC = "opportunistic"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message for some of its recipients at this destination."""

    mail_from: str
    recipients: tuple[str, ...]
    message: bytes
    ret: str = ""  # DSN RET=FULL|HDRS, passed on when the server speaks DSN (RFC 3461)
    envid: str = ""
    rcpt_params: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Answer:
    recipient: str
    reply: str  # "250 2.0.0 Ok", "550 5.1.1 no such user", "451 4.4.2 connection lost"

    @property
    def code(self) -> int:
        return int(self.reply[:3])


class ConnectFailed(Exception):
    """Could not get a usable session; ``reply`` is the SMTP-style reason."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


class ConnectionLost(Exception):
    def __init__(self, reply: str, answers: list[Answer]) -> None:
        super().__init__(reply)
        self.reply = reply
        self.answers = answers


def _reply(code: int, text: str) -> str:
    text = " ".join(str(text).split())
    return f"{code} {text}".strip()


@dataclass(slots=True)
class Session:
    smtp: aiosmtplib.SMTP
    host: str  # the name we connected to
    address: str
    tls_version: str
    timeouts: Mapping[str, float]

    def supports(self, extension: str) -> bool:
        return self.smtp.supports_extension(extension)

    async def send(self, out: Outgoing) -> list[Answer]:
        """One mail transaction; raises ConnectionLost if the connection broke."""
        answers: list[Answer] = []
        command = self.timeouts["command"]
        try:
            needs_utf8 = not all(a.isascii() for a in (out.mail_from, *out.recipients))
            if needs_utf8 and not self.supports("smtputf8"):
                refusal = (f"553 5.6.7 {self.host} does not accept non-ASCII addresses "
                           "(no SMTPUTF8)")
                return [Answer(r, refusal) for r in out.recipients]
            options = self._mail_options(out, needs_utf8)
            encoding = "utf-8" if needs_utf8 else "ascii"
            try:
                await self.smtp.mail(out.mail_from, options=options, encoding=encoding,
                                     timeout=command)
            except SMTPResponseException as exc:
                await self._reset()
                return [Answer(r, _reply(exc.code, exc.message)) for r in out.recipients]
            accepted = []
            for rcpt in out.recipients:
                try:
                    await self.smtp.rcpt(rcpt, options=self._rcpt_options(out, rcpt),
                                         encoding=encoding, timeout=command)
                    accepted.append(rcpt)
                except SMTPRecipientRefused as exc:
                    answers.append(Answer(rcpt, _reply(exc.code, exc.message)))
            if not accepted:
                await self._reset()
                return answers
            message = out.message if out.message.endswith(b"\r\n") else out.message + b"\r\n"
            try:
                response = await self.smtp.data(message, timeout=self.timeouts["data_end"])
            except SMTPResponseException as exc:
                if isinstance(exc, SMTPServerDisconnected):
                    raise
                await self._reset()
                answers.extend(Answer(r, _reply(exc.code, exc.message)) for r in accepted)
                return answers
            answers.extend(Answer(r, _reply(response.code, response.message)) for r in accepted)
            return answers
        except (SMTPServerDisconnected, SMTPTimeoutError, ConnectionError, OSError) as exc:
            what = "timed out" if isinstance(exc, SMTPTimeoutError | TimeoutError) \
                else "closed the connection"
            raise ConnectionLost(f"451 4.4.2 {self.host} {what} during the transaction",
                                 answers) from exc

    def _mail_options(self, out: Outgoing, utf8: bool) -> list[str]:
        options = []
        if self.supports("size"):
            options.append(f"SIZE={len(out.message)}")
        if self.supports("8bitmime") and not out.message.isascii():
            options.append("BODY=8BITMIME")
        if utf8:
            options.append("SMTPUTF8")
        if self.supports("dsn"):
            if out.ret:
                options.append(f"RET={out.ret}")
            if out.envid:
                options.append(f"ENVID={out.envid}")
        return options

    def _rcpt_options(self, out: Outgoing, rcpt: str) -> list[str]:
        if not self.supports("dsn"):
            return []
        params = out.rcpt_params.get(rcpt, {})
        return [f"{k}={params[k]}" for k in ("NOTIFY", "ORCPT") if params.get(k)]

    async def _reset(self) -> None:
        try:
            await self.smtp.rset(timeout=self.timeouts["command"])
        except SMTPResponseException:
            pass

    async def close(self) -> None:
        try:
            await self.smtp.quit(timeout=10)
        except (SMTPException, OSError):
            self.smtp.close()


async def connect(host: str, address: str, port: int, *, helo: str, tls: str,
                  timeouts: Mapping[str, float], verify: bool = True,
                  username: str = "", password: str = "",
                  tls_context: ssl.SSLContext | None = None) -> Session:
    """A session ready for MAIL FROM, or ConnectFailed saying why not.

    ``tls``: "opportunistic", "starttls" (required), "implicit" or "none"."""
    try:
        return await _connect(host, address, port, helo=helo, tls=tls, timeouts=timeouts,
                              verify=verify, username=username, password=password,
                              tls_context=tls_context)
    except _TlsFailed as exc:
        if tls != OPPORTUNISTIC:
            raise ConnectFailed(exc.reply) from exc
        # Opportunistic: a server whose TLS is broken still gets the mail in plain text.
        return await _connect(host, address, port, helo=helo, tls="none", timeouts=timeouts,
                              verify=verify, username=username, password=password,
                              tls_context=tls_context)


class _TlsFailed(ConnectFailed):
    pass


async def _connect(host: str, address: str, port: int, *, helo: str, tls: str,
                   timeouts: Mapping[str, float], verify: bool, username: str, password: str,
                   tls_context: ssl.SSLContext | None) -> Session:
    where = f"{host}[{address}]:{port}" if host != address else f"[{address}]:{port}"
    implicit = tls == "implicit"
    smtp = aiosmtplib.SMTP(hostname=address, port=port, local_hostname=helo,
                           timeout=timeouts["connect"], use_tls=implicit, start_tls=False,
                           validate_certs=verify, tls_context=tls_context if implicit else None)
    try:
        await smtp.connect()
    except SMTPResponseException as exc:
        raise ConnectFailed(f"451 4.4.1 {where} greeted us with: "
                            f"{_reply(exc.code, exc.message)}") from exc
    except ssl.SSLError as exc:
        raise ConnectFailed(f"451 4.7.5 TLS with {where} failed: {exc.reason}") from exc
    except (SMTPException, OSError) as exc:
        raise ConnectFailed(f"451 4.4.1 cannot connect to {where}: {_why(exc)}") from exc
    try:
        await _hello(smtp, helo, timeouts["command"])
        if tls in ("starttls", OPPORTUNISTIC) and smtp.supports_extension("starttls"):
            try:
                await smtp.starttls(server_hostname=host, validate_certs=verify,
                                    tls_context=tls_context, timeout=timeouts["command"])
            except (SMTPException, ssl.SSLError, OSError) as exc:
                smtp.close()
                raise _TlsFailed(f"451 4.7.5 STARTTLS with {where} failed: {_why(exc)}") \
                    from exc
            await _hello(smtp, helo, timeouts["command"])
        elif tls == "starttls":
            raise ConnectFailed(f"451 4.7.4 {where} does not offer STARTTLS, and this "
                                "smart host requires TLS")
        if username:
            try:
                await smtp.login(username, password, timeout=timeouts["command"])
            except SMTPResponseException as exc:
                raise ConnectFailed(f"451 4.7.8 {where} refused our login as {username}: "
                                    f"{_reply(exc.code, exc.message)}") from exc
            except SMTPException as exc:
                raise ConnectFailed(f"451 4.7.8 cannot log in to {where}: {exc}") from exc
    except ConnectFailed:
        smtp.close()
        raise
    except (SMTPException, OSError) as exc:
        smtp.close()
        raise ConnectFailed(f"451 4.4.2 {where} broke off the session: {_why(exc)}") from exc
    ssl_object = smtp.transport.get_extra_info("ssl_object") if smtp.transport else None
    version = ssl_object.version() if ssl_object is not None else ""
    return Session(smtp, host, address, version or "", timeouts)


async def _hello(smtp: aiosmtplib.SMTP, helo: str, timeout: float) -> None:
    """EHLO, and HELO on the same connection if the server does not know EHLO."""
    try:
        await smtp.ehlo(hostname=helo, timeout=timeout)
    except SMTPResponseException as exc:
        if exc.code in (500, 502):
            await smtp.helo(hostname=helo, timeout=timeout)
        else:
            raise


def _why(exc: BaseException) -> str:
    if isinstance(exc, SMTPTimeoutError | TimeoutError):
        return "timed out"
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def group(answers: Sequence[Answer]) -> dict[str, list[Answer]]:
    """Answers by class: "sent" (2xx), "failed" (5xx), "retry" (4xx)."""
    out: dict[str, list[Answer]] = {"sent": [], "failed": [], "retry": []}
    for a in answers:
        out["sent" if a.code < 300 else "failed" if a.code >= 500 else "retry"].append(a)
    return out
