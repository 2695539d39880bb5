"""The message trace: what happened to every SMTP transaction, accepted or rejected."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, and_, delete, insert, literal_column, or_, select

from mailstore.bulk import insert_rows
from mailstore.database import Database
from mailstore.errors import NotFound
from mailstore.models import Trace

T = Trace.__table__
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RecipientVerdict:
    address: str
    verdict: str  # accepted / rejected / deferred
    reply: str = ""
    destination: str = ""  # "ann@example.com/INBOX", "queued #12 for bob@else.org", …


@dataclass(slots=True)
class TraceRecord:
    at: int
    listener: str
    client_ip: str
    verdict: str  # accepted / rejected / aborted
    helo: str = ""
    tls: str = ""
    auth_user: str = ""
    mail_from: str = ""
    size: int = 0
    message_id: str = ""
    reply: str = ""
    recipients: list[RecipientVerdict] = field(default_factory=list)
    id: int | None = None

    def row(self) -> dict[str, object]:
        # Not ``asdict``: it deep-copies every field, ~70 µs a record on a delivery's
        # hot path (the writer's thread, holding the GIL).
        return dict(
            at=self.at, listener=self.listener, client_ip=self.client_ip,
            verdict=self.verdict, helo=self.helo, tls=self.tls, auth_user=self.auth_user,
            mail_from=self.mail_from, size=self.size, message_id=self.message_id,
            reply=self.reply, recipients=json.dumps([
                dict(address=r.address, verdict=r.verdict, reply=r.reply,
                     destination=r.destination) for r in self.recipients]))


_INSERT = insert(T)


def insert_traces(conn: Connection, records: Sequence[TraceRecord]) -> None:
    """Inside the caller's transaction (``Database.write_sync`` or ``run_sync``)."""
    insert_rows(conn, T, [r.row() for r in records], _INSERT)


class Traces:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(self, record: TraceRecord) -> None:
        async with self.db.write() as conn:
            await conn.run_sync(insert_traces, [record])

    async def find(self, sender: str | None = None, recipient: str | None = None,
                   since: int | None = None, message_id: str | None = None,
                   client_ip: str | None = None, limit: int = 200,
                   until: int | None = None,
                   before: tuple[int, int] | None = None) -> list[TraceRecord]:
        """Newest first; sender and recipient match as case-insensitive substrings.
        ``until`` is exclusive; ``before`` (at, id) pages back from a record shown last."""
        query = select(T).order_by(T.c.at.desc(), T.c.id.desc()).limit(limit)
        if sender:
            query = query.where(T.c.mail_from.ilike(f"%{_escape(sender)}%", escape="\\"))
        if recipient:
            pattern = f"%{_escape(recipient)}%"
            query = query.where(or_(T.c.recipients.ilike(pattern, escape="\\")))
        if since is not None:
            query = query.where(T.c.at >= since)
        if until is not None:
            query = query.where(T.c.at < until)
        if message_id:
            wanted = message_id.strip()
            if not wanted.startswith("<"):
                wanted = f"<{wanted}>"
            query = query.where(T.c.message_id == wanted)
        if client_ip:
            query = query.where(T.c.client_ip == client_ip.strip())
        if before is not None:
            at, record_id = before
            query = query.where(or_(T.c.at < at, and_(T.c.at == at, T.c.id < record_id)))
        if (sender or recipient) and self.db.is_sqlite:
            # A substring filter looks at every record, not just the shown ones: pick the
            # ids from the covering ix_trace_search alone, then read those rows. "+at"
            # keeps SQLite from walking ix_trace_at (and the table) for the order instead.
            ids = (query.with_only_columns(T.c.id).order_by(None)
                   .order_by(literal_column("+trace.at").desc(), T.c.id.desc()))
            query = (select(T).where(T.c.id.in_(ids))
                     .order_by(T.c.at.desc(), T.c.id.desc()))
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [record_from_row(r) for r in rows]

    async def forget_before(self, cutoff: int, batch: int = 2000) -> int:
        """Deletes the records older than ``cutoff`` (Unix time); returns how many.

        In short transactions of ``batch`` rows, so that deliveries waiting for the writer
        are not held up by the first clean-up of a year of records."""
        query = delete(T).where(T.c.id.in_(
            select(T.c.id).where(T.c.at < cutoff).order_by(T.c.at).limit(batch)))
        total = 0
        while True:
            async with self.db.write() as conn:
                deleted = (await conn.execute(query)).rowcount
            total += deleted
            if deleted < batch:
                return total
            await asyncio.sleep(0)  # let waiting writers take their turn

    async def keep_recent(self, days: Callable[[], int], every: float = 3600.0) -> None:
        """Runs for ever: now and every ``every`` seconds, forgets the records older than
        ``days()`` days (0: keeps them all). ``days`` is asked each time, so a changed
        setting counts from the next round. A failed round (database away) is retried
        at the next one; the trace is a log, not mail."""
        while True:
            keep = days()
            if keep > 0:
                try:
                    await self.forget_before(int(time.time()) - keep * 86400)
                except Exception:  # the database had a problem: try again next round
                    log.exception("could not clean up the message trace")
            await asyncio.sleep(every)

    async def get(self, record_id: int) -> TraceRecord:
        async with self.db.read() as conn:
            row = (await conn.execute(select(T).where(T.c.id == record_id))).first()
        if row is None:
            raise NotFound(f"no trace record #{record_id}")
        return record_from_row(row)

    async def story(self, record_id: int, limit: int = 200) -> list[TraceRecord]:
        """Everything that happened to the message of this record, oldest first: its
        arrival (or refusal), each delivery attempt to other servers and its bounce.
        Records are joined by the Message-ID; a record without one stands alone."""
        record = await self.get(record_id)
        if not record.message_id:
            return [record]
        async with self.db.read() as conn:
            rows = (await conn.execute(
                select(T).where(T.c.message_id == record.message_id)
                .order_by(T.c.at, T.c.id).limit(limit))).all()
        return [record_from_row(r) for r in rows]


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def record_from_row(row: object) -> TraceRecord:
    values = dict(row._mapping)
    values["recipients"] = [RecipientVerdict(**r) for r in json.loads(values["recipients"])]
    return TraceRecord(**values)
