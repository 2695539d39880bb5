"""The directory as the web admin changes it: domains, accounts, aliases and lists, each
change written together with its audit line.

Implementation notes:
- Every method takes the ``Actor`` making the change and records it with
  ``AuditLog.record_in`` in the same transaction, so a change never lands unaudited and an
  audit line never describes a change that rolled back. Passwords are audited as "changed".
- The safety rules live here, not in the pages, so that no front door can get round them:
  the last enabled administrator keeps the role and cannot be disabled or deleted, and an
  administrator cannot delete or disable their own account or drop their own role (they
  would lose the admin in the middle of using it).
- Refusals are ``DirectoryError`` with the name of the form field they are about, so a page
  can put the one-line message next to that field.
- Deleting an account either deletes its mail, or gives it to another account: the folders
  move, messages and all (no copy, no re-parse), under one new folder
  "From <address>" in the receiving account, which is charged for their size. The move
  is refused when it would not fit the receiver's quota, rather than leaving it over quota.
- ``explain`` describes in words what ``Router.resolve`` decided; the router stays the one
  authority on where mail goes (the pages show both).
"""

from __future__ import annotations

import asyncio
import fnmatch
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mailstore.accounts import DEFAULT_FOLDERS
from mailstore.audit import Actor, AuditLog
from mailstore.database import Database
from mailstore.errors import StoreError
from mailstore.events import FolderEvents
from mailstore.lists import POLICIES, load_list
from mailstore.messages import ReleaseHook, release_folders
from mailstore.models import Account, Alias, Domain, Folder, ListMember, MailingList, Message
from mailstore.names import DELIMITER, normalise_address, normalise_domain
from mailstore.passwords import hash_password
from mailstore.routing import split_plus
from mailstore.values import AccountInfo, DomainInfo

A = Account.__table__
AL = Alias.__table__
D = Domain.__table__
F = Folder.__table__
L = MailingList.__table__
LM = ListMember.__table__
M = Message.__table__

MIN_PASSWORD = 10


