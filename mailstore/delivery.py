"""Local delivery: one message, its local mailboxes and its external recipients, stored once.

Implementation notes (invariants a maintainer must keep):
- Durability: blobs are flushed (``BlobStore.put_many``) before the transaction that
  references them; ``deliver`` returns only after that transaction committed. A front door
  acknowledges (SMTP 250) only after ``deliver`` returned.
- One delivery is atomic: every mailbox row, the queue entry for external recipients and the
  trace record commit together or not at all (SMTP has one reply for all recipients).
- Group commit: concurrent deliveries wait in ``_pending`` while a transaction is running and
  go into the next one together, so many clients share one fsync. If a shared transaction
  fails (a mailbox filled up, say), each of its deliveries is retried alone, so one bad
  delivery never fails another.
- One blob per message, however many recipients: every mailbox row references the same
  content (``Messages.append_rows`` takes one more reference).
- Duplicate guard: a message whose Message-ID already arrived in the same account within
  ``duplicate_window`` seconds is not stored again there (checked inside the write
  transaction, so the deliveries of one batch see each other).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from mailstore.database import Database
from mailstore.errors import NotFound
from mailstore.messages import Messages, Prepared, prepare
from mailstore.models import Content, Folder, Message, Outbound
from mailstore.routing import Mailbox
from mailstore.trace import TraceRecord, insert_traces
from mailstore.values import NewMessage

C = Content.__table__
F = Folder.__table__
M = Message.__table__
O = Outbound.__table__  # noqa: E741

BATCH_LIMIT = 200
# Parsing a big message takes long enough to stall other connections: do it in a thread.
PARSE_IN_THREAD = 256 * 1024


@dataclass(frozen=True, slots=True)
class Delivery:
    raw: bytes
    mail_from: str
    mailboxes: tuple[Mailbox, ...] = ()
    external: tuple[str, ...] = ()
    origin: str = "smtp"
    dsn: dict[str, object] = field(default_factory=dict)
    junk: bool = False  # deliver into each account's Junk folder (DMARC quarantine)
    trace: TraceRecord | None = None


@dataclass(frozen=True, slots=True)
class Stored:
    mailbox: Mailbox
    folder: str
    uid: int


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    stored: tuple[Stored, ...]
    duplicates: tuple[Mailbox, ...]
    queued: int | None  # outbound queue id for the external recipients


@dataclass(slots=True)
class _Job:
    delivery: Delivery
    prepared: Prepared
    future: asyncio.Future[DeliveryResult]


class LocalDelivery:
    def __init__(self, db: Database, messages: Messages,
                 duplicate_window: int = 7 * 86400) -> None:
        self.db = db
        self.messages = messages
        self.duplicate_window = duplicate_window
        self._pending: list[_Job] = []
        self._runner: asyncio.Task[None] | None = None

    async def deliver(self, delivery: Delivery) -> DeliveryResult:
        """Store the message for every recipient; returns once it is durable."""
        message = NewMessage(delivery.raw)
        if len(delivery.raw) > PARSE_IN_THREAD:
            prepared = await asyncio.to_thread(prepare, message)
        else:
            prepared = prepare(message)
        future: asyncio.Future[DeliveryResult] = asyncio.get_running_loop().create_future()
        self._pending.append(_Job(delivery, prepared, future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())
        return await asyncio.shield(future)

    async def record(self, trace: TraceRecord) -> None:
        """Record a transaction that delivered nothing (rejected, aborted)."""
        async with self.db.write() as conn:
            await insert_traces(conn, [trace])

    async def _run(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:BATCH_LIMIT], self._pending[BATCH_LIMIT:]
            try:
                results = await self._commit(batch)
            except Exception as exc:
                if len(batch) == 1:
                    _fail(batch[0], exc)
                else:
                    await self._one_by_one(batch)
                continue
            for job, result in zip(batch, results, strict=True):
                if not job.future.done():
                    job.future.set_result(result)

    async def _one_by_one(self, batch: list[_Job]) -> None:
        for job in batch:
            try:
                result = (await self._commit([job]))[0]
            except Exception as exc:
                _fail(job, exc)
            else:
                if not job.future.done():
                    job.future.set_result(result)

    async def _commit(self, batch: Sequence[_Job]) -> list[DeliveryResult]:
        self.messages.blobs.put_many(
            (job.prepared.sha256, job.prepared.raw) for job in batch if job.delivery.mailboxes)
        async with self.db.write() as conn:
            results = [await self._apply(conn, job) for job in batch]
            await insert_traces(conn, [j.delivery.trace for j in batch if j.delivery.trace])
        return results

    async def _apply(self, conn: AsyncConnection, job: _Job) -> DeliveryResult:
        delivery, prepared = job.delivery, job.prepared
        now = int(time.time())
        duplicates = await self._already_delivered(conn, prepared, delivery.mailboxes, now)
        stored: list[Stored] = []
        for mailbox in delivery.mailboxes:
            if mailbox.account_id in duplicates:
                continue
            folder_id, folder_name = await _folder(conn, mailbox, delivery.junk)
            appended = await self.messages.append_rows(conn, folder_id, [prepared])
            stored.append(Stored(mailbox, folder_name, appended[0].uid))
        queued = None
        if delivery.external:
            queued = (await conn.execute(insert(O).values(
                created_at=now, origin=delivery.origin, mail_from=delivery.mail_from,
                recipients=json.dumps(list(delivery.external)),
                dsn=json.dumps(delivery.dsn), message=delivery.raw, size=len(delivery.raw),
                status="queued", attempts=0, next_attempt_at=now,
            ).returning(O.c.id))).scalar_one()
        return DeliveryResult(
            tuple(stored),
            tuple(m for m in delivery.mailboxes if m.account_id in duplicates),
            queued)

    async def _already_delivered(self, conn: AsyncConnection, prepared: Prepared,
                                 mailboxes: Sequence[Mailbox], now: int) -> set[int]:
        message_id = prepared.parsed.message_id
        if not message_id or not mailboxes:
            return set()
        accounts = {m.account_id for m in mailboxes}
        rows = await conn.execute(
            select(F.c.account_id).distinct()
            .select_from(M.join(C, C.c.id == M.c.content_id).join(F, F.c.id == M.c.folder_id))
            .where(C.c.message_id == message_id, F.c.account_id.in_(accounts),
                   M.c.internal_date >= now - self.duplicate_window))
        return {r.account_id for r in rows}


def _fail(job: _Job, exc: BaseException) -> None:
    if not job.future.done():
        job.future.set_exception(exc)


async def _folder(conn: AsyncConnection, mailbox: Mailbox, junk: bool) -> tuple[int, str]:
    if junk:
        row = (await conn.execute(select(F.c.id, F.c.name).where(
            F.c.account_id == mailbox.account_id, F.c.special_use == "\\Junk"))).first()
        if row is not None:
            return row.id, row.name
    row = (await conn.execute(select(F.c.id, F.c.name).where(
        F.c.account_id == mailbox.account_id, F.c.name == mailbox.folder))).first()
    if row is None and mailbox.folder != "INBOX":
        row = (await conn.execute(select(F.c.id, F.c.name).where(
            F.c.account_id == mailbox.account_id, F.c.name == "INBOX"))).first()
    if row is None:
        raise NotFound(f"{mailbox.address} has no INBOX")
    return row.id, row.name
