"""The outbound queue: every message that leaves the server waits here until each of its
recipients has a final answer.

Implementation notes (invariants a maintainer must keep):
- An entry is self-contained: the message bytes, the envelope, the DSN parameters and each
  recipient's state live in its row, committed in the same transaction as whatever queued
  it (``enqueue_row`` runs inside the caller's transaction).
- Claiming: a runner moves due entries to ``sending`` with ``claimed_by`` = its node name and
  a lease, in one transaction. PostgreSQL selects with ``FOR UPDATE SKIP LOCKED``, so two
  nodes never take the same entry; SQLite has one writer at a time, which gives the same.
  An entry whose lease ran out (its node died) is due again; a node that restarts under the
  same name takes its own claims back at once (``release``).
- Progress is written after every answer (``save``), before the runner sends anything else,
  so a recipient that got a 250 is not sent to again after a crash.
- An entry whose recipients all have a final state leaves the queue; its story stays in the
  message trace (listener ``outbound``).
- Administrators steer entries from any node: retry (due now), delete (refused while a
  runner holds the entry), bounce (``bounce_requested`` is set and the entry made due; the
  runner that claims it next fails its pending recipients and sends the sender the DSN, so
  the store never builds a report itself). Each change commits with its audit line.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from email.parser import BytesHeaderParser
from email.policy import compat32

from sqlalchemy import Connection, case, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mailstore.audit import Actor, AuditLog
from mailstore.database import Database
from mailstore.errors import NotFound, StoreError
from mailstore.models import Outbound
from mailstore.trace import RecipientVerdict, TraceRecord, insert_traces

O = Outbound.__table__  # noqa: E741

QUEUED, SENDING = "queued", "sending"
# Recipient states: waiting for an answer, or one of the two final ones.
PENDING, SENT, FAILED = "pending", "sent", "failed"


class EntryBusy(StoreError):
    """The entry is being sent right now (it cannot be deleted mid-transfer)."""


@dataclass(slots=True)
class QueuedRecipient:
    address: str
    state: str = PENDING
    reply: str = ""  # the last answer about this recipient, ours or the remote server's
    remote: str = ""  # the host that gave it
    at: int | None = None
    delayed_notice: bool = False

    @classmethod
    def load(cls, value: object) -> QueuedRecipient:
        if isinstance(value, str):  # the first queue format: a bare address
            return cls(value)
        return cls(**value)  # type: ignore[arg-type]


@dataclass(slots=True)
class QueueEntry:
    id: int
    created_at: int
    origin: str
    mail_from: str
    recipients: list[QueuedRecipient]
    dsn: dict
    size: int
    status: str
    attempts: int
    next_attempt_at: int
    last_error: str | None
    delay_notified: bool
    history: list[dict] = field(default_factory=list)
    message: bytes | None = None
    claimed_by: str | None = None
    lease_until: int | None = None
    bounce_requested: str | None = None  # who asked to return it to the sender

    def pending(self) -> list[QueuedRecipient]:
        return [r for r in self.recipients if r.state == PENDING]

    @property
    def envelope_id(self) -> str:
        return str(self.dsn.get("envid", ""))

    def recipient_params(self, address: str) -> dict[str, str]:
        """The recipient's RCPT parameters as the client gave them (NOTIFY, ORCPT)."""
        params = self.dsn.get("rcpt", {}).get(address, {})
        return {k.upper(): v for k, v in params.items()} if isinstance(params, dict) else {}


def enqueue_row(conn: Connection, *, mail_from: str, recipients: Sequence[str],
                      message: bytes, origin: str, dsn: dict | None = None,
                      now: int | None = None) -> int:
    """Queue a message inside the caller's transaction; returns the entry id."""
    now = int(time.time()) if now is None else now
    mail_from = "" if mail_from == "<>" else mail_from  # the null sender, however written
    return conn.execute(insert(O).values(
        created_at=now, origin=origin, mail_from=mail_from,
        recipients=json.dumps([asdict(QueuedRecipient(a)) for a in recipients]),
        dsn=json.dumps(dsn or {}), message=message, size=len(message), status=QUEUED,
        attempts=0, next_attempt_at=now, delay_notified=False, history="[]",
    ).returning(O.c.id)).scalar_one()


