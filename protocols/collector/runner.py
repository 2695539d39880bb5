"""One collection run of one ISP mailbox: list, apply rules, download, deliver, delete.

Implementation notes (invariants a maintainer must keep):
- Nothing lost: a message is deleted at the ISP only after its delivery returned, i.e. after
  its blob was fsynced and its rows committed. A dropped connection before POP3 QUIT deletes
  nothing at the ISP (RFC 1939 §6), so the worst case is a message downloaded again.
- Nothing duplicated: the "fetched" record (``Delivery.collected``) commits in the same
  transaction as the delivery, and the listing skips every key already recorded. A message
  that comes back anyway (the ISP changed its UIDVALIDITY) meets the delivery's Message-ID
  duplicate guard.
- The message is delivered byte for byte as the ISP sent it (no header is added: its origin
  is in the message trace, listener "collector").
- Deliveries run concurrently (up to ``CONCURRENCY``) while the download goes on, so
  LocalDelivery group-commits them: many messages share one fsync.
- One run per account at a time, across processes and nodes: the run claims the account's
  lease first and renews it while it works.
- Every failure of a run becomes one line in ``last_error`` (see ``errors``); after
  ``alert_after`` failures in a row the admins get one notice, not one per attempt.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from dataclasses import dataclass, field

from mailstore.collectors import CollectedRecord, CollectorAccount, CollectorKeyError
from mailstore.delivery import Delivery
from mailstore.errors import NotFound, StoreError
from mailstore.routing import Mailbox, NotLocal, Route
from mailstore.store import Store
from mailstore.trace import RecipientVerdict, TraceRecord
from protocols.collector import notices
from protocols.collector.errors import CollectError
from protocols.collector.recipients import detect, header_of
from protocols.collector.rules import decide, header_field, needs_header
from protocols.collector.sources import Listed, Source, open_source

log = logging.getLogger("tidings.collector")

CONCURRENCY = 256
LEASE = 900
HOLD_VANISHED = 7 * 86400  # keep records of vanished messages this long (ISPs resurrect)


@dataclass(slots=True)
class RunReport:
    on_server: int = 0
    delivered: int = 0
    duplicates: int = 0
    skipped: int = 0
    deleted_by_rule: int = 0
    deleted: int = 0
    vanished: int = 0
    how: str = ""
    lines: list[str] = field(default_factory=list)  # one per message, for `collector run`

    def summary(self) -> str:
        parts = [f"{self.delivered} new message(s) delivered"]
        if self.duplicates:
            parts.append(f"{self.duplicates} duplicate copy(ies) not stored again")
        if self.skipped:
            parts.append(f"{self.skipped} left on the server by a rule")
        if self.deleted_by_rule:
            parts.append(f"{self.deleted_by_rule} deleted at the ISP by a rule")
        if self.deleted:
            parts.append(f"{self.deleted} deleted at the ISP after delivery")
        parts.append(f"{self.on_server} on the server")
        return ", ".join(parts) + (f" ({self.how})" if self.how else "")


@dataclass(frozen=True, slots=True)
class RunOutcome:
    account: str
    report: RunReport
    error: str | None = None
    busy: bool = False  # another run held the account; nothing was done


class Collector:
    """Runs collections of the store's collector accounts."""

    def __init__(self, store: Store, hostname: str = "localhost", node: str | None = None,
                 concurrency: int = CONCURRENCY, lease: int = LEASE) -> None:
        self.store = store
        self.hostname = hostname
        self.node = node or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.concurrency = concurrency
        self.lease = lease

    async def run(self, collector_id: int, now: float | None = None) -> RunOutcome:
        """One run now (if nobody else is running this account)."""
        collectors = self.store.collectors
        started = int(now if now is not None else time.time())
        report = RunReport()
        try:
            account = await collectors.get_by_id(collector_id, secret=True)
        except CollectorKeyError as exc:
            account = await collectors.get_by_id(collector_id)
            await collectors.finish(collector_id, self.node, str(exc), "", started, started)
            return RunOutcome(account.name, report, str(exc))
        if not await collectors.claim(collector_id, self.node, self.lease, int(time.time())):
            return RunOutcome(account.name, report, busy=True)
        renewing = asyncio.create_task(self._renew(collector_id))
        error: str | None = None
        try:
            await self._collect(account, report, started)
        except CollectError as exc:
            error = str(exc)
        except StoreError as exc:
            error = f"could not deliver locally: {exc}"
        except Exception as exc:  # never a traceback to the admin; the log has it
            log.exception("collector %s failed", account.name)
            error = f"internal error: {type(exc).__name__}: {exc}"
        finally:
            renewing.cancel()
        if error:
            log.info("collector %s: %s", account.name, error)
        tell = await collectors.finish(collector_id, self.node, error, report.summary(),
                                       int(time.time()), started)
        if tell and error:
            await self._tell_admins(account, error, collectors.alert_after)
            await collectors.mark_admin_notified(collector_id)
        return RunOutcome(account.name, report, error)

    async def _renew(self, collector_id: int) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            await self.store.collectors.renew(collector_id, self.node, self.lease)

    # The run -----------------------------------------------------------------------------
    async def _collect(self, account: CollectorAccount, report: RunReport, now: int) -> None:
        source = await open_source(account)
        report.how = source.description
        try:
            await self._session(account, source, report, now)
            await source.finish()
        finally:
            source.close()

    async def _session(self, account: CollectorAccount, source: Source, report: RunReport,
                       now: int) -> None:
        listed = await source.listing()
        report.on_server = len(listed)
        seen = await self.store.collectors.seen(account.id)
        new = [m for m in listed if m.key not in seen]
        to_delete: list[int] = []
        fetch = await self._apply_rules(account, source, new, report, to_delete, now)
        delivered = await self._download(account, source, fetch, report, now)
        if not account.leave_on_server:
            to_delete += delivered
            # delivered in an earlier run whose deletion did not reach QUIT
            to_delete += [m.handle for m in listed
                          if m.key in seen and seen[m.key][1] == "delivered"]
        elif account.delete_after_days is not None:
            cutoff = now - account.delete_after_days * 86400
            to_delete += [m.handle for m in listed if m.key in seen
                          and seen[m.key][1] == "delivered" and seen[m.key][0] <= cutoff]
        if to_delete:
            await source.delete(sorted(set(to_delete)))
            report.deleted = len(set(to_delete)) - report.deleted_by_rule
        present = {m.key for m in listed}
        vanished = [k for k, (at, _) in seen.items()
                    if k not in present and at < now - HOLD_VANISHED]
        if vanished:
            await self.store.collectors.forget(account.id, vanished)
            report.vanished = len(vanished)

    async def _apply_rules(self, account: CollectorAccount, source: Source, new: list[Listed],
                           report: RunReport, to_delete: list[int], now: int) -> list[Listed]:
        """Messages the rules keep back get a notice; the rest are returned for download."""
        if not account.rules or not new:
            return new
        headers = await source.headers([m.handle for m in new]) \
            if needs_header(account.rules) else {}
        fetch = []
        for m in new:
            rule = decide(account.rules, m.size, headers.get(m.handle))
            if rule is None:
                fetch.append(m)
                continue
            header = headers.get(m.handle)
            if header is None:
                header = (await source.headers([m.handle])).get(m.handle, b"")
            action = "skipped" if rule.action == "skip" else "deleted"
            record = CollectedRecord(account.id, m.key, now, action)
            await self._notify_rule(account, rule, header, m.size, record)
            if rule.action == "delete":
                to_delete.append(m.handle)
                report.deleted_by_rule += 1
            else:
                report.skipped += 1
            report.lines.append(f"{action} by rule {rule.describe()!r}: "
                                f"{header_field(header, 'subject')!r} ({m.size} bytes)")
        return fetch

    async def _notify_rule(self, account: CollectorAccount, rule: object, header: bytes,
                           size: int, record: CollectedRecord) -> None:
        mailboxes, _, _ = await self._route(account, header)
        if not mailboxes:
            await self.store.collectors.mark([record])
            return
        to = ", ".join(sorted({m.address for m in mailboxes}))
        notice = notices.rule_notice(account, rule, to, header_field(header, "from"),
                                     header_field(header, "subject"), size, self.hostname)
        await self.store.delivery.deliver(Delivery(
            notice, "", tuple(mailboxes), origin="collector", collected=record))

    async def _download(self, account: CollectorAccount, source: Source, fetch: list[Listed],
                        report: RunReport, now: int) -> list[int]:
        """Downloads and delivers; returns the handles delivered (safe to delete)."""
        if not fetch:
            return []
        keys = {m.handle: m.key for m in fetch}
        limit = asyncio.Semaphore(self.concurrency)
        tasks: list[asyncio.Task[int | None]] = []

        async def deliver(handle: int, raw: bytes) -> int | None:
            try:
                await self._deliver(account, raw, CollectedRecord(
                    account.id, keys[handle], now), report)
                return handle
            finally:
                limit.release()

        try:
            async for handle, raw in source.bodies([m.handle for m in fetch]):
                if raw is None:
                    report.lines.append(f"message {keys[handle]} vanished from the server")
                    continue
                await limit.acquire()
                tasks.append(asyncio.create_task(deliver(handle, raw)))
        finally:
            # Whatever happened to the download, what was received is delivered (and so
            # recorded) before the error is reported.
            results = await asyncio.gather(*tasks, return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise failures[0]
        return [r for r in results if isinstance(r, int)]

    async def _deliver(self, account: CollectorAccount, raw: bytes, record: CollectedRecord,
                       report: RunReport) -> None:
        header = header_of(raw)
        mailboxes, external, how = await self._route(account, header)
        message_id = header_field(header, "message-id")[:300]
        sender = header_field(header, "return-path").strip("<> ")[:320]
        places = [f"{m.address}/{m.folder}" for m in mailboxes] + \
            [f"outbound queue for {a}" for a in external]
        trace = TraceRecord(
            at=int(time.time()), listener="collector", client_ip=account.host[:64],
            verdict="accepted", helo=account.name, tls=account.tls,
            auth_user=account.username[:320], mail_from=sender, size=len(raw),
            message_id=message_id,
            recipients=[RecipientVerdict(m.address, "accepted", how, f"{m.address}/{m.folder}")
                        for m in mailboxes] + [RecipientVerdict(a, "accepted", how, "queued")
                                               for a in external])
        result = await self.store.delivery.deliver(Delivery(
            raw, sender, tuple(mailboxes), tuple(external), origin="collector", trace=trace,
            collected=record))
        report.delivered += 1
        report.duplicates += len(result.duplicates)
        subject = header_field(header, "subject")
        report.lines.append(f"delivered {subject!r} ({len(raw)} bytes) to "
                            f"{', '.join(places)}" + (f" [{how}]" if how else ""))

    async def _route(self, account: CollectorAccount, header: bytes
                     ) -> tuple[list[Mailbox], list[str], str]:
        """Local mailboxes and external forwards for one message, and how they were found."""
        if account.multidrop:
            found = detect(header)
            for addresses, how in ((found.envelope, found.source), (found.headers, "To/Cc")):
                routes = [r for r in [await self._resolve(a) for a in addresses] if r]
                if routes:
                    return _merge(routes) + (how,)
        route = await self._resolve(account.recipient)
        if route is None:
            raise NotFound(f"the collector's recipient {account.recipient} does not exist "
                           "here (change it, or add the account)")
        return _merge([route]) + ("default recipient" if account.multidrop else "",)

    async def _resolve(self, address: str) -> Route | None:
        try:
            return await self.store.router.resolve(address)
        except NotLocal:
            return None
        except StoreError:
            return None

    async def _tell_admins(self, account: CollectorAccount, error: str, failures: int) -> None:
        admins = [a for a in await self.store.accounts.list() if a.is_admin and not a.disabled]
        for admin in admins:
            try:
                await self.store.delivery.deliver(Delivery(
                    notices.admin_notice(account, error, failures, admin.address,
                                         self.hostname),
                    "", (Mailbox(admin.id, admin.address),), origin="collector"))
            except StoreError as exc:
                log.warning("could not tell %s about collector %s: %s", admin.address,
                            account.name, exc)


def _merge(routes: list[Route]) -> tuple[list[Mailbox], list[str]]:
    mailboxes = {(m.account_id, m.folder): m for r in routes for m in r.local}
    external = {a: None for r in routes for a in r.external}
    return list(mailboxes.values()), list(external)
