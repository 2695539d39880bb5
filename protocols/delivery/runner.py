"""The queue runner: a task of ``tidings serve`` that sends queued mail on its way.

Implementation notes (invariants a maintainer must keep):
- The runner claims due entries (``OutboundQueue.claim``), splits each into parts by
  destination (a recipient domain's MX hosts, or the sender's smart host chain) and hands
  the parts to per-destination workers. One worker holds one connection and sends every
  part waiting for its destination over it (connection reuse); a destination has at most
  ``connections_per_destination`` workers, the runner ``max_connections`` in all.
- After every answer the entry's new state is committed (group-committed across workers)
  before that connection sends anything else: a recipient that got a 250 is never sent to
  again, even if the server is killed right after.
- Outcomes per recipient: 2xx sent, 5xx failed (bounced), 4xx and network failures retried
  on the settings' schedule until ``expire_after``; a delay notice after
  ``delay_notice_after``. Notices (RFC 3464) go to the envelope sender through the normal
  pipeline, never to the null sender and never about a notice.
- Claims are leases: the runner renews them while it holds entries; if its node dies, the
  leases run out and another node takes the entries over.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import dns.asyncresolver

from mailstore.outbound import (
    FAILED,
    PENDING,
    QUEUED,
    SENT,
    QueuedRecipient,
    QueueEntry,
    outbound_trace,
)
from mailstore.store import Store
from mailstore.trace import TraceRecord
from protocols.delivery.client import (
    OPPORTUNISTIC,
    Answer,
    ConnectFailed,
    ConnectionLost,
    Outgoing,
    Session,
    connect,
)
from protocols.delivery.dsn import RecipientStatus, build_report, may_bounce, orcpt_address
from protocols.delivery.mx import DestinationError, resolve_hops
from protocols.delivery.settings import DIRECT, DeliverySettings

log = logging.getLogger("tidings.delivery")

# What the runner does to a message before it leaves: (entry) → (envelope sender, bytes).
# ``tidings serve`` plugs in SRS for forwarded mail and DKIM signing.
Prepare = Callable[[QueueEntry], Awaitable[tuple[str, bytes]]]
# Delivers a notice (a bounce or delay report) to the sender: (message, recipient).
Notify = Callable[[bytes, str], Awaitable[None]]

Destination = tuple[str, ...]  # ("mx", domain) or ("relay", smart host names…)
CLAIM_BATCH = 200
STOP_GRACE = 10.0  # seconds a stopping runner waits for the messages on the wire
POLL_SECONDS = 1.0


@dataclass(slots=True)
class _Work:
    """An entry being delivered: its parts still out, and what happened this attempt."""

    entry: QueueEntry
    mail_from: str
    message: bytes
    outstanding: int = 0
    failed_now: list[QueuedRecipient] = field(default_factory=list)
    # Sent to a server that does not speak DSN although the sender asked NOTIFY=SUCCESS:
    # RFC 3461 §6.2.2 says we report "relayed" ourselves.
    relayed: list[QueuedRecipient] = field(default_factory=list)


@dataclass(slots=True)
class _Part:
    work: _Work
    recipients: tuple[str, ...]


@dataclass(slots=True)
class _Destination:
    parts: collections.deque[_Part] = field(default_factory=collections.deque)
    workers: int = 0


class QueueRunner:
    def __init__(self, store: Store, settings: DeliverySettings,
                 resolver: dns.asyncresolver.Resolver, *, node: str,
                 prepare: Prepare | None = None, notify: Notify | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.settings = settings
        self.resolver = resolver
        self.node = node
        self.prepare = prepare or _unchanged
        self.notify = notify or self._notify_through_pipeline
        self.clock = clock
        self._work: dict[int, _Work] = {}
        self._destinations: dict[Destination, _Destination] = {}
        self._connections = asyncio.Semaphore(settings.max_connections)
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._loop_task: asyncio.Task | None = None
        self._saver = _Saver(store)
        self.claimed = 0  # entries this runner has taken (for the dashboard and tests)
        self._stopping = False

    # life cycle -------------------------------------------------------------------------
    async def start(self) -> None:
        released = await self.store.outbound.release(self.node)
        if released:
            log.info("took back %d queue entries claimed before a restart", released)
        self.store.delivery.on_queued = self.wake
        self._loop_task = asyncio.create_task(self._loop())

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Stop claiming; let each connection finish the message it is sending (for up to
        ``grace`` seconds, so a remote that already said 250 is not sent it again), then
        give back everything not yet sent."""
        if self.store.delivery.on_queued == self.wake:
            self.store.delivery.on_queued = None
        self._stopping = True
        if self._loop_task is not None:
            self._loop_task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace)
        tasks = [t for t in (self._loop_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        with contextlib.suppress(Exception):
            await self.store.outbound.release(self.node)

    def wake(self) -> None:
        self._wake.set()

    async def run_until_idle(self) -> None:
        """Send everything that is due now; returns when nothing is left in hand
        (for ``tidings queue run`` and tests)."""
        while True:
            claimed = await self._claim()
            if not claimed and not self._work:
                return
            if self._work:
                self._idle.clear()
                await self._idle.wait()

    # claiming ---------------------------------------------------------------------------
    async def _loop(self) -> None:
        renew_at = self.clock() + self.settings.lease / 3
        while True:
            try:
                claimed = await self._claim()
                if self.clock() >= renew_at:
                    renew_at = self.clock() + self.settings.lease / 3
                    await self.store.outbound.renew(self.node, self.settings.lease)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("cannot read the outbound queue; trying again shortly")
                claimed = 0
                await asyncio.sleep(5)
            if claimed:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)

    async def _claim(self) -> int:
        room = self.settings.in_flight - len(self._work)
        # Claiming is a write transaction: take a batch at a time, not one entry per finish.
        if room <= 0 or (self._work and room < min(CLAIM_BATCH, self.settings.in_flight // 4)):
            return 0
        entries = await self.store.outbound.claim(
            self.node, min(room, CLAIM_BATCH), self.settings.lease, now=int(self.clock()))
        self.claimed += len(entries)
        for entry in entries:
            await self._dispatch(entry)
        return len(entries)

    async def _dispatch(self, entry: QueueEntry) -> None:
        if entry.bounce_requested:
            await self._bounce(entry)
            return
        try:
            mail_from, message = await self.prepare(entry)
        except Exception:
            log.exception("preparing queue entry #%d failed; sending it unchanged", entry.id)
            mail_from, message = entry.mail_from, entry.message or b""
        work = _Work(entry, mail_from, message)
        self._work[entry.id] = work
        parts: dict[Destination, list[str]] = {}
        via = self.settings.via(entry.mail_from)
        for r in entry.pending():
            if via == (DIRECT,):
                key: Destination = ("mx", r.address.rpartition("@")[2].lower())
            else:
                key = ("relay", *via)
            parts.setdefault(key, []).append(r.address)
        if not parts:  # nothing pending (a crash after the last answer): just finish it
            await self._finish(work)
            return
        work.outstanding = len(parts)
        for key, recipients in parts.items():
            destination = self._destinations.setdefault(key, _Destination())
            destination.parts.append(_Part(work, tuple(recipients)))
            self._spawn(key, destination)

    def _spawn(self, key: Destination, destination: _Destination) -> None:
        wanted = min(self.settings.connections_per_destination, len(destination.parts))
        while destination.workers < wanted:
            destination.workers += 1
            task = asyncio.create_task(self._worker(key, destination))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _bounce(self, entry: QueueEntry) -> None:
        """An administrator asked to return this message: its pending recipients fail now
        and the sender gets the report (the usual rules: never to the null sender)."""
        now = int(self.clock())
        work = _Work(entry, entry.mail_from, entry.message or b"")
        self._work[entry.id] = work
        pending = entry.pending()
        for r in pending:
            r.state, r.at = FAILED, now
            r.reply = (f"550 5.0.0 returned to the sender by the postmaster "
                       f"({entry.bounce_requested}) before delivery"
                       + (f"; last answer: {r.reply}" if r.reply else ""))
            work.failed_now.append(r)
        entry.history.append({"at": now, "host": "", "address": "", "tls": "",
                              "answers": [[r.address, r.reply] for r in pending]})
        log.info("queue #%d returned to <%s> at the request of %s", entry.id,
                 entry.mail_from, entry.bounce_requested)
        await self._finish(work, [outbound_trace(entry, pending, verdict="bounced", now=now)]
                           if pending else [])

    # sending ----------------------------------------------------------------------------
    async def _worker(self, key: Destination, destination: _Destination) -> None:
        try:
            while destination.parts and not self._stopping:
                async with self._connections:
                    if not destination.parts:
                        break
                    await self._one_connection(key, destination)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("delivery to %s failed unexpectedly", key[1])
        finally:
            destination.workers -= 1
            if not destination.parts and not destination.workers:
                self._destinations.pop(key, None)

    async def _one_connection(self, key: Destination, destination: _Destination) -> None:
        try:
            session = await self._open(key)
        except (DestinationError, ConnectFailed) as exc:
            # Every part waiting for this destination gets the same answer now.
            while destination.parts:
                part = destination.parts.popleft()
                await self._answer(part, [Answer(r, exc.reply) for r in part.recipients])
            return
        try:
            for _ in range(self.settings.messages_per_connection):
                if not destination.parts or self._stopping:
                    break
                part = destination.parts.popleft()
                entry = part.work.entry
                out = Outgoing(part.work.mail_from, part.recipients, part.work.message,
                               ret=str(entry.dsn.get("ret", "")), envid=entry.envelope_id,
                               rcpt_params={r: entry.recipient_params(r)
                                            for r in part.recipients})
                try:
                    answers = await session.send(out)
                except ConnectionLost as exc:
                    told = {a.recipient for a in exc.answers}
                    answers = exc.answers + [Answer(r, exc.reply) for r in part.recipients
                                             if r not in told]
                    await self._answer(part, answers, session)
                    return
                await self._answer(part, answers, session)
        finally:
            await session.close()

    async def _open(self, key: Destination) -> Session:
        s = self.settings
        helo = s.hostname
        if key[0] == "mx":
            last = ""
            for hop in await resolve_hops(key[1], self.resolver):
                for address in hop.addresses:
                    try:
                        return await connect(hop.name, address, s.mx_port, helo=helo,
                                             tls=OPPORTUNISTIC, timeouts=s.timeouts,
                                             verify=False)
                    except ConnectFailed as exc:
                        last = exc.reply
                        log.info("%s: %s", key[1], exc.reply)
            raise ConnectFailed(last or f"451 4.4.1 no mail host of {key[1]} answered")
        last = ""
        for name in key[1:]:
            host = s.smarthosts.get(name)
            if host is None:  # removed in the admin while this part waited
                last = f"451 4.4.1 smart host {name} is no longer configured"
                continue
            try:
                return await connect(host.host, host.host, host.port, helo=helo, tls=host.tls,
                                     timeouts=s.timeouts, verify=host.verify_certificate,
                                     username=host.username, password=host.password)
            except ConnectFailed as exc:
                last = exc.reply
                log.warning("smart host %s: %s", name, exc.reply)
        raise ConnectFailed(last)

    # outcomes ---------------------------------------------------------------------------
    async def _answer(self, part: _Part, answers: list[Answer],
                      session: Session | None = None) -> None:
        work, now = part.work, int(self.clock())
        by_address = {r.address: r for r in work.entry.recipients}
        answered = []
        for answer in answers:
            recipient = by_address.get(answer.recipient)
            if recipient is None or recipient.state != PENDING:
                continue
            recipient.reply, recipient.at = answer.reply, now
            recipient.remote = session.host if session else ""
            if answer.code < 300:
                recipient.state = SENT
                if session is not None and not session.supports("dsn") and \
                        _notify_wants(work.entry, recipient.address, "SUCCESS", False):
                    work.relayed.append(recipient)
            elif answer.code >= 500:
                recipient.state = FAILED
                work.failed_now.append(recipient)
            answered.append(recipient)
        work.entry.history.append({
            "at": now, "host": session.host if session else "",
            "address": session.address if session else "",
            "tls": session.tls_version if session else "",
            "answers": [[a.recipient, a.reply] for a in answers]})
        if session is not None:
            log.info("queue #%d to %s[%s] %s: %s", work.entry.id, session.host,
                     session.address, session.tls_version or "no TLS",
                     "; ".join(f"{a.recipient} {a.reply}" for a in answers))
        trace = outbound_trace(
            work.entry, answered, verdict=_verdict(answered),
            remote_ip=session.address if session else "",
            remote_host=session.host if session else "",
            tls=session.tls_version if session else "", now=now)
        work.outstanding -= 1
        if work.outstanding > 0:
            await self._saver.save(work.entry, [trace] if answered else [])
        else:
            await self._finish(work, [trace] if answered else [])

    async def _finish(self, work: _Work, traces: list[TraceRecord] | None = None) -> None:
        entry, now = work.entry, int(self.clock())
        traces = list(traces or [])
        pending = entry.pending()
        if pending and now - entry.created_at >= self.settings.expire_after:
            for r in pending:
                r.state = FAILED
                r.reply = (f"{r.reply or '451 4.4.7 no answer'} (gave up after "
                           f"{_days(self.settings.expire_after)})")
                work.failed_now.append(r)
            traces.append(outbound_trace(entry, pending, verdict="expired", now=now))
            pending = []
        notices: list[bytes] = []
        if work.failed_now:
            notices += self._reports(entry, work.failed_now, "failed", now)
        if work.relayed:
            notices += self._reports(entry, work.relayed, "relayed", now)
        if pending:
            entry.status = QUEUED
            entry.attempts += 1
            entry.next_attempt_at = now + self.settings.retry_delay(entry.attempts)
            entry.last_error = pending[-1].reply or entry.last_error
            if not entry.delay_notified and \
                    now - entry.created_at >= self.settings.delay_notice_after:
                entry.delay_notified = True
                notices += self._reports(entry, pending, "delayed", now)
        # A report is handed on before the entry's new state is saved: after a crash in
        # between, the sender may get a report twice, but never none.
        for notice in notices:
            try:
                await self.notify(notice, entry.mail_from)
            except Exception:
                log.exception("cannot deliver a delivery report to <%s>", entry.mail_from)
        await self._saver.save(entry, traces)
        self._work.pop(entry.id, None)
        if not self._work:
            self._idle.set()
        self._wake.set()

    def _reports(self, entry: QueueEntry, recipients: list[QueuedRecipient], action: str,
                 now: int) -> list[bytes]:
        """The RFC 3464 report to send about these recipients, if any may be sent."""
        original = entry.message or b""
        if not may_bounce(entry.mail_from, original):
            return []
        wanted = {"failed": "FAILURE", "delayed": "DELAY", "relayed": "SUCCESS"}[action]
        chosen = [r for r in recipients
                  if _notify_wants(entry, r.address, wanted, action != "relayed")]
        if not chosen:
            return []
        statuses = [RecipientStatus(
            recipient=r.address, action=action, status=_status(r.reply, action),
            diagnostic=r.reply, remote_mta=r.remote,
            original_recipient=_orcpt(entry, r.address), last_attempt=r.at,
            will_retry_until=(entry.created_at + self.settings.expire_after
                              if action == "delayed" else None))
            for r in chosen]
        return [build_report(
            reporting_mta=self.settings.hostname, to=entry.mail_from, original=original,
            recipients=statuses, arrival=entry.created_at, envelope_id=entry.envelope_id,
            return_full=str(entry.dsn.get("ret", "")).upper() == "FULL", now=now)]

    async def _notify_through_pipeline(self, message: bytes, recipient: str) -> None:
        """A report goes where mail for its recipient goes: a local mailbox or the queue."""
        from mailstore.delivery import Delivery
        from mailstore.routing import NotLocal

        try:
            route = await self.store.router.resolve(recipient, "")
        except NotLocal:
            mailboxes, external = (), (recipient,)
        else:
            mailboxes, external = route.local, route.external
        await self.store.delivery.deliver(Delivery(
            message, "", tuple(mailboxes), tuple(external), origin="bounce"))


class _Saver:
    """Group commit of queue state: answers from many connections share a transaction."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pending: list[tuple[QueueEntry, list[TraceRecord], asyncio.Future[None]]] = []
        self._task: asyncio.Task | None = None

    async def save(self, entry: QueueEntry, traces: list[TraceRecord]) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((entry, traces, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        await asyncio.shield(future)

    async def _run(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            entries = list({id(e): e for e, _, _ in batch}.values())
            try:
                await self.store.outbound.save(entries, [t for _, ts, _ in batch for t in ts])
            except Exception as exc:
                for *_, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for *_, future in batch:
                if not future.done():
                    future.set_result(None)


async def _unchanged(entry: QueueEntry) -> tuple[str, bytes]:
    return entry.mail_from, entry.message or b""


def _notify_wants(entry: QueueEntry, address: str, what: str, default: bool = True) -> bool:
    """RFC 3461 NOTIFY: without it, failures and delays are reported (``default``), success
    is not; NEVER reports nothing."""
    notify = entry.recipient_params(address).get("NOTIFY", "")
    if not notify:
        return default
    values = {v.strip().upper() for v in notify.split(",")}
    return what in values


def _orcpt(entry: QueueEntry, address: str) -> str:
    return orcpt_address(entry.recipient_params(address).get("ORCPT", ""))


def _status(reply: str, action: str) -> str:
    """The enhanced status code in a reply ("550 5.1.1 …" → "5.1.1"), else one by class."""
    parts = reply.split()
    if len(parts) > 1 and parts[1].count(".") == 2 and parts[1][0] in "245":
        code = parts[1]
        if action == "failed" and code[0] == "4":
            return "5" + code[1:]  # a temporary failure that expired is now permanent
        return code
    return "4.0.0" if action == "delayed" else "5.0.0"


def _verdict(answered: list[QueuedRecipient]) -> str:
    states = {r.state for r in answered}
    return "sent" if SENT in states else "bounced" if FAILED in states else "deferred"


def _days(seconds: int) -> str:
    return f"{seconds // 86400} days" if seconds >= 86400 else f"{seconds // 3600} hours"


__all__ = ["QueueRunner", "SENT", "FAILED", "PENDING"]