def _entry(row: object, with_message: bool = True) -> QueueEntry:
    return QueueEntry(
        id=row.id, created_at=row.created_at, origin=row.origin, mail_from=row.mail_from,
        recipients=[QueuedRecipient.load(v) for v in json.loads(row.recipients)],
        dsn=json.loads(row.dsn or "{}"), size=row.size, status=row.status,
        attempts=row.attempts, next_attempt_at=row.next_attempt_at, last_error=row.last_error,
        delay_notified=bool(row.delay_notified), history=json.loads(row.history or "[]"),
        message=row.message if with_message else None, claimed_by=row.claimed_by,
        lease_until=row.lease_until, bounce_requested=row.bounce_requested)


SUMMARY = [c for c in O.c if c.name != "message"]


class OutboundQueue:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def enqueue(self, mail_from: str, recipients: Sequence[str], message: bytes,
                      origin: str, dsn: dict | None = None) -> int:
        return await self.db.write_sync(lambda conn: enqueue_row(
            conn, mail_from=mail_from, recipients=recipients, message=message,
            origin=origin, dsn=dsn))

    async def claim(self, node: str, limit: int, lease: int,
                    now: int | None = None) -> list[QueueEntry]:
        """Take up to ``limit`` due entries for this node (oldest due first)."""
        now = int(time.time()) if now is None else now
        due = or_(
            (O.c.status == QUEUED) & (O.c.next_attempt_at <= now),
            (O.c.status == SENDING) & (O.c.lease_until < now))
        # Asked every second or so: an empty queue is answered by a read, without taking
        # the writer (which deliveries wait for) or flushing a commit to disk.
        async with self.db.read() as conn:
            if (await conn.execute(select(O.c.id).where(due).limit(1))).first() is None:
                return []
        async with self.db.write() as conn:
            ids = (await conn.execute(
                select(O.c.id).where(due).order_by(O.c.next_attempt_at, O.c.id).limit(limit)
                .with_for_update(skip_locked=True))).scalars().all()
            if not ids:
                return []
            rows = (await conn.execute(
                update(O).where(O.c.id.in_(ids))
                .values(status=SENDING, claimed_by=node, lease_until=now + lease)
                .returning(*O.c))).all()
        return sorted((_entry(r) for r in rows), key=lambda e: (e.next_attempt_at, e.id))

    async def release(self, node: str) -> int:
        """Give back what this node had claimed (after a restart: it sends nothing now)."""
        async with self.db.write() as conn:
            result = await conn.execute(
                update(O).where(O.c.status == SENDING, O.c.claimed_by == node)
                .values(status=QUEUED, claimed_by=None, lease_until=None))
        return result.rowcount

    async def renew(self, node: str, lease: int, now: int | None = None) -> None:
        """Extend this node's claims (it is alive and still holds them)."""
        now = int(time.time()) if now is None else now
        async with self.db.write() as conn:
            await conn.execute(update(O).where(O.c.status == SENDING, O.c.claimed_by == node)
                               .values(lease_until=now + lease))

    async def save(self, entries: Sequence[QueueEntry], traces: Sequence[TraceRecord] = (),
                   ) -> None:
        """Write the entries' state in one transaction. An entry with no pending recipient
        leaves the queue; one still ``sending`` keeps its claim."""
        async with self.db.write() as conn:
            for e in entries:
                mine = (O.c.id == e.id) & (O.c.claimed_by == e.claimed_by)
                if not e.pending():
                    await conn.execute(delete(O).where(mine))
                else:
                    await conn.execute(update(O).where(mine).values(
                        recipients=json.dumps([asdict(r) for r in e.recipients]),
                        status=e.status, attempts=e.attempts, last_error=e.last_error,
                        delay_notified=e.delay_notified, history=json.dumps(e.history),
                        # A bounce asked for while this attempt ran: due at once.
                        next_attempt_at=case((O.c.bounce_requested.is_not(None),
                                              O.c.created_at), else_=e.next_attempt_at),
                        **({"claimed_by": None, "lease_until": None}
                           if e.status == QUEUED else {})))
            await conn.run_sync(insert_traces, traces)

    async def list(self, limit: int = 1000, where: QueueFilter | None = None,
                   after_id: int | None = None, now: int | None = None) -> list[QueueEntry]:
        """Entries oldest first, without their bytes; ``after_id`` pages on."""
        query = select(*SUMMARY).order_by(O.c.id).limit(limit)
        if where is not None:
            query = query.where(*where.conditions(int(time.time()) if now is None else now))
        if after_id is not None:
            query = query.where(O.c.id > after_id)
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_entry(r, with_message=False) for r in rows]

    async def count(self) -> int:
        async with self.db.read() as conn:
            return (await conn.execute(select(func.count()).select_from(O))).scalar_one()

    async def counts(self, where: QueueFilter | None = None,
                     now: int | None = None) -> QueueCounts:
        """How many entries there are in each state, and the oldest one (one query)."""
        def n(condition: object) -> object:
            return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

        query = select(func.count(), *(n(c) for c in _STATE_CONDITIONS.values()),
                       func.min(O.c.created_at)).select_from(O)
        if where is not None:
            query = query.where(*where.conditions(int(time.time()) if now is None else now))
        async with self.db.read() as conn:
            row = (await conn.execute(query)).one()
        total, *states, oldest = row
        return QueueCounts(int(total), dict(zip(_STATE_CONDITIONS, map(int, states),
                                                strict=True)), oldest)

    async def get(self, entry_id: int) -> QueueEntry:
        async with self.db.read() as conn:
            row = (await conn.execute(select(O).where(O.c.id == entry_id))).first()
        if row is None:
            raise NotFound(f"no queue entry #{entry_id}")
        return _entry(row)

    async def retry(self, entry_id: int, now: int | None = None,
                    actor: Actor | None = None) -> None:
        """Make the entry due now."""
        outcome = await self.retry_many([entry_id], actor, now)
        if outcome.missing:
            raise NotFound(f"no queue entry #{entry_id}")

    async def delete(self, entry_id: int, now: int | None = None,
                     actor: Actor | None = None) -> None:
        outcome = await self.delete_many([entry_id], actor, now)
        if outcome.missing:
            raise NotFound(f"no queue entry #{entry_id}")
        if outcome.busy:
            raise EntryBusy(f"queue entry #{entry_id} is being sent right now; "
                            "try again in a moment")

    async def retry_many(self, ids: Sequence[int], actor: Actor | None = None,
                         now: int | None = None) -> QueueOutcome:
        """Make these entries due now. One being sent is left alone (it is being tried)."""
        now = int(time.time()) if now is None else now
        outcome = QueueOutcome()
        async with self.db.write() as conn:
            for row in await _free_rows(conn, ids, outcome, now):
                await conn.execute(update(O).where(O.c.id == row.id).values(
                    next_attempt_at=now, status=QUEUED, claimed_by=None, lease_until=None))
                outcome.done.append(row.id)
                if actor is not None:
                    await AuditLog.record_in(
                        conn, actor, "queue.retry", f"queue #{row.id}",
                        old={"next_attempt_at": row.next_attempt_at},
                        new={"next_attempt_at": now})
        return outcome

    async def delete_many(self, ids: Sequence[int], actor: Actor | None = None,
                          now: int | None = None) -> QueueOutcome:
        """Remove these entries unsent. One being sent right now is refused (busy)."""
        now = int(time.time()) if now is None else now
        outcome = QueueOutcome()
        async with self.db.write() as conn:
            for row in await _free_rows(conn, ids, outcome, now):
                await conn.execute(delete(O).where(O.c.id == row.id))
                outcome.done.append(row.id)
                if actor is not None:
                    await AuditLog.record_in(conn, actor, "queue.delete", f"queue #{row.id}",
                                             old=_described(row), new=None)
        return outcome

    async def bounce_many(self, ids: Sequence[int], actor: Actor,
                          now: int | None = None) -> QueueOutcome:
        """Ask the queue runner (whichever node claims the entry next) to return these
        messages to their senders with a delivery report. An entry being sent now is
        bounced when that attempt ends (whatever it did not deliver)."""
        now = int(time.time()) if now is None else now
        outcome = QueueOutcome()
        async with self.db.write() as conn:
            for row in await _rows(conn, ids, outcome):
                values: dict[str, object] = {"bounce_requested": actor.address}
                if row.status == QUEUED:
                    values["next_attempt_at"] = now
                await conn.execute(update(O).where(O.c.id == row.id).values(**values))
                outcome.done.append(row.id)
                await AuditLog.record_in(conn, actor, "queue.bounce", f"queue #{row.id}",
                                         old=_described(row),
                                         new={"bounce_requested": actor.address})
        return outcome


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """What the admin's queue list shows: substrings of sender and recipients, a state
    (one of ``STATES``), and a minimum age in seconds."""

    sender: str = ""
    recipient: str = ""
    state: str = ""
    older_than: int | None = None

    def conditions(self, now: int) -> list:
        found: list = []
        if self.sender:
            found.append(O.c.mail_from.ilike(f"%{_escape(self.sender)}%", escape="\\"))
        if self.recipient:
            found.append(O.c.recipients.ilike(f"%{_escape(self.recipient)}%", escape="\\"))
        if self.state in _STATE_CONDITIONS:
            found.append(_STATE_CONDITIONS[self.state])
        if self.older_than is not None:
            found.append(O.c.created_at <= now - self.older_than)
        return found


