""""Test connection" for a collector account: try each stage alone and say which one failed.

The stages, in order: DNS lookup, TCP connect, TLS handshake (implicit TLS, or STLS/STARTTLS
after the greeting), login (the ISP's own answer is quoted), and the mailbox (how many
messages wait). The first failure stops the test; the stages after it are reported as not
tried, so the administrator sees exactly where it broke.

Implementation notes:
- DNS and TCP are tried on their own before the protocol client connects, so "cannot find
  the server" and "nothing listens there" are never confused with a TLS or login problem.
- Nothing is downloaded or deleted: POP3 ends with QUIT after STAT (no DELE was sent),
  IMAP selects the folder read-only in effect (no STORE) and logs out.
- The password never appears in a stage's text (the clients' errors never include it).
"""

from __future__ import annotations

import asyncio
import os
import ssl
from dataclasses import dataclass

from mailstore.collectors import CollectorAccount, CollectorSettings
from protocols.collector.connection import client_context, resolve
from protocols.collector.errors import (
    CollectError,
    ConnectError,
    DnsError,
    LoginRefused,
    TlsError,
)
from protocols.collector.imapfetch import ImapCollectorClient
from protocols.collector.pop3client import Pop3Client

STAGES = ("dns", "tcp", "tls", "login", "mailbox")
LABELS = {"dns": "DNS lookup", "tcp": "TCP connect", "tls": "TLS handshake",
          "login": "Login", "mailbox": "Mailbox"}


@dataclass(frozen=True, slots=True)
class Stage:
    """One step of the test: ``state`` is ok, failed, skipped (not used) or untried."""

    name: str
    state: str
    detail: str = ""

    @property
    def label(self) -> str:
        return LABELS[self.name]


@dataclass(frozen=True, slots=True)
class ProbeResult:
    stages: tuple[Stage, ...]

    @property
    def ok(self) -> bool:
        return all(s.state in ("ok", "skipped") for s in self.stages)

    @property
    def failed(self) -> Stage | None:
        return next((s for s in self.stages if s.state == "failed"), None)


class _Stop(Exception):
    def __init__(self, stage: str, detail: str) -> None:
        self.stage = stage
        self.detail = detail


Account = CollectorAccount | CollectorSettings


async def probe(account: Account) -> ProbeResult:
    """Try to reach and log in to the account's ISP mailbox, one stage at a time.
    ``account`` may be settings not saved yet (validated: the port is filled in)."""
    done: list[Stage] = []
    try:
        await _stages(account, done)
    except _Stop as stop:
        done.append(Stage(stop.stage, "failed", stop.detail))
    named = {s.name for s in done}
    return ProbeResult(tuple(done) + tuple(Stage(n, "untried") for n in STAGES
                                           if n not in named))


async def _stages(account: Account, done: list[Stage]) -> None:
    host, timeout = account.host, float(account.timeout)
    port = account.port or 0
    try:
        addresses = await resolve(host, port, timeout)
    except DnsError as exc:
        raise _Stop("dns", str(exc)) from exc
    shown = ", ".join(dict.fromkeys(str(a[0]) for a in addresses))
    done.append(Stage("dns", "ok", f"{host} is {shown}"))

    reached = await _tcp(addresses, port, timeout)
    done.append(Stage("tcp", "ok", f"connected to {reached} port {port}"))

    context = client_context(account.verify_tls)
    try:
        if account.protocol == "pop3":
            client: Pop3Client | ImapCollectorClient = await Pop3Client.open(
                host, port, account.tls, context, timeout)
        else:
            client = await ImapCollectorClient.open(host, port, account.tls, context, timeout)
    except TlsError as exc:
        raise _Stop("tls", str(exc)) from exc
    except DnsError as exc:  # the name changed between the two lookups
        raise _Stop("dns", str(exc)) from exc
    except ConnectError as exc:
        raise _Stop("tcp", str(exc)) from exc
    except CollectError as exc:
        # The server answered, but not as a POP3/IMAP server over this TLS mode should.
        stage = "tls" if account.tls != "none" else "login"
        raise _Stop(stage, _mode_hint(str(exc), account)) from exc
    try:
        if account.tls == "none":
            done.append(Stage("tls", "skipped", "not used: the password is sent unencrypted"))
        else:
            checked = "certificate checked" if account.verify_tls else \
                "certificate NOT checked"
            how = "implicit TLS" if account.tls == "implicit" else \
                ("STLS" if account.protocol == "pop3" else "STARTTLS")
            done.append(Stage("tls", "ok", f"{how}, {_tls_version(client)}, {checked}"))
        try:
            await client.login(account.username, account.password)
        except LoginRefused as exc:
            raise _Stop("login", str(exc)) from exc
        except CollectError as exc:
            raise _Stop("login", str(exc)) from exc
        done.append(Stage("login", "ok", f"{account.username} logged in"))
        try:
            if isinstance(client, Pop3Client):
                answer = await client.expect_ok("STAT")
                count = answer.text.split()[0] if answer.text else "?"
                await client.quit()
                detail = f"{count} message(s) waiting"
            else:
                _, exists = await client.select(account.folder)
                await client.logout()
                detail = f"{exists} message(s) in {account.folder}"
        except CollectError as exc:
            raise _Stop("mailbox", str(exc)) from exc
        done.append(Stage("mailbox", "ok", detail))
    finally:
        client.close()


async def _tcp(addresses: list[tuple], port: int, timeout: float) -> str:
    """Connect (and hang up) to the first address that answers; a _Stop names the reason."""
    last = ""
    for address in addresses:
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(address[0], port), timeout)
        except TimeoutError:
            last = f"{address[0]} port {port} did not answer within {timeout:g} s " \
                   "(a firewall may be dropping the connection)"
            continue
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            last = f"cannot connect to {address[0]} port {port}: {reason}"
            continue
        writer.close()
        return str(address[0])
    raise _Stop("tcp", last + " (is the port right, and does the server take connections "
                "from here?)")


def _mode_hint(text: str, account: Account) -> str:
    if account.tls == "implicit":
        return f"{text} (the server may not use implicit TLS on port {account.port}: " \
               "try STARTTLS, or the port the ISP gives for TLS)"
    return text


def _tls_version(client: Pop3Client | ImapCollectorClient) -> str:
    if isinstance(client, Pop3Client):
        ssl_object = client.writer.get_extra_info("ssl_object")
    else:
        transport = getattr(client.protocol, "transport", None)
        ssl_object = transport.get_extra_info("ssl_object") if transport else None
    if isinstance(ssl_object, ssl.SSLObject):
        return ssl_object.version() or "TLS"
    return "TLS"