class DirectoryError(StoreError):
    """A refused change; ``field`` names the form field the message belongs next to."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class AccountRemoval:
    """What deleting an account did with its mail, for the confirmation line."""

    address: str
    messages: int
    bytes: int
    given_to: str | None = None
    folder: str | None = None
    redirected: bool = False
    dropped_aliases: tuple[str, ...] = ()
    dropped_memberships: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DomainRemoval:
    domain: str
    aliases: tuple[str, ...] = ()
    lists: tuple[str, ...] = ()


@dataclass
class Explanation:
    """How the rules apply to one address, as sentences (``steps``), one per rule used."""

    address: str
    steps: list[str] = field(default_factory=list)


def _field_address(name: str, text: str) -> str:
    try:
        return normalise_address(text)
    except StoreError as exc:
        raise DirectoryError(name, str(exc)) from exc


def _account_values(row: Any) -> dict[str, Any]:
    return {"quota_bytes": row.quota_bytes, "is_admin": bool(row.is_admin),
            "disabled": bool(row.disabled)}


async def _enabled_admins(conn: AsyncConnection) -> int:
    """How many enabled administrators there are. On PostgreSQL their rows stay locked
    until the transaction ends, so two admins removing each other at the same moment
    cannot both pass the "last administrator" check (SQLite writers are serial anyway)."""
    rows = await conn.execute(select(A.c.id).where(
        A.c.is_admin.is_(True), A.c.disabled.is_(False)).order_by(A.c.id).with_for_update())
    return len(rows.all())


async def _account_row(conn: AsyncConnection, address: str, name: str = "address") -> Any:
    row = (await conn.execute(select(A).where(A.c.address == address))).first()
    if row is None:
        raise DirectoryError(name, f"there is no account {address}")
    return row


async def _domain_id(conn: AsyncConnection, domain: str) -> int | None:
    return await conn.scalar(select(D.c.id).where(D.c.name == domain))


async def _exists_locally(conn: AsyncConnection, address: str) -> bool:
    """An account, an alias or a list has this address (plus tags ignored)."""
    base, _ = split_plus(address)
    for table in (A, AL, L):
        if await conn.scalar(select(table.c.id).where(
                table.c.address.in_({address, base})).limit(1)) is not None:
            return True
    return False


class Directory:
    """Audited changes to domains, accounts, aliases and lists (see the module notes)."""

    def __init__(self, db: Database, on_contents_released: ReleaseHook,
                 events: FolderEvents) -> None:
        self.db = db
        self._release = on_contents_released
        self.events = events

    # Domains -----------------------------------------------------------------
    async def add_domain(self, actor: Actor, name: str) -> DomainInfo:
        try:
            domain = normalise_domain(name)
        except StoreError as exc:
            raise DirectoryError("domain", str(exc)) from exc
        async with self.db.write() as conn:
            if await _domain_id(conn, domain) is not None:
                raise DirectoryError("domain", f"{domain} is already one of this server's "
                                               "domains")
            domain_id = (await conn.execute(insert(D).values(
                name=domain, created_at=int(time.time())).returning(D.c.id))).scalar_one()
            await AuditLog.record_in(conn, actor, "domain.add", domain, new=domain)
        return DomainInfo(domain_id, domain)

    async def remove_domain(self, actor: Actor, name: str) -> DomainRemoval:
        """Refused while accounts remain; its aliases and lists go with it."""
        try:
            domain = normalise_domain(name)
        except StoreError as exc:
            raise DirectoryError("domain", str(exc)) from exc
        async with self.db.write() as conn:
            domain_id = await _domain_id(conn, domain)
            if domain_id is None:
                raise DirectoryError("domain", f"{domain} is not one of this server's domains")
            users = await conn.scalar(select(func.count()).where(A.c.domain_id == domain_id))
            if users:
                raise DirectoryError(
                    "domain", f"{domain} still has {users} account(s): delete them first "
                              "(deleting an account lets you give its mail to another one)")
            aliases = tuple(f"{r.address} -> {r.target}" for r in await conn.execute(
                select(AL.c.address, AL.c.target).where(AL.c.domain_id == domain_id)
                .order_by(AL.c.address, AL.c.target)))
            lists = tuple(r.address for r in await conn.execute(
                select(L.c.address).where(L.c.domain_id == domain_id).order_by(L.c.address)))
            list_ids = select(L.c.id).where(L.c.domain_id == domain_id)
            await conn.execute(delete(LM).where(LM.c.list_id.in_(list_ids)))
            await conn.execute(delete(L).where(L.c.domain_id == domain_id))
            await conn.execute(delete(AL).where(AL.c.domain_id == domain_id))
            await conn.execute(delete(D).where(D.c.id == domain_id))
            await AuditLog.record_in(conn, actor, "domain.remove", domain,
                                     old={"aliases": list(aliases), "lists": list(lists)})
        return DomainRemoval(domain, aliases, lists)

    # Accounts ----------------------------------------------------------------
    async def create_account(self, actor: Actor, address: str, password: str, *,
                             is_admin: bool = False,
                             quota_bytes: int | None = None) -> AccountInfo:
        addr = _field_address("address", address)
        if len(password) < MIN_PASSWORD:
            raise DirectoryError("password", f"Use at least {MIN_PASSWORD} characters")
        if quota_bytes is not None and quota_bytes < 0:
            raise DirectoryError("quota", "The quota cannot be negative")
        domain = addr.rpartition("@")[2]
        # argon2 takes ~0.1 s of CPU by design: in a thread, so the event loop keeps serving.
        pw_hash = await asyncio.to_thread(hash_password, password)
        now = int(time.time())
        async with self.db.write() as conn:
            domain_id = await _domain_id(conn, domain)
            if domain_id is None:
                raise DirectoryError("address", f"{domain} is not one of this server's "
                                                "domains: add it on the Domains page first")
            for table, what in ((A, "an account"), (L, "a distribution list")):
                if await conn.scalar(select(table.c.id).where(table.c.address == addr)):
                    raise DirectoryError("address", f"{addr} is already {what}")
            account_id = (await conn.execute(insert(A).values(
                address=addr, domain_id=domain_id, password_hash=pw_hash,
                is_admin=is_admin, disabled=False, quota_bytes=quota_bytes,
                used_bytes=0, created_at=now).returning(A.c.id))).scalar_one()
            await conn.execute(insert(F), [
                dict(account_id=account_id, name=name, uidvalidity=now, uidnext=1,
                     highestmodseq=1, special_use=use, subscribed=True, message_count=0,
                     unseen_count=0, total_size=0, created_at=now)
                for name, use in DEFAULT_FOLDERS])
            await AuditLog.record_in(conn, actor, "account.create", addr, new={
                "quota_bytes": quota_bytes, "is_admin": is_admin, "password": "set"})
        return AccountInfo(account_id, addr, is_admin, False, quota_bytes, 0)

    async def update_account(self, actor: Actor, address: str, *, quota_bytes: int | None,
                             is_admin: bool, disabled: bool) -> AccountInfo:
        """Quota (None: no limit), admin role and disabled, with the safety rules."""
        addr = _field_address("address", address)
        if quota_bytes is not None and quota_bytes < 0:
            raise DirectoryError("quota", "The quota cannot be negative")
        self_change = addr == actor.address
        async with self.db.write() as conn:
            row = await _account_row(conn, addr)
            if self_change and disabled and not row.disabled:
                raise DirectoryError("disabled", "You cannot disable your own account: you "
                                                 "would be signed out of the admin")
            if self_change and row.is_admin and not is_admin:
                raise DirectoryError("is_admin", "You cannot remove your own admin role; "
                                                 "ask another administrator to do it")
            if row.is_admin and not row.disabled and (not is_admin or disabled) \
                    and await _enabled_admins(conn) <= 1:
                name = "is_admin" if not is_admin else "disabled"
                raise DirectoryError(name, f"{addr} is the last administrator: make another "
                                           "account an administrator first")
            old = _account_values(row)
            new = {"quota_bytes": quota_bytes, "is_admin": is_admin, "disabled": disabled}
            changed = {k for k in new if new[k] != old[k]}
            if changed:
                await conn.execute(update(A).where(A.c.id == row.id).values(**new))
                await AuditLog.record_in(conn, actor, "account.update", addr,
                                         old={k: old[k] for k in sorted(changed)},
                                         new={k: new[k] for k in sorted(changed)})
        return AccountInfo(row.id, addr, is_admin, disabled, quota_bytes, row.used_bytes)

    async def reset_password(self, actor: Actor, address: str, password: str) -> None:
        addr = _field_address("address", address)
        if len(password) < MIN_PASSWORD:
            raise DirectoryError("password", f"Use at least {MIN_PASSWORD} characters")
        pw_hash = await asyncio.to_thread(hash_password, password)
        async with self.db.write() as conn:
            row = await _account_row(conn, addr)
            await conn.execute(update(A).where(A.c.id == row.id).values(password_hash=pw_hash))
            await AuditLog.record_in(conn, actor, "account.password", addr, new="changed")

    async def delete_account(self, actor: Actor, address: str, *, give_to: str | None = None,
                             redirect: bool = False) -> AccountRemoval:
        """Delete an account; its mail is deleted, or given to ``give_to`` (see the notes).
        ``redirect`` (with ``give_to``) also sends future mail for the address there."""
        addr = _field_address("address", address)
        heir_addr = _field_address("give_to", give_to) if give_to else None
        if addr == actor.address:
            raise DirectoryError("address", "You cannot delete your own account; ask "
                                            "another administrator to do it")
        if redirect and heir_addr is None:
            raise DirectoryError("give_to", "Choose the account that gets the mail and "
                                            "future messages")
        released: list[int] = []
        folder_name: str | None = None
        async with self.db.write() as conn:
            row = await _account_row(conn, addr)
            if row.is_admin and not row.disabled and await _enabled_admins(conn) <= 1:
                raise DirectoryError("address", f"{addr} is the last administrator: make "
                                                "another account an administrator first")
            messages = await conn.scalar(
                select(func.count()).select_from(M.join(F, F.c.id == M.c.folder_id))
                .where(F.c.account_id == row.id)) or 0
            heir = None
            if heir_addr is not None:
                if heir_addr == addr:
                    raise DirectoryError("give_to", "Choose another account than the one "
                                                    "you are deleting")
                heir = await _account_row(conn, heir_addr, "give_to")
                if heir.quota_bytes is not None \
                        and heir.used_bytes + row.used_bytes > heir.quota_bytes:
                    free = max(0, heir.quota_bytes - heir.used_bytes)
                    raise DirectoryError(
                        "give_to", f"The mail of {addr} ({row.used_bytes} bytes) does not fit "
                                   f"in {heir_addr}'s quota ({free} bytes free): raise that "
                                   "quota first")
                folder_name = await self._give_folders(conn, row, heir)
            else:
                released = await release_folders(conn, select(F.c.id).where(
                    F.c.account_id == row.id))
                await conn.execute(delete(F).where(F.c.account_id == row.id))
            own_aliases = [r.target for r in await conn.execute(
                select(AL.c.target).where(AL.c.address == addr))]
            await conn.execute(delete(AL).where(AL.c.address == addr))
            dropped: tuple[str, ...] = ()
            memberships: tuple[str, ...] = ()
            if redirect:
                await conn.execute(insert(AL).values(address=addr, target=heir_addr,
                                                     domain_id=row.domain_id))
            else:
                # Nothing would receive mail sent on to the address any more.
                dropped = tuple(r.address for r in await conn.execute(
                    select(AL.c.address).where(AL.c.target == addr).order_by(AL.c.address)))
                await conn.execute(delete(AL).where(AL.c.target == addr))
                memberships = tuple(r.address for r in await conn.execute(
                    select(L.c.address).select_from(L.join(LM, LM.c.list_id == L.c.id))
                    .where(LM.c.address == addr).order_by(L.c.address)))
                await conn.execute(delete(LM).where(LM.c.address == addr))
            await conn.execute(delete(A).where(A.c.id == row.id))
            await AuditLog.record_in(
                conn, actor, "account.delete", addr,
                old={**_account_values(row), "used_bytes": row.used_bytes,
                     "messages": messages, "aliases": own_aliases},
                new={"mail": f"given to {heir_addr}, folder {folder_name}"
                     if heir is not None else "deleted",
                     "future_mail_to": heir_addr if redirect else None,
                     "aliases_removed": list(dropped), "lists_left": list(memberships)})
        if released:
            await self._release(released)
        if heir is not None:
            self.events.notify_account(heir.id)
        return AccountRemoval(addr, messages, row.used_bytes, heir_addr, folder_name,
                              redirect, dropped, memberships)

    @staticmethod
    async def _give_folders(conn: AsyncConnection, row: Any, heir: Any) -> str:
        """Moves every folder of ``row`` under a new top folder of ``heir``; its name."""
        names = set((await conn.execute(
            select(F.c.name).where(F.c.account_id == heir.id))).scalars())
        top = base = f"From {row.address}"
        n = 2
        while top in names or any(name.startswith(top + DELIMITER) for name in names):
            top, n = f"{base} ({n})", n + 1
        highest = await conn.scalar(
            select(func.max(F.c.uidvalidity)).where(F.c.account_id == heir.id))
        # RFC 9051 §2.3.1.1: names new to the receiver get UIDVALIDITYs it never used.
        validity = max(int(time.time()), (highest or 0) + 1)
        now = int(time.time())
        await conn.execute(insert(F).values(
            account_id=heir.id, name=top, uidvalidity=validity, uidnext=1, highestmodseq=1,
            special_use=None, subscribed=True, message_count=0, unseen_count=0,
            total_size=0, created_at=now))
        folders = (await conn.execute(
            select(F.c.id, F.c.name).where(F.c.account_id == row.id).order_by(F.c.name))).all()
        longest = max((len(f.name) for f in folders), default=0)
        if len(top) + 1 + longest > 1000:  # folders.name is String(1000)
            raise DirectoryError("give_to", "A folder name would be longer than 1000 "
                                            "characters there: rename that folder first")
        for offset, folder in enumerate(folders, start=1):
            await conn.execute(update(F).where(F.c.id == folder.id).values(
                account_id=heir.id, name=f"{top}{DELIMITER}{folder.name}",
                uidvalidity=validity + offset, special_use=None, subscribed=True))
        await conn.execute(update(A).where(A.c.id == heir.id).values(
            used_bytes=A.c.used_bytes + row.used_bytes))
        await conn.execute(update(A).where(A.c.id == row.id).values(used_bytes=0))
        return top

    # Aliases -----------------------------------------------------------------
    async def add_alias(self, actor: Actor, address: str, target: str) -> None:
        """``address`` may be a wildcard (``sales-*@domain``, ``*@domain`` the catch-all)."""
        addr = _field_address("address", address)
        tgt = _field_address("target", target)
        if "*" in tgt:
            raise DirectoryError("target", "The target must be one address, without *")
        async with self.db.write() as conn:
            domain_id = await _domain_id(conn, addr.rpartition("@")[2])
            if domain_id is None:
                raise DirectoryError("address", f"{addr.rpartition('@')[2]} is not one of "
                                                "this server's domains")
            if await conn.scalar(select(L.c.id).where(L.c.address == addr)):
                raise DirectoryError("address", f"{addr} is a distribution list: add members "
                                                "to the list instead")
            if tgt == addr and not await conn.scalar(select(A.c.id).where(A.c.address == addr)):
                raise DirectoryError("target", "Only an account's own address may name itself "
                                               "(to keep a copy when forwarding)")
            if tgt != addr and await _domain_id(conn, tgt.rpartition("@")[2]) is not None \
                    and not await _exists_locally(conn, tgt):
                raise DirectoryError("target", f"No account, alias or list is called {tgt}")
            if await conn.scalar(select(AL.c.id).where(AL.c.address == addr,
                                                       AL.c.target == tgt)):
                raise DirectoryError("address", f"{addr} already goes to {tgt}")
            await conn.execute(insert(AL).values(address=addr, target=tgt, domain_id=domain_id))
            await AuditLog.record_in(conn, actor, "alias.add", addr, new=tgt)

    async def remove_alias(self, actor: Actor, address: str, target: str) -> None:
        addr = _field_address("address", address)
        tgt = _field_address("target", target)
        async with self.db.write() as conn:
            result = await conn.execute(delete(AL).where(AL.c.address == addr,
                                                         AL.c.target == tgt))
            if result.rowcount == 0:
                raise DirectoryError("address", f"There is no alias {addr} -> {tgt}")
            await AuditLog.record_in(conn, actor, "alias.remove", addr, old=tgt)

    async def set_catch_all(self, actor: Actor, domain: str, target: str | None) -> None:
        """Where mail for unknown addresses of ``domain`` goes; None rejects it again."""
        try:
            name = normalise_domain(domain)
        except StoreError as exc:
            raise DirectoryError("domain", str(exc)) from exc
        tgt = _field_address("target", target) if target else None
        pattern = f"*@{name}"
        async with self.db.write() as conn:
            domain_id = await _domain_id(conn, name)
            if domain_id is None:
                raise DirectoryError("domain", f"{name} is not one of this server's domains")
            if tgt is not None and await _domain_id(conn, tgt.rpartition("@")[2]) is not None \
                    and not await _exists_locally(conn, tgt):
                raise DirectoryError("target", f"No account, alias or list is called {tgt}")
            old = [r.target for r in await conn.execute(
                select(AL.c.target).where(AL.c.address == pattern).order_by(AL.c.target))]
            if old == ([tgt] if tgt else []):
                return
            await conn.execute(delete(AL).where(AL.c.address == pattern))
            if tgt is not None:
                await conn.execute(insert(AL).values(address=pattern, target=tgt,
                                                     domain_id=domain_id))
            await AuditLog.record_in(conn, actor, "domain.catch_all", name,
                                     old=old[0] if len(old) == 1 else (old or None), new=tgt)

    async def catch_alls(self) -> dict[str, list[str]]:
        """Each local domain's catch-all targets (empty: unknown addresses are rejected)."""
        async with self.db.read() as conn:
            domains = [r.name for r in await conn.execute(select(D.c.name).order_by(D.c.name))]
            rows = (await conn.execute(select(AL.c.address, AL.c.target).where(
                AL.c.address.in_([f"*@{d}" for d in domains])).order_by(AL.c.target))).all()
        found: dict[str, list[str]] = {d: [] for d in domains}
        for r in rows:
            found[r.address[2:]].append(r.target)
        return found

    # Distribution lists ------------------------------------------------------
    async def create_list(self, actor: Actor, address: str, *, policy: str = "anyone",
                          subject_prefix: str = "", reply_to_list: bool = False) -> None:
        addr = _field_address("address", address)
        self._check_list_settings(policy, subject_prefix)
        async with self.db.write() as conn:
            domain_id = await _domain_id(conn, addr.rpartition("@")[2])
            if domain_id is None:
                raise DirectoryError("address", f"{addr.rpartition('@')[2]} is not one of "
                                                "this server's domains")
            if "*" in addr:
                raise DirectoryError("address", "A list address cannot contain *")
            for table in (A, AL, L):
                if await conn.scalar(select(table.c.id).where(table.c.address == addr)):
                    raise DirectoryError("address", f"{addr} is already an account, alias "
                                                    "or list")
            await conn.execute(insert(L).values(
                address=addr, domain_id=domain_id, policy=policy,
                subject_prefix=subject_prefix, reply_to_list=reply_to_list,
                created_at=int(time.time())))
            await AuditLog.record_in(conn, actor, "list.create", addr, new={
                "policy": policy, "subject_prefix": subject_prefix,
                "reply_to_list": reply_to_list})

    @staticmethod
    def _check_list_settings(policy: str, subject_prefix: str) -> None:
        if policy not in POLICIES:
            raise DirectoryError("policy", "Choose who may post to the list")
        if len(subject_prefix) > 100 or any(ord(c) < 0x20 for c in subject_prefix):
            raise DirectoryError("subject_prefix", "The prefix must be one short line "
                                                   "(up to 100 characters)")

    async def update_list(self, actor: Actor, address: str, *, policy: str,
                          subject_prefix: str, reply_to_list: bool) -> None:
        addr = _field_address("address", address)
        self._check_list_settings(policy, subject_prefix)
        async with self.db.write() as conn:
            row = (await conn.execute(select(L).where(L.c.address == addr))).first()
            if row is None:
                raise DirectoryError("address", f"There is no list {addr}")
            old = {"policy": row.policy, "subject_prefix": row.subject_prefix,
                   "reply_to_list": bool(row.reply_to_list)}
            new = {"policy": policy, "subject_prefix": subject_prefix,
                   "reply_to_list": reply_to_list}
            changed = sorted(k for k in new if new[k] != old[k])
            if not changed:
                return
            await conn.execute(update(L).where(L.c.id == row.id).values(**new))
            await AuditLog.record_in(conn, actor, "list.update", addr,
                                     old={k: old[k] for k in changed},
                                     new={k: new[k] for k in changed})

    async def remove_list(self, actor: Actor, address: str) -> None:
        addr = _field_address("address", address)
        async with self.db.write() as conn:
            info = await load_list(conn, addr)
            if info is None:
                raise DirectoryError("address", f"There is no list {addr}")
            await conn.execute(delete(LM).where(LM.c.list_id == info.id))
            await conn.execute(delete(L).where(L.c.id == info.id))
            await AuditLog.record_in(conn, actor, "list.remove", addr, old={
                "members": list(info.members), "senders": list(info.senders),
                "policy": info.policy})

    async def add_list_member(self, actor: Actor, list_address: str, member: str,
                              role: str = "member") -> None:
        """A member receives the list's mail; a sender may post under policy "senders"."""
        addr = _field_address("address", list_address)
        person = _field_address(role, member)
        if role not in ("member", "sender"):
            raise DirectoryError("role", "Choose member or sender")
        if "*" in person:
            raise DirectoryError(role, "A member is one address, without *")
        async with self.db.write() as conn:
            list_id = await conn.scalar(select(L.c.id).where(L.c.address == addr))
            if list_id is None:
                raise DirectoryError("address", f"There is no list {addr}")
            if role == "member" and person == addr:
                raise DirectoryError(role, "A list cannot be a member of itself")
            if role == "member" and await _domain_id(conn, person.rpartition("@")[2]) \
                    is not None and not await _exists_locally(conn, person):
                raise DirectoryError(role, f"No account, alias or list is called {person}")
            if await conn.scalar(select(func.count()).where(
                    LM.c.list_id == list_id, LM.c.address == person, LM.c.role == role)):
                raise DirectoryError(role, f"{person} is already a {role} of {addr}")
            await conn.execute(insert(LM).values(list_id=list_id, address=person, role=role))
            await AuditLog.record_in(conn, actor, f"list.{role}.add", addr, new=person)

    async def remove_list_member(self, actor: Actor, list_address: str, member: str,
                                 role: str = "member") -> None:
        addr = _field_address("address", list_address)
        person = _field_address(role, member)
        async with self.db.write() as conn:
            list_id = await conn.scalar(select(L.c.id).where(L.c.address == addr))
            if list_id is None:
                raise DirectoryError("address", f"There is no list {addr}")
            result = await conn.execute(delete(LM).where(
                LM.c.list_id == list_id, LM.c.address == person, LM.c.role == role))
            if result.rowcount == 0:
                raise DirectoryError(role, f"{person} is not a {role} of {addr}")
            await AuditLog.record_in(conn, actor, f"list.{role}.remove", addr, old=person)

    # The "where would mail go?" tester --------------------------------------
    async def explain(self, address: str) -> Explanation:
        """Which rules apply to ``address``, in the router's order, as sentences."""
        out = Explanation(address.strip())
        try:
            addr = normalise_address(address)
        except StoreError as exc:
            out.steps.append(str(exc))
            return out
        out.address = addr
        async with self.db.read() as conn:
            await self._explain(conn, addr, 0, set(), out.steps)
        return out

    async def _explain(self, conn: AsyncConnection, addr: str, depth: int, seen: set[str],
                       steps: list[str]) -> None:
        pad = "→ " * depth
        if depth > 5:
            steps.append(f"{pad}… and further (the tester stops here)")
            return
        if addr in seen:
            steps.append(f"{pad}{addr} was already on the way: the aliases form a loop")
            return
        seen = seen | {addr}
        domain = addr.rpartition("@")[2]
        if await _domain_id(conn, domain) is None:
            steps.append(f"{pad}{addr} is outside this server's domains: mail for it is "
                         "sent out over the internet (a forward)")
            return
        account = (await conn.execute(select(A.c.disabled).where(A.c.address == addr))).first()
        targets = [r.target for r in await conn.execute(
            select(AL.c.target).where(AL.c.address == addr).order_by(AL.c.target))]
        if targets:
            keeps = " (and keeps a copy in its own mailbox)" if addr in targets else ""
            others = [t for t in targets if t != addr]
            steps.append(f"{pad}{addr} is an alias for {', '.join(others) or 'itself'}{keeps}")
            for target in others:
                await self._explain(conn, target, depth + 1, seen, steps)
            return
        if account is not None:
            state = ("is a disabled account: its mail is refused" if account.disabled
                     else "is an account: mail goes into its mailbox")
            steps.append(f"{pad}{addr} {state}")
            return
        info = await load_list(conn, addr)
        if info is not None:
            who = {"anyone": "anyone", "members": "its members only",
                   "domain": f"senders at {domain} only",
                   "senders": "its listed senders only"}[info.policy]
            steps.append(f"{pad}{addr} is a distribution list with {len(info.members)} "
                         f"member(s); {who} may post to it")
            for member in info.members:
                await self._explain(conn, member, depth + 1, seen, steps)
            return
        base, tag = split_plus(addr)
        if tag is not None:
            steps.append(f"{pad}{addr} is {base} with the tag “{tag}”: into the folder "
                         f"“{tag}” if that account has one, else its Inbox")
            await self._explain(conn, base, depth + 1, seen, steps)
            return
        patterns = sorted({r.address for r in await conn.execute(
            select(AL.c.address).where(AL.c.address.contains("*"),
                                       AL.c.address.endswith("@" + domain)))},
            key=lambda p: (-len(p.replace("*", "")), p))
        for pattern in patterns:
            if fnmatch.fnmatchcase(addr, pattern):
                kind = "the catch-all" if pattern == f"*@{domain}" else "the wildcard mapping"
                targets = [r.target for r in await conn.execute(
                    select(AL.c.target).where(AL.c.address == pattern).order_by(AL.c.target))]
                steps.append(f"{pad}no account, alias or list is called {addr}, so {kind} "
                             f"{pattern} takes it, for {', '.join(targets)}")
                for target in targets:
                    await self._explain(conn, target, depth + 1, seen, steps)
                return
        steps.append(f"{pad}no account, alias, list or catch-all of {domain} matches {addr}")
