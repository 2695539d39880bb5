"""Settings an administrator changed in the web admin, over the values in tidings.toml.

Implementation notes:
- Names are dotted TOML paths (``smtp.max_message_size``, ``ports.imap``,
  ``delivery.smarthost``); values are what the TOML file would hold (strings, numbers,
  booleans, lists, tables), stored as JSON. The composition root merges them over the file
  and validates the result with the same parser, so the file and the admin cannot disagree
  on what a value means.
- Every change writes its audit entry in the same transaction.
- ``version`` changes with every write; a node polls it to pick up changes made on another
  node, and ``listeners`` are called at once after a change made on this one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy import delete, func, insert, select

from mailstore.audit import Actor, AuditLog
from mailstore.database import Database
from mailstore.models import ServerSetting

T = ServerSetting.__table__

Listener = Callable[[], Awaitable[None]]


class ServerSettings:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.listeners: list[Listener] = []

    async def all(self) -> dict[str, Any]:
        async with self.db.read() as conn:
            rows = await conn.execute(select(T.c.name, T.c.value))
            return {row.name: json.loads(row.value) for row in rows}

    async def version(self) -> tuple[int, int]:
        """Changes when any setting is written or removed (count and newest change time)."""
        async with self.db.read() as conn:
            row = (await conn.execute(select(func.count(), func.max(T.c.changed_at)))).one()
            return int(row[0]), int(row[1] or 0)

    async def change(self, actor: Actor, values: Mapping[str, Any],
                     removed: tuple[str, ...] = ()) -> None:
        """Set ``values`` and go back to the file's value for ``removed``, audited."""
        now = time.time_ns() // 1000  # microseconds: two changes in one second differ
        async with self.db.write() as conn:
            names = [*values, *removed]
            old = {row.name: json.loads(row.value) for row in await conn.execute(
                select(T.c.name, T.c.value).where(T.c.name.in_(names)))} if names else {}
            for name, value in values.items():
                await conn.execute(delete(T).where(T.c.name == name))
                await conn.execute(insert(T).values(
                    name=name, value=json.dumps(value), changed_at=now))
                if old.get(name, None) != value:
                    await AuditLog.record_in(conn, actor, "setting", name,
                                             old=old.get(name), new=value)
            for name in removed:
                if name in old:
                    await conn.execute(delete(T).where(T.c.name == name))
                    await AuditLog.record_in(conn, actor, "setting reset", name,
                                             old=old[name], new=None)
        await self.notify()

    async def notify(self) -> None:
        for listener in list(self.listeners):
            await listener()
