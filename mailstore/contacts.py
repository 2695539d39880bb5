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

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mailstore.database import Database
from mailstore.errors import InvalidName, StoreError
from mailstore.models import Contact
from mailstore.names import normalise_address

C = Contact.__table__

MAX_SUGGESTIONS = 20
MAX_LISTED = 1000
MAX_NAME = 200


class InvalidContact(StoreError):
    """A contact that cannot be saved; ``field`` is the form field it is about."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _contact_address(address: str) -> str:
    if not address.strip():
        raise InvalidContact("address", "Enter an e-mail address")
    try:
        return normalise_address(address)
    except InvalidName as exc:
        raise InvalidContact("address", f"{address.strip()} is not an e-mail address "
                                        "(for example: ann@example.com)") from exc


def _contact_name(name: str) -> str:
    value = " ".join(name.split())
    if len(value) > MAX_NAME:
        raise InvalidContact("name", f"Use at most {MAX_NAME} characters for the name")
    return value


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
        """Put someone in the address book (or rename them there); raises
        ``InvalidContact`` for an address that is not one or a name too long."""
        addr = _contact_address(address)
        name = _contact_name(name)
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

    async def list(self, account_id: int, *, saved: bool = True, query: str = "",
                   limit: int = MAX_LISTED) -> list[ContactInfo]:
        """The address book (``saved``), or the people written to who are not in it,
        whose name or address contains ``query``; by name, then address."""
        where = [C.c.account_id == account_id, C.c.saved.is_(saved)]
        needle = query.strip().lower()
        if needle:
            pattern = f"%{_escape_like(needle)}%"
            where.append(or_(func.lower(C.c.address).like(pattern, escape="\\"),
                             func.lower(C.c.name).like(pattern, escape="\\")))
        order = ((func.lower(C.c.name), C.c.address) if saved
                 else (C.c.times_used.desc(), C.c.address))
        async with self.db.read() as conn:
            rows = (await conn.execute(
                select(C.c.address, C.c.name, C.c.saved, C.c.times_used)
                .where(*where).order_by(*order).limit(max(1, limit)))).all()
        return [ContactInfo(r.address, r.name, bool(r.saved), r.times_used) for r in rows]

    async def get(self, account_id: int, address: str) -> ContactInfo | None:
        """The account's contact with ``address`` (saved or not), if there is one."""
        try:
            addr = normalise_address(address)
        except InvalidName:
            return None
        async with self.db.read() as conn:
            row = (await conn.execute(
                select(C.c.address, C.c.name, C.c.saved, C.c.times_used)
                .where(C.c.account_id == account_id, C.c.address == addr))).first()
        return None if row is None else ContactInfo(row.address, row.name, bool(row.saved),
                                                    row.times_used)

    async def change(self, account_id: int, old_address: str, address: str,
                     name: str) -> ContactInfo:
        """Edit a saved contact: a new address replaces the old one in the address book
        (the old one stays among the people written to if the user wrote to it)."""
        new = _contact_address(address)
        name = _contact_name(name)
        try:
            old = normalise_address(old_address)
        except InvalidName:
            old = new
        if old == new:
            return await self.save(account_id, new, name)
        async with self.db.write() as conn:
            taken = (await conn.execute(select(C.c.saved).where(
                C.c.account_id == account_id, C.c.address == new))).first()
            if taken is not None and taken.saved:
                raise InvalidContact("address", f"{new} is already in your contacts")
            await _unsave(conn, account_id, old)
        return await self.save(account_id, new, name)

    async def remove(self, account_id: int, address: str) -> None:
        """Take someone out of the address book; nothing happens if they are not in it.
        Someone the user wrote to is still suggested, as anyone written to is."""
        try:
            addr = normalise_address(address)
        except InvalidName:
            return
        async with self.db.write() as conn:
            await _unsave(conn, account_id, addr)


async def _unsave(conn: AsyncConnection, account_id: int, address: str) -> None:
    where = (C.c.account_id == account_id, C.c.address == address)
    await conn.execute(delete(C).where(*where, C.c.times_used == 0))
    await conn.execute(update(C).where(*where).values(saved=False))


def _starts_with(address: str, name: str, needle: str) -> bool:
    local, _, domain = address.lower().partition("@")
    if address.lower().startswith(needle) or domain.startswith(needle):
        return True
    return any(word.startswith(needle) for word in name.lower().split()) or \
        name.lower().startswith(needle)
