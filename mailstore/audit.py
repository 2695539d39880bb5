"""The audit log: every change made in the web admin, with who made it and when.

Implementation notes:
- ``entry(...)`` builds the row so that a change and its audit line can be written in one
  transaction (``record_in``); ``record`` is for changes that commit on their own first.
- Values are stored as JSON. Callers never pass secrets: for a password, the new value is
  the word "changed", not the password.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from mailstore.database import Database
from mailstore.models import AuditEntry

T = AuditEntry.__table__


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change: the admin's address and the address they connected from."""

    address: str
    client_ip: str = ""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    at: int
    actor: str
    client_ip: str
    action: str
    target: str
    old_value: Any
    new_value: Any


def _row(actor: Actor, action: str, target: str, old: Any, new: Any) -> dict[str, Any]:
    return {"at": int(time.time()), "actor": actor.address, "client_ip": actor.client_ip,
            "action": action, "target": target,
            "old_value": json.dumps(old, sort_keys=True, default=str),
            "new_value": json.dumps(new, sort_keys=True, default=str)}


class AuditLog:
    """Append-only: entries are never changed or removed by the application."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(self, actor: Actor, action: str, target: str = "", *,
                     old: Any = None, new: Any = None) -> None:
        async with self.db.write() as conn:
            await self.record_in(conn, actor, action, target, old=old, new=new)

    @staticmethod
    async def record_in(conn: AsyncConnection, actor: Actor, action: str, target: str = "",
                        *, old: Any = None, new: Any = None) -> None:
        """Write the entry in the caller's transaction, so it commits with the change."""
        await conn.execute(insert(T).values(**_row(actor, action, target, old, new)))

    async def recent(self, *, limit: int = 100, before_id: int | None = None,
                     actor: str | None = None, target: str | None = None) -> list[AuditRecord]:
        """Newest first; ``before_id`` pages further back."""
        query = select(T).order_by(T.c.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(T.c.id < before_id)
        if actor:
            query = query.where(T.c.actor == actor.strip().lower())
        if target:
            query = query.where(T.c.target == target)
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [AuditRecord(r.id, r.at, r.actor, r.client_ip, r.action, r.target,
                            json.loads(r.old_value), json.loads(r.new_value)) for r in rows]
