"""Domains, accounts and aliases."""

from __future__ import annotations

import asyncio
import functools
import time

from sqlalchemy import delete, func, insert, select, update

from mailstore.database import Database
from mailstore.errors import AlreadyExists, NotFound, StoreError
from mailstore.messages import ReleaseHook, release_folders
from mailstore.models import Account, Alias, Domain, Folder
from mailstore.names import normalise_address, normalise_domain
from mailstore.passwords import hash_password, needs_rehash, verify_password
from mailstore.values import AccountInfo, DomainInfo

A = Account.__table__
D = Domain.__table__
AL = Alias.__table__
F = Folder.__table__

# RFC 6154 special-use folders every new account starts with.
DEFAULT_FOLDERS: tuple[tuple[str, str | None], ...] = (
    ("INBOX", None),
    ("Drafts", "\\Drafts"),
    ("Sent", "\\Sent"),
    ("Junk", "\\Junk"),
    ("Trash", "\\Trash"),
    ("Archive", "\\Archive"),
)


def _account(row: object) -> AccountInfo:
    return AccountInfo(
        id=row.id, address=row.address, is_admin=bool(row.is_admin),
        disabled=bool(row.disabled), quota_bytes=row.quota_bytes, used_bytes=row.used_bytes,
    )


class Accounts:
    def __init__(self, db: Database, on_contents_released: ReleaseHook) -> None:
        self.db = db
        self._release = on_contents_released

    # Domains -----------------------------------------------------------------
    async def add_domain(self, name: str) -> DomainInfo:
        domain = normalise_domain(name)
        async with self.db.write() as conn:
            if await conn.scalar(select(D.c.id).where(D.c.name == domain)) is not None:
                raise AlreadyExists(f"domain {domain} already exists")
            result = await conn.execute(
                insert(D).values(name=domain, created_at=int(time.time())).returning(D.c.id)
            )
            return DomainInfo(id=result.scalar_one(), name=domain)

    async def list_domains(self) -> list[DomainInfo]:
        query = (
            select(D.c.id, D.c.name, func.count(A.c.id).label("n"))
            .select_from(D.outerjoin(A, A.c.domain_id == D.c.id))
            .group_by(D.c.id, D.c.name)
            .order_by(D.c.name)
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [DomainInfo(id=r.id, name=r.name, accounts=r.n) for r in rows]

    async def remove_domain(self, name: str) -> None:
        domain = normalise_domain(name)
        async with self.db.write() as conn:
            domain_id = await conn.scalar(select(D.c.id).where(D.c.name == domain))
            if domain_id is None:
                raise NotFound(f"domain {domain} does not exist")
            users = await conn.scalar(select(func.count()).where(A.c.domain_id == domain_id))
            if users:
                raise StoreError(
                    f"domain {domain} still has {users} account(s); remove them first"
                )
            await conn.execute(delete(AL).where(AL.c.domain_id == domain_id))
            await conn.execute(delete(D).where(D.c.id == domain_id))

    # Accounts ----------------------------------------------------------------
    async def create(
        self, address: str, password: str, *, is_admin: bool = False,
        quota_bytes: int | None = None,
    ) -> AccountInfo:
        """Create an account with its default special-use folders."""
        addr = normalise_address(address)
        domain = addr.rpartition("@")[2]
        # argon2 takes ~0.1 s of CPU by design: in a thread, so the event loop keeps serving.
        pw_hash = await asyncio.to_thread(hash_password, password)
        now = int(time.time())
        async with self.db.write() as conn:
            domain_id = await conn.scalar(select(D.c.id).where(D.c.name == domain))
            if domain_id is None:
                raise NotFound(
                    f"domain {domain} is not a local domain; add it first "
                    f"(tidings domain add {domain})"
                )
            if await conn.scalar(select(A.c.id).where(A.c.address == addr)) is not None:
                raise AlreadyExists(f"account {addr} already exists")
            account_id = (await conn.execute(
                insert(A).values(
                    address=addr, domain_id=domain_id, password_hash=pw_hash,
                    is_admin=is_admin, disabled=False, quota_bytes=quota_bytes,
                    used_bytes=0, created_at=now,
                ).returning(A.c.id)
            )).scalar_one()
            await conn.execute(insert(F), [
                dict(account_id=account_id, name=name, uidvalidity=now, uidnext=1,
                     highestmodseq=1, special_use=use, subscribed=True, message_count=0,
                     unseen_count=0, total_size=0, created_at=now)
                for name, use in DEFAULT_FOLDERS
            ])
        return AccountInfo(account_id, addr, is_admin, False, quota_bytes, 0)

    async def get(self, address: str) -> AccountInfo:
        addr = normalise_address(address)
        async with self.db.read() as conn:
            row = (await conn.execute(select(A).where(A.c.address == addr))).first()
        if row is None:
            raise NotFound(f"account {addr} does not exist")
        return _account(row)

    async def get_by_id(self, account_id: int) -> AccountInfo:
        async with self.db.read() as conn:
            row = (await conn.execute(select(A).where(A.c.id == account_id))).first()
        if row is None:
            raise NotFound(f"account #{account_id} does not exist")
        return _account(row)

    async def list(self) -> list[AccountInfo]:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(A).order_by(A.c.address))).all()
        return [_account(r) for r in rows]

    async def count_admins(self) -> int:
        async with self.db.read() as conn:
            return await conn.scalar(select(func.count()).where(A.c.is_admin.is_(True))) or 0

    async def set_password(self, address: str, password: str) -> None:
        addr = normalise_address(address)
        # argon2 takes ~0.1 s of CPU by design: in a thread, so the event loop keeps serving.
        pw_hash = await asyncio.to_thread(hash_password, password)
        async with self.db.write() as conn:
            result = await conn.execute(
                update(A).where(A.c.address == addr).values(password_hash=pw_hash)
            )
            if result.rowcount == 0:
                raise NotFound(f"account {addr} does not exist")

    async def authenticate(self, address: str, password: str) -> AccountInfo | None:
        """The account if the password matches and it is enabled; None otherwise."""
        try:
            addr = normalise_address(address)
        except StoreError:
            return None
        async with self.db.read() as conn:
            row = (await conn.execute(select(A).where(A.c.address == addr))).first()
        if row is None or row.disabled:
            # Hash anyway so that unknown users cost as much time as known ones.
            await asyncio.to_thread(verify_password, _dummy_hash(), password)
            return None
        if not await asyncio.to_thread(verify_password, row.password_hash, password):
            return None
        if needs_rehash(row.password_hash):
            await self.set_password(addr, password)
        return _account(row)

    async def remove(self, address: str) -> None:
        """Remove an account and all its mail (blobs go when their last reference goes)."""
        addr = normalise_address(address)
        async with self.db.write() as conn:
            account_id = await conn.scalar(select(A.c.id).where(A.c.address == addr))
            if account_id is None:
                raise NotFound(f"account {addr} does not exist")
            released = await release_folders(conn, select(F.c.id).where(
                F.c.account_id == account_id))
            await conn.execute(delete(F).where(F.c.account_id == account_id))
            await conn.execute(delete(A).where(A.c.id == account_id))
        await self._release(released)

    # Aliases -----------------------------------------------------------------
    async def add_alias(self, address: str, target: str) -> None:
        addr = normalise_address(address)
        tgt = normalise_address(target)
        async with self.db.write() as conn:
            domain_id = await conn.scalar(
                select(D.c.id).where(D.c.name == addr.rpartition("@")[2]))
            if domain_id is None:
                raise NotFound(f"domain of {addr} is not a local domain")
            exists = await conn.scalar(
                select(AL.c.id).where(AL.c.address == addr, AL.c.target == tgt))
            if exists is not None:
                raise AlreadyExists(f"alias {addr} -> {tgt} already exists")
            await conn.execute(insert(AL).values(address=addr, target=tgt, domain_id=domain_id))

    async def remove_alias(self, address: str, target: str) -> None:
        addr, tgt = normalise_address(address), normalise_address(target)
        async with self.db.write() as conn:
            result = await conn.execute(
                delete(AL).where(AL.c.address == addr, AL.c.target == tgt))
            if result.rowcount == 0:
                raise NotFound(f"alias {addr} -> {tgt} does not exist")

    async def aliases(self) -> list[tuple[str, str]]:
        """Every (address, target) pair, by address."""
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(AL.c.address, AL.c.target).order_by(AL.c.address, AL.c.target))
            return [(r.address, r.target) for r in rows]

    async def alias_targets(self, address: str) -> list[str]:
        addr = normalise_address(address)
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(AL.c.target).where(AL.c.address == addr).order_by(AL.c.target))
            return [r.target for r in rows]


@functools.cache
def _dummy_hash() -> str:
    return hash_password("tidings-timing-equaliser")