# The states an administrator filters by: (name, what it means).
STATES = {
    "waiting": "not tried yet",
    "deferred": "tried, the receiving server or the network said try later",
    "sending": "being sent right now",
    "bouncing": "being returned to the sender",
}
_STATE_CONDITIONS = {
    "waiting": (O.c.status == QUEUED) & (O.c.attempts == 0) & O.c.bounce_requested.is_(None),
    "deferred": (O.c.status == QUEUED) & (O.c.attempts > 0) & O.c.bounce_requested.is_(None),
    "sending": (O.c.status == SENDING) & O.c.bounce_requested.is_(None),
    "bouncing": O.c.bounce_requested.is_not(None),
}


@dataclass(frozen=True, slots=True)
class QueueCounts:
    total: int
    by_state: dict[str, int]
    oldest_at: int | None


@dataclass(slots=True)
class QueueOutcome:
    """What a bulk action did: entries changed, entries being sent (left alone), unknown."""

    done: list[int] = field(default_factory=list)
    busy: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)


def entry_state(entry: QueueEntry) -> str:
    """The entry's state as the admin's filter names it (see ``STATES``)."""
    if entry.bounce_requested:
        return "bouncing"
    if entry.status == SENDING:
        return "sending"
    return "deferred" if entry.attempts else "waiting"


