"""The address book, and the people a user has written to, for autocomplete.

Implementation notes:
- One row per (account, address). ``saved`` rows are the address book; every send bumps
  ``times_used`` and ``last_used_at`` of each recipient (creating an unsaved row), so the
  people written to most, and most recently, come first in suggestions.
- Suggestions match the start of the address, of its domain, or of any word of the name,
  case-insensitively; the match is done on a bounded candidate list, never on all mail.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, insert, or_, select, update

from mailstore.database import Database
from mailstore.errors import StoreError
from mailstore.models import Contact
from mailstore.names import normalise_address

C = Contact.__table__

MAX_SUGGESTIONS = 20


@dataclass(frozen=True, slots=True)
class ContactInfo:
    address: str
    name: str
    saved: bool
    times_used: int

    @property
    def formatted(self) -> str:
        from email.headerregistry import Address

        if not self.name:
            return self.address
        return str(Address(display_name=self.name, addr_spec=self.address))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Contacts:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def suggest(self, account_id: int, query: str, limit: int = 8) -> list[ContactInfo]:
        """Contacts whose address or name starts with ``query`` (a word of the name or
        the domain counts): address book first, then the most written to."""
        needle = query.strip().lower()
        if not needle:
            return []
        limit = max(1, min(limit, MAX_SUGGESTIONS))
        pattern = f"%{_escape_like(needle)}%"
        async with self.db.read() as conn:
            rows = (await conn.execute(
                select(C.c.address, C.c.name, C.c.saved, C.c.times_used, C.c.last_used_at)
                .where(C.c.account_id == account_id, or_(
                    func.lower(C.c.address).like(pattern, escape="\\"),
                    func.lower(C.c.name).like(pattern, escape="\\")))
                .order_by(C.c.saved.desc(), C.c.times_used.desc(), C.c.last_used_at.desc(),
                          C.c.address)
                .limit(200))).all()
        starts = [r for r in rows if _starts_with(r.address, r.name, needle)]
        return [ContactInfo(r.address, r.name, bool(r.saved), r.times_used)
                for r in starts[:limit]]

    async def record_sent(self, account_id: int, recipients: Iterable[tuple[str, str]],
                          now: int | None = None) -> None:
        """Remember that the user wrote to these (name, address) pairs."""
        now = int(time.time()) if now is None else now
        wanted: dict[str, str] = {}
        for name, address in recipients:
            try:
                wanted.setdefault(normalise_address(address), name.strip())
            except StoreError:
                continue
        if not wanted:
            return
        async with self.db.write() as conn:
            existing = {r.address: r for r in await conn.execute(
                select(C.c.id, C.c.address, C.c.name).where(
                    C.c.account_id == account_id, C.c.address.in_(list(wanted))))}
            for address, name in wanted.items():
                row = existing.get(address)
                if row is None:
                    await conn.execute(insert(C).values(
                        account_id=account_id, address=address, name=name, saved=False,
                        times_used=1, last_used_at=now))
                else:
                    await conn.execute(update(C).where(C.c.id == row.id).values(
                        times_used=C.c.times_used + 1, last_used_at=now,
                        name=row.name or name))

    async def save(self, account_id: int, address: str, name: str = "") -> ContactInfo:
        """Put someone in the address book (or rename them there)."""
        addr = normalise_address(address)
        async with self.db.write() as conn:
            row = (await conn.execute(select(C.c.id, C.c.times_used).where(
                C.c.account_id == account_id, C.c.address == addr))).first()
            if row is None:
                await conn.execute(insert(C).values(
                    account_id=account_id, address=addr, name=name.strip(), saved=True,
                    times_used=0, last_used_at=0))
                used = 0
            else:
                await conn.execute(update(C).where(C.c.id == row.id).values(
                    name=name.strip(), saved=True))
                used = row.times_used
        return ContactInfo(addr, name.strip(), True, used)


def _starts_with(address: str, name: str, needle: str) -> bool:
    local, _, domain = address.lower().partition("@")
    if address.lower().startswith(needle) or domain.startswith(needle):
        return True
    return any(word.startswith(needle) for word in name.lower().split()) or \
        name.lower().startswith(needle)
