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
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from sqlalchemy import Connection, delete, insert, or_, select, update

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
        message=row.message if with_message else None, claimed_by=row.claimed_by)


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
                        status=e.status, attempts=e.attempts,
                        next_attempt_at=e.next_attempt_at, last_error=e.last_error,
                        delay_notified=e.delay_notified, history=json.dumps(e.history),
                        **({"claimed_by": None, "lease_until": None}
                           if e.status == QUEUED else {})))
            await conn.run_sync(insert_traces, traces)

    async def list(self, limit: int = 1000) -> list[QueueEntry]:
        async with self.db.read() as conn:
            rows = (await conn.execute(
                select(*SUMMARY).order_by(O.c.id).limit(limit))).all()
        return [_entry(r, with_message=False) for r in rows]

    async def count(self) -> int:
        from sqlalchemy import func

        async with self.db.read() as conn:
            return (await conn.execute(select(func.count()).select_from(O))).scalar_one()

    async def get(self, entry_id: int) -> QueueEntry:
        async with self.db.read() as conn:
            row = (await conn.execute(select(O).where(O.c.id == entry_id))).first()
        if row is None:
            raise NotFound(f"no queue entry #{entry_id}")
        return _entry(row)

    async def retry(self, entry_id: int, now: int | None = None) -> None:
        """Make the entry due now."""
        now = int(time.time()) if now is None else now
        async with self.db.write() as conn:
            result = await conn.execute(update(O).where(O.c.id == entry_id).values(
                next_attempt_at=now))
        if not result.rowcount:
            raise NotFound(f"no queue entry #{entry_id}")

    async def delete(self, entry_id: int, now: int | None = None) -> None:
        now = int(time.time()) if now is None else now
        async with self.db.write() as conn:
            row = (await conn.execute(
                select(O.c.status, O.c.lease_until).where(O.c.id == entry_id))).first()
            if row is None:
                raise NotFound(f"no queue entry #{entry_id}")
            if row.status == SENDING and (row.lease_until or 0) >= now:
                raise EntryBusy(f"queue entry #{entry_id} is being sent right now; "
                                "try again in a moment")
            await conn.execute(delete(O).where(O.c.id == entry_id))


def outbound_trace(entry: QueueEntry, answered: Sequence[QueuedRecipient], *, verdict: str,
                   remote_ip: str = "", remote_host: str = "", tls: str = "",
                   message_id: str = "", now: int | None = None) -> TraceRecord:
    """The trace record of one delivery attempt's final answers."""
    return TraceRecord(
        at=int(time.time()) if now is None else now, listener="outbound",
        client_ip=remote_ip, verdict=verdict, helo=remote_host, tls=tls,
        mail_from=entry.mail_from, size=entry.size, message_id=message_id,
        recipients=[RecipientVerdict(r.address, "delivered" if r.state == SENT else
                                     "bounced" if r.state == FAILED else "deferred",
                                     r.reply, f"queue #{entry.id} via {r.remote or '-'}")
                    for r in answered])
