"""The SMTP front door: MX (25), submission (587) and submissions (465) on aiosmtpd.

Implementation notes (invariants a maintainer must keep):
- Policy lives here, the wire protocol in ``session.py``: who may connect, who may relay,
  what each recipient gets at RCPT time, and what happens to a message after DATA.
- Relaying needs AUTH or an explicitly listed relay network. Loopback is NOT a relay network
  by default: a proxy or web app on the same host would otherwise make an open relay.
- ``accept`` answers 250 only after ``LocalDelivery.deliver`` returned (blob flushed, rows
  committed, or queued); any failure there is a 4xx, so the client keeps the message.
- Every transaction ends in the message trace: accepted, rejected, or abandoned (RSET, QUIT
  or a dropped connection after MAIL).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mailstore.delivery import Delivery, Part
from mailstore.errors import QuotaExceeded, StoreError
from mailstore.lists import PostingDenied, list_copy
from mailstore.routing import MailboxDisabled, NotLocal, Route, RoutingLoop, UnknownRecipient
from mailstore.store import Store
from mailstore.throttle import RateLimiter
from mailstore.trace import RecipientVerdict, TraceRecord
from protocols.smtp.headers import count_fields, field_values, received_header
from protocols.smtp.limits import ConnectionCounter, in_networks, is_loopback
from protocols.smtp.senderauth import remove_forged_results
from protocols.smtp.session import SmtpSession, TidingsEnvelope
from protocols.smtp.settings import MX, SmtpSettings

if TYPE_CHECKING:
    from protocols.smtp.session import DataReceived

log = logging.getLogger("tidings.smtp")

MAX_RECEIVED = 50  # RFC 5321 §6.3: a hop count this high means a loop
ROUTE_CACHE_SECONDS = 1.0
ROUTE_CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class SenderVerdict:
    """What sender authentication (SPF/DKIM/DMARC) decided about one message."""

    action: str  # accept / quarantine / reject
    message: bytes  # our Authentication-Results field + the message without forged ones
    rejection: str = ""  # the 550 reply when action is reject
    summary: str = ""  # the Authentication-Results value, for the trace


# (raw message, client ip, helo, mail from) → verdict
SenderCheck = Callable[[bytes, str, str, str], Awaitable[SenderVerdict]]
# client ip → refusal reply (DNS blocklists) or None
ConnectCheck = Callable[[str], Awaitable[str | None]]


class SmtpServer:
    def __init__(self, store: Store, settings: SmtpSettings,
                 tls_context: ssl.SSLContext | None = None,
                 sender_check: SenderCheck | None = None,
                 connect_check: ConnectCheck | None = None) -> None:
        self.store = store
        self.settings = settings
        self.tls_context = tls_context
        self.sender_check = sender_check
        self.connect_check = connect_check
        self.connections = ConnectionCounter(settings.max_connections_per_ip)
        self.ip_rate = RateLimiter(settings.messages_per_minute_per_ip)
        self.user_rate = RateLimiter(settings.messages_per_minute_per_user)
        self._servers: list[asyncio.Server] = []
        self.listening: dict[str, asyncio.Server] = {}  # listener name -> its server
        self.sessions: set[SmtpSession] = set()
        self._tasks: set[asyncio.Task[object]] = set()
        self._routes: dict[tuple[str, str], tuple[float, Route]] = {}

    # Lifecycle ----------------------------------------------------------------------------
    async def start(self, sockets: dict[str, socket.socket]) -> dict[str, asyncio.Server]:
        """Serve each listener (``smtp``, ``submission``, ``submissions``) on its socket;
        ``stop_listening`` stops one of them again, leaving its open sessions be."""
        loop = asyncio.get_running_loop()
        started = {}
        for name, sock in sockets.items():
            implicit = self.settings.listeners[name].implicit_tls \
                and self.tls_context is not None

            def factory(name: str = name, implicit: bool = implicit) -> SmtpSession:
                # The listener's settings (allow/deny lists) are looked up per connection,
                # so a change made in the admin applies to the next client.
                return SmtpSession(
                    self, self.settings.listeners[name], hostname=self.settings.hostname,
                    ident="Tidings ESMTP",
                    data_size_limit=self.settings.max_message_size, enable_SMTPUTF8=True,
                    tls_context=None if implicit else self.tls_context,
                    auth_require_tls=False, timeout=self.settings.timeout, loop=loop)

            server = await loop.create_server(
                factory, sock=sock, ssl=self.tls_context if implicit else None)
            self._servers.append(server)
            self.listening[name] = server
            started[name] = server
        return started

    def stop_listening(self, name: str) -> None:
        """Close one listener's socket: no new connections; sessions already open go on."""
        server = self.listening.pop(name, None)
        if server is not None:
            server.close()
            self._servers.remove(server)

    def reconfigure(self, settings: SmtpSettings, sender_check: SenderCheck | None = None,
                    connect_check: ConnectCheck | None = None) -> None:
        """Use new settings from the next command on: limits, relay networks and checks
        change for sessions already open too, as an administrator expects."""
        self.settings = settings
        self.sender_check = sender_check
        self.connect_check = connect_check
        self.connections.limit = settings.max_connections_per_ip
        self.ip_rate.limit = settings.messages_per_minute_per_ip
        self.user_rate.limit = settings.messages_per_minute_per_user

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.close()
        for server in self._servers:
            await server.wait_closed()
        await asyncio.sleep(0)  # let the closed sessions trace what they were doing
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def spawn(self, coro: Awaitable[object]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # Policy -------------------------------------------------------------------------------
    async def connect_refusal(self, session: SmtpSession) -> str | None:
        ip, listener = session.peer_ip, session.listener
        refusal = None
        if in_networks(ip, listener.deny) or (listener.allow and not in_networks(
                ip, listener.allow)):
            refusal = f"554 5.7.1 access denied for {ip}"
        elif (listener.name == MX and self.connect_check is not None and not is_loopback(ip)
                and not in_networks(ip, self.settings.relay_networks)):
            refusal = await self.connect_check(ip)
        if refusal is not None:  # in the trace, so the admin's dashboard can count them
            self._record(session, "rejected", refusal, "", [])
        return refusal

    def may_relay(self, session: SmtpSession) -> bool:
        return bool(session.auth_user) or in_networks(
            session.peer_ip, self.settings.relay_networks)

    def mail_refusal(self, session: SmtpSession, address: str) -> str | None:
        user = session.auth_user
        if user and not self.user_rate.allow(user):
            reply = f"451 4.7.1 too many messages from {user}, try again in a minute"
        elif not user and not self.ip_rate.allow(session.peer_ip):
            reply = f"451 4.7.1 too many messages from {session.peer_ip}, try again later"
        else:
            return None
        self._record(session, "rejected", reply, address, [])
        return reply

    async def rcpt_verdict(self, session: SmtpSession, address: str
                           ) -> tuple[Route | None, str]:
        try:
            route = await self._route(address, session.envelope.mail_from or "")
        except PostingDenied as exc:
            return None, f"550 5.7.2 {exc}"
        except NotLocal:
            if self.may_relay(session):
                return (Route(address.lower(), (), (address,)),
                        f"250 2.1.5 <{address}>: OK, relaying")
            return None, f"554 5.7.1 <{address}>: relaying denied, authenticate first"
        except UnknownRecipient:
            return None, f"550 5.1.1 <{address}>: no such user here"
        except MailboxDisabled:
            return None, f"550 5.2.1 <{address}>: mailbox disabled"
        except RoutingLoop:
            return None, f"550 5.4.6 <{address}>: the server's aliases for it form a loop"
        except Exception:  # the database is down: the client should retry, not bounce
            log.exception("routing %s failed", address)
            return None, f"451 4.3.0 <{address}>: temporary failure, try again later"
        envelope = session.envelope
        size = envelope.declared_size if isinstance(envelope, TidingsEnvelope) else None
        for mailbox in route.local:
            if mailbox.free_bytes is not None and mailbox.free_bytes < (size or 1):
                return None, self._mailbox_full(address)
        return route, f"250 2.1.5 <{address}>: recipient OK"

    async def _route(self, address: str, sender: str) -> Route:
        """The router's answer, remembered for ``ROUTE_CACHE_SECONDS`` when it is local.

        Why: every RCPT asks the database (several round trips to its thread), and an MX
        under load sees the same few recipients again and again. What a stale entry can do
        is bounded: for at most that long after an admin change, mail for a just-disabled
        address is still accepted (a removed account or folder fails at delivery with a
        4xx), and the quota pre-check may use an older figure (the real check is in the
        delivery transaction). Refusals and relays are never cached, so a new user is
        reachable at once.
        """
        key = (address, sender)
        now = time.monotonic()
        hit = self._routes.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        route = await self.store.router.resolve(address, sender)
        if route.local and route.list is None:
            if len(self._routes) >= ROUTE_CACHE_SIZE:
                self._routes.clear()
            self._routes[key] = (now + ROUTE_CACHE_SECONDS, route)
        return route

    def _mailbox_full(self, address: str) -> str:
        if self.settings.mailbox_full_code == 552:
            return f"552 5.2.2 <{address}>: mailbox full"
        return f"452 4.2.2 <{address}>: mailbox full"

    # Transactions and the trace -----------------------------------------------------------
    def note_recipient(self, session: SmtpSession, address: str, route: Route | None,
                       reply: str) -> None:
        envelope = session.envelope
        if isinstance(envelope, TidingsEnvelope):
            envelope.verdicts.append(RecipientVerdict(
                address, "accepted" if route is not None else "rejected", reply))

    def transaction_ended(self, session: SmtpSession, envelope: TidingsEnvelope,
                          verdict: str) -> None:
        """RSET, a new EHLO, QUIT or a dropped connection after MAIL: trace what happened."""
        if envelope.mail_from is None or envelope.finished:
            return
        envelope.finished = True
        rejected = all(v.verdict == "rejected" for v in envelope.verdicts)
        self._record(session, "rejected" if rejected and envelope.verdicts else verdict,
                     "", envelope.mail_from, envelope.verdicts)

    def _record(self, session: SmtpSession, verdict: str, reply: str, mail_from: str,
                recipients: list[RecipientVerdict], size: int = 0,
                message_id: str = "") -> TraceRecord:
        record = self._trace(session, verdict, reply, mail_from, recipients, size,
                             message_id)
        self.spawn(self._write_trace(record))
        return record

    def _trace(self, session: SmtpSession, verdict: str, reply: str, mail_from: str,
               recipients: list[RecipientVerdict], size: int = 0,
               message_id: str = "") -> TraceRecord:
        return TraceRecord(
            at=int(time.time()), listener=session.listener.name, client_ip=session.peer_ip,
            verdict=verdict, helo=(session.session.host_name or "") if session.session else "",
            tls=session.tls_description(), auth_user=session.auth_user or "",
            mail_from=mail_from, size=size, message_id=message_id, reply=reply,
            recipients=list(recipients))

    async def _write_trace(self, record: TraceRecord) -> None:
        try:
            await self.store.traces.record(record)
        except Exception:
            log.exception("could not write the message trace")

    # DATA ---------------------------------------------------------------------------------
    async def accept(self, session: SmtpSession, envelope: TidingsEnvelope,
                     data: DataReceived) -> str:
        """Checks and stores one message; returns the reply to DATA."""
        envelope.finished = True
        limit = self.settings.max_message_size
        if data.too_big:
            return self._refuse(session, envelope, data,
                                f"552 5.3.4 message too big: {data.size} bytes, "
                                f"limit is {limit}")
        if data.bare:
            return self._refuse(session, envelope, data,
                                f"550 5.6.11 bare {data.bare} not allowed")
        raw = data.content
        recipients = {r.lower() for r in envelope.rcpt_tos}
        if count_fields(raw, "Received") > MAX_RECEIVED or any(
                v.strip("<> ").lower() in recipients for v in field_values(raw, "Delivered-To")):
            return self._refuse(session, envelope, data, "554 5.4.6 mail loop detected")
        junk = False
        if self.sender_check is not None and session.listener.name == MX \
                and not self.may_relay(session) and not is_loopback(session.peer_ip):
            verdict = await self.sender_check(raw, session.peer_ip,
                                              session.session.host_name or "",
                                              envelope.mail_from or "")
            if verdict.action == "reject" and self.settings.dmarc_reject != "junk":
                return self._refuse(session, envelope, data, verdict.rejection)
            junk = verdict.action in ("quarantine", "reject")
            raw = verdict.message
        else:
            # RFC 8601 §5: a header claiming to be ours that we did not write is removed.
            raw = remove_forged_results(raw, self.settings.hostname)
        queue_id = secrets.token_hex(6).upper()
        message = self._received(session, envelope, queue_id) + raw
        direct = [r for r in envelope.routes if r.list is None]
        mailboxes = {(m.account_id, m.folder): m for r in direct for m in r.local}
        external = {a: None for r in direct for a in r.external}
        lists = [Part(list_copy(message, r.list), r.local, r.external)
                 for r in envelope.routes if r.list is not None]
        trace = self._trace(session, "accepted", "", envelope.mail_from or "",
                            _recipient_verdicts(envelope, junk), len(message), _message_id(raw))
        try:
            result = await self.store.delivery.deliver(Delivery(
                message, envelope.mail_from or "", tuple(mailboxes.values()),
                tuple(external), origin=session.listener.name, dsn=envelope.dsn,
                junk=junk, trace=trace, other_parts=tuple(lists)))
        except QuotaExceeded:
            return self._refuse(session, envelope, data,
                                self._mailbox_full(", ".join(envelope.rcpt_tos)))
        except StoreError as exc:
            return self._refuse(session, envelope, data,
                                f"451 4.3.0 temporary failure, message not stored: {exc}")
        except Exception:
            log.exception("delivery failed")
            return self._refuse(session, envelope, data,
                                "451 4.3.0 temporary failure, message not stored; "
                                "try again later")
        stored = len(result.stored) + len(result.duplicates)
        return (f"250 2.0.0 OK id={queue_id}: delivered to {stored} mailbox(es)"
                + "".join(f", queued #{n}" for n in result.queued))

    def _refuse(self, session: SmtpSession, envelope: TidingsEnvelope, data: DataReceived,
                reply: str) -> str:
        self._record(session, "rejected", reply, envelope.mail_from or "",
                     envelope.verdicts, data.size, _message_id(data.content))
        return reply

    def _received(self, session: SmtpSession, envelope: TidingsEnvelope,
                  queue_id: str) -> bytes:
        user = session.auth_user
        tls = session.tls_description()
        extended = session.session.extended_smtp if session.session else False
        protocol = ("ESMTP" + ("S" if tls else "") + ("A" if user else "")) if extended \
            else "SMTP"
        return received_header(
            helo=session.session.host_name or "" if session.session else "",
            ip=session.peer_ip, hostname=self.settings.hostname, protocol=protocol,
            queue_id=queue_id, tls=tls or None, user=user,
            recipient=envelope.rcpt_tos[0] if len(envelope.rcpt_tos) == 1 else None,
            when=datetime.now(UTC))


def _recipient_verdicts(envelope: TidingsEnvelope, junk: bool) -> list[RecipientVerdict]:
    """Every recipient's verdict: accepted ones with where their copy goes, refused ones
    with the reply they got (the admin's message trace shows both)."""
    routes = {r.recipient: r for r in envelope.routes}
    out = []
    for verdict in envelope.verdicts:
        if verdict.verdict != "accepted":
            out.append(verdict)
            continue
        route = routes.get(verdict.address.lower())
        places = [f"{m.address}/{'Junk' if junk else m.folder}" for m in route.local] + \
            [f"outbound queue for {a}" for a in route.external] if route else []
        out.append(dataclasses.replace(verdict, destination=", ".join(places)))
    return out


def _message_id(raw: bytes) -> str:
    values = field_values(raw, "Message-ID")
    return values[0][:300] if values else ""
