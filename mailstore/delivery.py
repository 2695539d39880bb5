"""Local delivery: one message, its local mailboxes and its external recipients, stored once.

Implementation notes (invariants a maintainer must keep):
- Durability: blobs are flushed (``BlobStore.put_many``) before the transaction that
  references them commits; ``deliver`` returns only after that commit is on disk. A front
  door acknowledges (SMTP 250) only after ``deliver`` returned.
- One delivery is atomic: every mailbox row, the queue entry for external recipients and the
  trace record commit together or not at all (SMTP has one reply for all recipients).
- Group commit: concurrent deliveries wait in ``_pending`` while a transaction is running and
  go into the next one together, so many clients share one fsync. If a shared transaction
  fails (a mailbox filled up, say), each of its deliveries is retried alone, so one bad
  delivery never fails another.
- Pipeline: a batch's blobs are flushed (in a thread) while the batch before it commits
  and while its own rows are written; its COMMIT waits for that flush (the ``gate`` of
  ``Database.commit_sync``), and if the flush failed the transaction rolls back and every
  delivery of the batch fails, never retried without its blobs. A batch's transaction
  starts only after the previous one has ended, so commits keep the order of arrival. It
  need not wait for the previous commit to reach the disk: each batch is answered, and
  IDLE woken, only after its own ``Database.durable``.
- One blob per message, however many recipients: every mailbox row references the same
  content (``Messages.append_rows`` takes one more reference).
- A collected message's ``Delivery.collected`` record (what was taken from the ISP mailbox)
  commits in the same transaction as its mailbox rows, so the collector never fetches it
  again once it is stored, and fetches it again if it is not.
- Duplicate guard: a message whose Message-ID already arrived in the same account within
  ``duplicate_window`` seconds is not stored again there (checked inside the write
  transaction, so the deliveries of one batch see each other).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, bindparam, or_, select

from mailstore.collectors import CollectedRecord, insert_collected
from mailstore.database import Database
from mailstore.errors import NotFound
from mailstore.messages import Messages, Prepared, prepare
from mailstore.models import Content, Folder, Message
from mailstore.outbound import enqueue_row
from mailstore.routing import Mailbox
from mailstore.trace import TraceRecord, insert_traces
from mailstore.values import NewMessage

C = Content.__table__
F = Folder.__table__
M = Message.__table__

BATCH_LIMIT = 200
# Parsing a big message takes long enough to stall other connections: do it in a thread.
PARSE_IN_THREAD = 256 * 1024


@dataclass(frozen=True, slots=True)
class Part:
    """One version of the message and who gets it (a list's members get their own copy)."""

    raw: bytes
    mailboxes: tuple[Mailbox, ...] = ()
    external: tuple[str, ...] = ()


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
    other_parts: tuple[Part, ...] = ()
    collected: CollectedRecord | None = None  # the collector's "fetched" record

    @property
    def parts(self) -> tuple[Part, ...]:
        return (Part(self.raw, self.mailboxes, self.external), *self.other_parts)


@dataclass(frozen=True, slots=True)
class Stored:
    mailbox: Mailbox
    folder: str
    uid: int


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    stored: tuple[Stored, ...]
    duplicates: tuple[Mailbox, ...]
    queued: tuple[int, ...]  # outbound queue ids for the external recipients


@dataclass(slots=True)
class _Job:
    delivery: Delivery
    parts: list[tuple[Part, Prepared]]
    future: asyncio.Future[DeliveryResult]


class LocalDelivery:
    def __init__(self, db: Database, messages: Messages,
                 duplicate_window: int = 7 * 86400) -> None:
        self.db = db
        self.messages = messages
        self.duplicate_window = duplicate_window
        self._pending: list[_Job] = []
        self._runner: asyncio.Task[None] | None = None
        self._arrived = asyncio.Event()
        self._settling: set[asyncio.Task[None]] = set()
        # Blob flushes wait on the disk; two, so the next batch's need not wait for this one's.
        self._flusher = concurrent.futures.ThreadPoolExecutor(2, "blob-flush")
        # Called after a commit that queued mail for elsewhere (wakes the queue runner).
        self.on_queued: Callable[[], None] | None = None
        self.last_arrival = 0.0  # time.monotonic() of the last ``deliver`` call

    async def deliver(self, delivery: Delivery) -> DeliveryResult:
        """Store the message for every recipient; returns once it is durable."""
        self.last_arrival = time.monotonic()
        parts = []
        for part in delivery.parts:
            message = NewMessage(part.raw)
            if len(part.raw) > PARSE_IN_THREAD:
                parts.append((part, await asyncio.to_thread(prepare, message)))
            else:
                parts.append((part, prepare(message)))
        future: asyncio.Future[DeliveryResult] = asyncio.get_running_loop().create_future()
        self._pending.append(_Job(delivery, parts, future))
        self._arrived.set()
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())
        return await asyncio.shield(future)

    def quiet(self, seconds: float) -> bool:
        """Whether no delivery has arrived for ``seconds`` (upkeep may use the writer)."""
        return time.monotonic() - self.last_arrival >= seconds

    async def _run(self) -> None:
        """A batch's blobs are flushed while its rows are written (COMMIT waits for them,
        ``Database.commit_sync``'s gate) and while the batch before it commits; its
        transaction starts once the previous one has ended, so commits keep arrival order."""
        ended: asyncio.Future[None] | None = None  # the previous batch's transaction ended
        while True:
            if not self._pending:
                if ended is None or ended.done():
                    return  # no await since the check: ``deliver`` starts a new runner
                await self._ended_or_arrival(ended)
                continue
            batch, self._pending = self._pending[:BATCH_LIMIT], self._pending[BATCH_LIMIT:]
            gate = self._flush_blobs(batch)
            if ended is not None:
                await ended  # commits stay in arrival order
            ended = asyncio.get_running_loop().create_future()
            task = asyncio.create_task(self._settle(batch, gate, ended))
            self._settling.add(task)  # a task nobody holds may be collected
            task.add_done_callback(self._settling.discard)

    async def _ended_or_arrival(self, ended: asyncio.Future[None]) -> None:
        """Waits until the running transaction ends or a new delivery arrives."""
        self._arrived.clear()
        arrival = asyncio.create_task(self._arrived.wait())
        try:
            await asyncio.wait((ended, arrival), return_when=asyncio.FIRST_COMPLETED)
        finally:
            arrival.cancel()

    def _flush_blobs(self, batch: Sequence[_Job]) -> concurrent.futures.Future[None] | None:
        """Starts making the batch's blobs durable, in a thread (it waits on the disk)."""
        blobs = [(p.sha256, p.raw) for j in batch for part, p in j.parts if part.mailboxes]
        return self._flusher.submit(self.messages.blobs.put_many, blobs) if blobs else None

    async def _settle(self, batch: list[_Job], gate: concurrent.futures.Future[None] | None,
                      ended: asyncio.Future[None]) -> None:
        """Commits the batch once its blobs are durable, then answers each delivery once
        the commit is on disk. ``ended`` is set when the transaction is over, not durable."""
        try:
            try:
                results, folder_ids, ticket = await self._commit(batch, gate)
            except Exception as exc:
                unflushed = await _failure(gate)
                if unflushed is not None:  # no blobs, no retry: every delivery fails
                    for job in batch:
                        _fail(job, unflushed)
                elif len(batch) == 1:
                    _fail(batch[0], exc)
                else:
                    await self._one_by_one(batch)
                return
        finally:
            if not ended.done():
                ended.set_result(None)
        await self._answer(batch, results, folder_ids, ticket)

    async def _one_by_one(self, batch: list[_Job]) -> None:
        for job in batch:
            try:
                results, folder_ids, ticket = await self._commit([job])
            except Exception as exc:
                _fail(job, exc)
            else:
                await self._answer([job], results, folder_ids, ticket)

    async def _answer(self, batch: Sequence[_Job], results: list[DeliveryResult],
                      folder_ids: list[int], ticket: int) -> None:
        """Waits for the commit to reach the disk, then wakes IDLE and answers each job."""
        try:
            await self.db.durable(ticket)
        except Exception as exc:
            for job in batch:
                _fail(job, exc)
            return
        self.messages.events.notify(folder_ids)  # durable: wake IMAP IDLE and the like
        if self.on_queued is not None and any(r.queued for r in results):
            self.on_queued()
        for job, result in zip(batch, results, strict=True):
            if not job.future.done():
                job.future.set_result(result)

    async def _commit(self, batch: Sequence[_Job],
                      gate: concurrent.futures.Future[None] | None = None
                      ) -> tuple[list[DeliveryResult], list[int], int]:
        """One transaction for the whole batch, with set-based statements: one append per
        folder, however many messages the batch puts into it. The blobs must be durable
        when it commits: already, or once ``gate`` (their flush) is done.
        Returns the results, the folders written and the ticket for ``Database.durable``."""
        now = int(time.time())
        (results, folder_ids), ticket = await self.db.commit_sync(
            lambda conn: self._write_batch(conn, batch, now, gate), gate)
        return results, folder_ids, ticket

    def _write_batch(self, conn: Connection, batch: Sequence[_Job], now: int,
                     gate: concurrent.futures.Future[None] | None = None
                     ) -> tuple[list[DeliveryResult], list[int]]:
        """The rows of the batch, inside one transaction: a plain function, so on SQLite
        it runs whole on the writer's thread (``Database.write_sync``). ``gate``: the
        flush of the batch's blobs, which may still be running."""
        stored: list[list[Stored]] = [[] for _ in batch]
        duplicates: list[list[Mailbox]] = [[] for _ in batch]
        queued: list[list[int]] = [[] for _ in batch]
        folders = _folders(conn, batch)
        seen = self._already_delivered(conn, batch, now)
        plan: dict[int, list[tuple[int, Mailbox, str, Prepared]]] = {}
        for i, job in enumerate(batch):
            for part, prepared in job.parts:
                message_id = prepared.parsed.message_id
                for mailbox in part.mailboxes:
                    if message_id and (message_id, mailbox.account_id) in seen:
                        duplicates[i].append(mailbox)
                        continue
                    folder_id, name = _pick(folders, mailbox, job.delivery.junk)
                    plan.setdefault(folder_id, []).append((i, mailbox, name, prepared))
                if message_id:  # later copies of this Message-ID are duplicates
                    seen.update((message_id, m.account_id) for m in part.mailboxes)
        for folder_id, entries in plan.items():
            appended = self.messages.append_rows(
                conn, folder_id, [prepared for *_, prepared in entries], recheck_blobs=False)
            for (i, mailbox, name, _), row in zip(entries, appended, strict=True):
                stored[i].append(Stored(mailbox, name, row.uid))
        if gate is not None:
            gate.result()  # the flush is over (or raises, and the transaction rolls back)
        self.messages.write_back_missing(
            [prepared for entries in plan.values() for *_, prepared in entries])
        for i, job in enumerate(batch):
            for part, _ in job.parts:
                if part.external:
                    queued[i].append(_enqueue(conn, job.delivery, part, now))
        insert_traces(conn, [j.delivery.trace for j in batch if j.delivery.trace])
        insert_collected(conn, [j.delivery.collected for j in batch if j.delivery.collected])
        results = [DeliveryResult(tuple(stored[i]), tuple(duplicates[i]), tuple(queued[i]))
                   for i in range(len(batch))]
        return results, list(plan)

    def _already_delivered(self, conn: Connection, batch: Sequence[_Job],
                           now: int) -> set[tuple[str, int]]:
        """(Message-ID, account) pairs already stored within the duplicate window."""
        message_ids = {p.parsed.message_id for j in batch for part, p in j.parts
                       if part.mailboxes and p.parsed.message_id}
        if not message_ids:
            return set()
        accounts = {m.account_id for j in batch for part, _ in j.parts for m in part.mailboxes}
        # Three index lookups instead of one join: given the join, SQLite walks every recent
        # message of the accounts' folders (the folder/date index), a scan that grows with
        # the mailbox. New mail usually stops after the first (no content has its id).
        contents = dict(conn.execute(_CONTENTS_WITH_IDS, {"ids": list(message_ids)}).all())
        if not contents:
            return set()
        refs = conn.execute(
            select(M.c.content_id, M.c.folder_id).distinct()
            .where(M.c.content_id.in_(contents),
                   M.c.internal_date >= now - self.duplicate_window)).all()
        if not refs:
            return set()
        owners = dict(conn.execute(select(F.c.id, F.c.account_id).where(
            F.c.id.in_({r.folder_id for r in refs}))).all())
        return {(contents[r.content_id], owners[r.folder_id]) for r in refs
                if owners.get(r.folder_id) in accounts}


