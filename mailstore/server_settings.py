"""Settings an administrator changed in the web admin, over the values in tidings.toml.

Implementation notes:
- Names are dotted TOML paths (``smtp.max_message_size``, ``ports.imap``,
  ``delivery.smarthost``); values are what the TOML file would hold (strings, numbers,
  booleans, lists, tables), stored as JSON. The composition root merges them over the file
  and validates the result with the same parser, so the file and the admin cannot disagree
  on what a value means.
- Every change writes its audit entry in the same transaction. Secrets inside a value (a
  smart host's ``password``, or its sealed form) never reach the audit log: the entry says
  "changed" where one was changed and "(hidden)" where it was kept.
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

SECRET_KEYS = ("password", "password_sealed")
HIDDEN = "(hidden)"


def for_audit(value: Any, before: Any = None, *, new: bool = True) -> Any:
    """``value`` with its secrets replaced: in a new value, "changed" where the secret
    differs from the one at the same place in ``before`` (tables in a list are matched by
    their ``name``), else "(hidden)"; in an old value (``new=False``), always "(hidden)"."""
    if isinstance(value, list):
        named = {item.get("name"): item for item in before if isinstance(item, dict)} \
            if isinstance(before, list) else {}
        out = []
        for i, item in enumerate(value):
            match = named.get(item.get("name")) if isinstance(item, dict) and \
                item.get("name") in named else \
                (before[i] if isinstance(before, list) and i < len(before) else None)
            out.append(for_audit(item, match, new=new))
        return out
    if isinstance(value, dict):
        out_table: dict[str, Any] = {}
        old_secret = [before.get(k) for k in SECRET_KEYS] if isinstance(before, dict) else []
        for key, item in value.items():
            if key in SECRET_KEYS:
                if item == "":
                    out_table[key] = ""
                elif new and item not in old_secret:
                    out_table[key] = "changed"
                else:
                    out_table[key] = HIDDEN
            else:
                inner = before.get(key) if isinstance(before, dict) else None
                out_table[key] = for_audit(item, inner, new=new)
        return out_table
    return value


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
                    await AuditLog.record_in(
                        conn, actor, "setting", name,
                        old=for_audit(old.get(name), new=False),
                        new=for_audit(value, old.get(name)))
            for name in removed:
                if name in old:
                    await conn.execute(delete(T).where(T.c.name == name))
                    await AuditLog.record_in(conn, actor, "setting reset", name,
                                             old=for_audit(old[name], new=False), new=None)
        await self.notify()

    async def notify(self) -> None:
        for listener in list(self.listeners):
            await listener()
