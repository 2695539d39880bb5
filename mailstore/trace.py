"""The message trace: what happened to every SMTP transaction, accepted or rejected."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from sqlalchemy import Connection, insert, or_, select

from mailstore.database import Database
from mailstore.models import Trace

T = Trace.__table__


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
        values = {k: v for k, v in asdict(self).items() if k not in ("id", "recipients")}
        values["recipients"] = json.dumps([asdict(r) for r in self.recipients])
        return values


def insert_traces(conn: Connection, records: Sequence[TraceRecord]) -> None:
    """Inside the caller's transaction (``Database.write_sync`` or ``run_sync``)."""
    if records:
        conn.execute(insert(T), [r.row() for r in records])


class Traces:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(self, record: TraceRecord) -> None:
        async with self.db.write() as conn:
            await conn.run_sync(insert_traces, [record])

    async def find(self, sender: str | None = None, recipient: str | None = None,
                   since: int | None = None, message_id: str | None = None,
                   client_ip: str | None = None, limit: int = 200) -> list[TraceRecord]:
        """Newest first; sender and recipient match as case-insensitive substrings."""
        query = select(T).order_by(T.c.at.desc(), T.c.id.desc()).limit(limit)
        if sender:
            query = query.where(T.c.mail_from.ilike(f"%{_escape(sender)}%", escape="\\"))
        if recipient:
            pattern = f"%{_escape(recipient)}%"
            query = query.where(or_(T.c.recipients.ilike(pattern, escape="\\")))
        if since is not None:
            query = query.where(T.c.at >= since)
        if message_id:
            query = query.where(T.c.message_id == message_id)
        if client_ip:
            query = query.where(T.c.client_ip == client_ip)
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_record(r) for r in rows]


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _record(row: object) -> TraceRecord:
    values = dict(row._mapping)
    values["recipients"] = [RecipientVerdict(**r) for r in json.loads(values["recipients"])]
    return TraceRecord(**values)