def _enqueue(conn: Connection, delivery: Delivery, part: Part, now: int) -> int:
    return enqueue_row(conn, mail_from=delivery.mail_from, recipients=part.external,
                       message=part.raw, origin=delivery.origin, dsn=delivery.dsn, now=now)


JUNK = "\\Junk"
# (account id, folder name or JUNK) → (folder id, folder name)
FolderMap = dict[tuple[int, str], tuple[int, str]]


# Built once: building a statement cost more than running it (see messages._TAKE_UIDS).
_FOLDERS = select(F.c.id, F.c.account_id, F.c.name, F.c.special_use).where(
    F.c.account_id.in_(bindparam("accounts", expanding=True)),
    or_(F.c.name.in_(bindparam("names", expanding=True)), F.c.special_use == JUNK))
_CONTENTS_WITH_IDS = select(C.c.id, C.c.message_id).where(
    C.c.message_id.in_(bindparam("ids", expanding=True)))


def _folders(conn: Connection, batch: Sequence[_Job]) -> FolderMap:
    """The folders the batch may deliver into, in one query."""
    mailboxes = [m for j in batch for part, _ in j.parts for m in part.mailboxes]
    if not mailboxes:
        return {}
    accounts = {m.account_id for m in mailboxes}
    names = {"INBOX"} | {m.folder for m in mailboxes}
    rows = conn.execute(_FOLDERS, {"accounts": list(accounts), "names": list(names)})
    found: FolderMap = {}
    for r in rows:
        if r.name in names:
            found[(r.account_id, r.name)] = (r.id, r.name)
        if r.special_use == JUNK:
            found[(r.account_id, JUNK)] = (r.id, r.name)
    return found


def _pick(folders: FolderMap, mailbox: Mailbox, junk: bool) -> tuple[int, str]:
    """Junk when quarantined; else the routed folder, falling back to INBOX if it went."""
    for name in ((JUNK,) if junk else ()) + (mailbox.folder, "INBOX"):
        if (mailbox.account_id, name) in folders:
            return folders[(mailbox.account_id, name)]
    raise NotFound(f"{mailbox.address} has no INBOX")


async def _failure(gate: concurrent.futures.Future[None] | None) -> BaseException | None:
    """What the blob flush raised, once it is over (None: flushed, or nothing to flush)."""
    if gate is None:
        return None
    try:
        await asyncio.wrap_future(gate)
    except Exception as exc:
        return exc
    return None


def _fail(job: _Job, exc: BaseException) -> None:
    if not job.future.done():
        job.future.set_exception(exc)
