"""Trying a smart host the way the queue will use it, stage by stage, to say what fails.

An administrator who typed a smart host wants to know before mail piles up in the queue
whether it works, and if not, which part is wrong: the name (DNS), the port or a firewall
(connect), the server's greeting, EHLO, STARTTLS or the certificate (TLS), or the user name
and password (AUTH). Nothing is sent: the probe ends with QUIT after AUTH.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from dataclasses import dataclass

import aiosmtplib
from aiosmtplib import SMTPException, SMTPResponseException

from protocols.delivery.settings import SmartHost

PROBE_TIMEOUT = 15.0


@dataclass(frozen=True, slots=True)
class ProbeResult:
    ok: bool
    stage: str  # the stage that failed ("dns", "connect", "tls", "ehlo", "starttls",
    #             "auth"), or the last one passed when ok
    message: str  # one line for the administrator


def _why(exc: BaseException) -> str:
    if isinstance(exc, SMTPResponseException):
        return f"{exc.code} {' '.join(str(exc.message).split())}"
    if isinstance(exc, asyncio.TimeoutError | TimeoutError | aiosmtplib.SMTPTimeoutError):
        return "no answer (timed out)"
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    return " ".join((str(exc) or type(exc).__name__).split())


async def probe(host: SmartHost, helo: str, timeout: float = PROBE_TIMEOUT) -> ProbeResult:
    """Connect, EHLO, STARTTLS (or implicit TLS) and AUTH as the runner would."""
    where = host.destination
    try:
        await asyncio.get_running_loop().getaddrinfo(host.host, host.port,
                                                     type=socket.SOCK_STREAM)
    except OSError as exc:
        return ProbeResult(False, "dns", f"the name {host.host} cannot be found in DNS "
                           f"({exc.strerror or exc}): check the spelling")
    implicit = host.tls == "implicit"
    smtp = aiosmtplib.SMTP(hostname=host.host, port=host.port, local_hostname=helo,
                           timeout=timeout, use_tls=implicit, start_tls=False,
                           validate_certs=host.verify_certificate)
    try:
        try:
            await smtp.connect()
        except SMTPResponseException as exc:
            return ProbeResult(False, "connect", f"{where} answered but refused us: "
                               f"{_why(exc)}")
        except ssl.SSLError as exc:
            return ProbeResult(False, "tls", f"TLS with {where} failed: {_why(exc)} (is "
                               "this port for implicit TLS? port 587 usually needs STARTTLS)")
        except (SMTPException, OSError) as exc:
            cause = exc.__cause__ or exc
            if isinstance(cause, ssl.SSLError):
                return ProbeResult(False, "tls", f"TLS with {where} failed: {_why(cause)}")
            return ProbeResult(False, "connect", f"cannot connect to {where}: {_why(exc)} "
                               "(check the port, and that a firewall lets it through)")
        try:
            await smtp.ehlo()
        except (SMTPException, OSError) as exc:
            return ProbeResult(False, "ehlo", f"{where} did not accept EHLO: {_why(exc)}")
        if host.tls == "starttls":
            if not smtp.supports_extension("starttls"):
                return ProbeResult(False, "starttls", f"{where} does not offer STARTTLS; "
                                   "choose another port or the TLS mode \"implicit\"")
            try:
                await smtp.starttls(server_hostname=host.host,
                                    validate_certs=host.verify_certificate)
                await smtp.ehlo()
            except (SMTPException, ssl.SSLError, OSError) as exc:
                cause = exc.__cause__ if isinstance(exc.__cause__, ssl.SSLError) else exc
                return ProbeResult(False, "starttls", f"STARTTLS with {where} failed: "
                                   f"{_why(cause)}")
        if not host.username:
            return ProbeResult(True, "ehlo", f"{where} accepts connections"
                               f"{'' if host.tls == 'none' else ' with TLS'}; no login set")
        if not smtp.supports_extension("auth"):
            return ProbeResult(False, "auth", f"{where} does not offer a login (AUTH)"
                               f"{' before STARTTLS' if host.tls == 'none' else ''}")
        try:
            await smtp.login(host.username, host.password)
        except SMTPResponseException as exc:
            return ProbeResult(False, "auth", f"{where} refused the login as {host.username}: "
                               f"{_why(exc)}; check the user name and password")
        except (SMTPException, OSError) as exc:
            return ProbeResult(False, "auth", f"cannot log in to {where}: {_why(exc)}")
        return ProbeResult(True, "auth", f"{where} accepts the login as {host.username}"
                           f"{'' if host.tls == 'none' else ' over TLS'}")
    finally:
        try:
            await smtp.quit()
        except (SMTPException, OSError):
            smtp.close()