async def _rows(conn: AsyncConnection, ids: Sequence[int], outcome: QueueOutcome) -> list:
    wanted = sorted(set(ids))
    rows = (await conn.execute(select(*SUMMARY).where(O.c.id.in_(wanted))
                               .with_for_update())).all() if wanted else []
    found = {r.id for r in rows}
    outcome.missing.extend(i for i in wanted if i not in found)
    return sorted(rows, key=lambda r: r.id)


async def _free_rows(conn: AsyncConnection, ids: Sequence[int], outcome: QueueOutcome,
                     now: int) -> list:
    """The entries among ``ids`` that no runner is sending now; the others go into
    ``outcome.busy`` (or ``missing``)."""
    rows = []
    for row in await _rows(conn, ids, outcome):
        if row.status == SENDING and (row.lease_until or 0) >= now:
            outcome.busy.append(row.id)
        else:
            rows.append(row)
    return rows


def _described(row: object) -> dict[str, object]:
    """An entry as the audit log keeps it (never the message itself)."""
    return {"mail_from": row.mail_from, "size": row.size, "attempts": row.attempts,
            "recipients": [r.address for r in map(QueuedRecipient.load,
                                                  json.loads(row.recipients))
                           if r.state == PENDING]}


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def outbound_trace(entry: QueueEntry, answered: Sequence[QueuedRecipient], *, verdict: str,
                   remote_ip: str = "", remote_host: str = "", tls: str = "",
                   message_id: str = "", now: int | None = None) -> TraceRecord:
    """The trace record of one delivery attempt's final answers."""
    return TraceRecord(
        at=int(time.time()) if now is None else now, listener="outbound",
        client_ip=remote_ip, verdict=verdict, helo=remote_host, tls=tls,
        mail_from=entry.mail_from, size=entry.size,
        message_id=message_id or _message_id(entry.message),
        recipients=[RecipientVerdict(r.address, "delivered" if r.state == SENT else
                                     "bounced" if r.state == FAILED else "deferred",
                                     r.reply, f"queue #{entry.id} via {r.remote or '-'}")
                    for r in answered])


def _message_id(message: bytes | None) -> str:
    """The Message-ID of queued bytes, so the outbound story joins the one of its arrival."""
    header = (message or b"").partition(b"\r\n\r\n")[0]
    parsed = BytesHeaderParser(policy=compat32).parsebytes(header + b"\r\n\r\n")
    value = parsed.get("Message-ID")
    return str(value).strip()[:300] if value else ""
