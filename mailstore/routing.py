"""Where mail for an address goes: local mailboxes, external forwards, or nowhere.

Implementation notes:
- Order for one address (the first that matches wins): explicit alias rows for the exact
  address; the account with that address; plus-addressing (``user+tag@`` is ``user@``,
  into folder ``tag`` when the account has one, in any case); wildcard aliases of the
  domain, the most specific pattern first, so ``*@domain`` (the catch-all) only takes what
  nothing else did.
- Several alias rows for one address deliver to every target. An alias that names its own
  address as a target keeps a copy in that account ("forward and keep a copy").
- Expansion follows aliases of aliases up to ``MAX_DEPTH`` levels; a cycle that never reaches
  a mailbox is a configuration loop, reported as such rather than as "no such user".
- Distribution lists expand to their members (which may be lists, aliases or external);
  the posting policy of every list on the way is checked against the envelope sender.
- Domains are tenants: an address is local only when its domain is a local domain, and the
  local part is matched only within that domain (no cross-domain implicit mapping).
- SRS (``Router.srs``, set by ``tidings serve``): an ``SRS0=…``/``SRS1=…`` address in a local
  domain is a bounce of mail we forwarded; it routes to the address it stands for (usually
  external, so relaying is allowed for it). One we did not make (bad hash, expired) is
  UnknownRecipient. The check comes before address validation: SRS local parts may be
  longer than 64 characters.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncConnection

from mailstore.database import Database
from mailstore.errors import StoreError
from mailstore.lists import ListInfo, PostingDenied, load_list
from mailstore.models import Account, Alias, Domain, Folder
from mailstore.names import normalise_address, normalise_folder

A = Account.__table__
AL = Alias.__table__
D = Domain.__table__
F = Folder.__table__

MAX_DEPTH = 10


class NotLocal(StoreError):
    """The address's domain is not one of ours: delivering there is relaying."""


class UnknownRecipient(StoreError):
    pass


class MailboxDisabled(StoreError):
    pass


class RoutingLoop(StoreError):
    pass


@dataclass(frozen=True, slots=True)
class Mailbox:
    """A local delivery target: an account and the folder the message goes into."""

    account_id: int
    address: str
    folder: str = "INBOX"
    # Bytes left under the quota when the route was made (None: no quota).
    free_bytes: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Route:
    recipient: str
    local: tuple[Mailbox, ...] = ()
    external: tuple[str, ...] = ()
    list: ListInfo | None = None  # the recipient is this distribution list


@dataclass
class _Expansion:
    local: dict[tuple[int, str], Mailbox] = field(default_factory=dict)
    external: dict[str, None] = field(default_factory=dict)
    looped: bool = False
    disabled: bool = False
    list: ListInfo | None = None


class SenderRewriting(Protocol):
    """What the router needs of SRS (``protocols.delivery.srs.Srs``; mailstore does not
    import front doors)."""

    def is_srs(self, local_part: str) -> bool: ...

    def reverse(self, address: str) -> str:
        """The original address; raises ValueError when the address is not a valid one."""
        ...


def split_plus(address: str) -> tuple[str, str | None]:
    """``ann+news@x`` → (``ann@x``, ``news``); addresses without a tag come back as given."""
    local, _, domain = address.rpartition("@")
    base, plus, tag = local.partition("+")
    if not plus or not base or not tag:
        return address, None
    return f"{base}@{domain}", tag


def _specificity(pattern: str) -> tuple[int, str]:
    return (-len(pattern.replace("*", "")), pattern)


class Router:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.srs: SenderRewriting | None = None

    async def is_local_domain(self, domain: str) -> bool:
        async with self.db.read() as conn:
            return await _domain_id(conn, domain.lower().rstrip(".")) is not None

    async def resolve(self, address: str, sender: str | None = None) -> Route:
        """The route for one recipient, or NotLocal / UnknownRecipient / RoutingLoop /
        PostingDenied (a list the envelope ``sender`` may not post to)."""
        if self.srs is not None:
            route = await self._srs_route(address, sender)
            if route is not None:
                return route
        try:
            addr = normalise_address(address)
        except StoreError as exc:
            raise UnknownRecipient(f"<{address}>: not a valid address") from exc
        result = _Expansion()
        async with self.db.read() as conn:
            await self._expand(conn, addr, None, 0, set(), result, sender)
        if addr in result.external:  # only a foreign top-level address gets there
            raise NotLocal(f"<{addr}>: not a local domain")
        if not result.local and not result.external:
            if result.looped:
                raise RoutingLoop(f"<{addr}>: the aliases for this address form a loop")
            if result.disabled:
                raise MailboxDisabled(f"<{addr}>: mailbox disabled")
            raise UnknownRecipient(f"<{addr}>: no such user here")
        return Route(addr, tuple(result.local.values()), tuple(result.external), result.list)

    async def _srs_route(self, address: str, sender: str | None) -> Route | None:
        """The route of a bounce to an SRS address of ours; None when it is not one."""
        assert self.srs is not None
        text = address.strip()
        local, at, domain = text.rpartition("@")
        if not at or not self.srs.is_srs(local) or not await self.is_local_domain(domain):
            return None
        try:
            original = self.srs.reverse(text)
        except ValueError as exc:
            raise UnknownRecipient(str(exc)) from exc
        try:  # the original sender may be one of ours (another local domain)
            route = await self.resolve(original, sender)
        except NotLocal:
            return Route(text.lower(), (), (original,))
        return Route(text.lower(), route.local, route.external, route.list)

    async def _expand(self, conn: AsyncConnection, addr: str, tag: str | None, depth: int,
                      seen: set[str], out: _Expansion, sender: str | None = None) -> None:
        if depth > MAX_DEPTH or addr in seen:
            out.looped = True
            return
        seen = seen | {addr}
        # Aliases and accounts exist only in local domains: look them up first. The common
        # case (an account without aliases) is one indexed lookup.
        account = (await conn.execute(
            select(A.c.id, A.c.disabled, A.c.quota_bytes, A.c.used_bytes,
                   exists().where(AL.c.address == addr).label("aliased"))
            .where(A.c.address == addr))).first()
        if account is None or account.aliased:
            targets = [r.target for r in await conn.execute(
                select(AL.c.target).where(AL.c.address == addr).order_by(AL.c.target))]
            for target in targets:
                if target == addr:
                    await self._mailbox(conn, account, addr, tag, out)
                else:
                    await self._expand(conn, target, tag, depth + 1, seen, out, sender)
            if targets:
                return
        if account is not None:
            await self._mailbox(conn, account, addr, tag, out)
            return
        info = await load_list(conn, addr)
        if info is not None:
            if sender is not None and not info.may_post(sender):
                raise PostingDenied(info.refusal())
            if depth == 0:
                out.list = info
            for member in info.members:
                await self._expand(conn, member, None, depth + 1, seen, out, sender)
            return
        domain_id = await _domain_id(conn, addr.rpartition("@")[2])
        if domain_id is None:
            out.external[addr] = None
            return
        base, plus_tag = split_plus(addr)
        if plus_tag is not None:
            await self._expand(conn, base, plus_tag, depth + 1, seen, out, sender)
            return
        patterns = sorted({r.address for r in await conn.execute(
            select(AL.c.address).where(AL.c.domain_id == domain_id,
                                       AL.c.address.contains("*")))}, key=_specificity)
        for pattern in patterns:
            if fnmatch.fnmatchcase(addr, pattern):
                for target in [r.target for r in await conn.execute(
                        select(AL.c.target).where(AL.c.address == pattern)
                        .order_by(AL.c.target))]:
                    await self._expand(conn, target, tag, depth + 1, seen, out, sender)
                return

    async def _mailbox(self, conn: AsyncConnection, row: Any, addr: str, tag: str | None,
                       out: _Expansion) -> None:
        """Adds the account ``row`` (into the tag's folder if it has one)."""
        if row is None:  # an alias naming itself without an account behind it
            return
        if row.disabled:
            out.disabled = True
            return
        folder = "INBOX"
        if tag:
            folder = await _tag_folder(conn, row.id, tag) or folder
        free = None if row.quota_bytes is None else row.quota_bytes - row.used_bytes
        out.local.setdefault((row.id, folder), Mailbox(row.id, addr, folder, free))


async def _tag_folder(conn: AsyncConnection, account_id: int, tag: str) -> str | None:
    """The account's folder named like the plus-tag, ignoring case: the address arrives
    lowercased, and ann+Newsletters@ should reach "Newsletters". An exact match wins over
    others that differ only in case; None if the account has no such folder."""
    try:
        wanted = normalise_folder(tag)
    except StoreError:
        return None
    names = (await conn.execute(select(F.c.name).where(F.c.account_id == account_id))).scalars()
    alike = sorted(n for n in names if n.casefold() == wanted.casefold())
    return wanted if wanted in alike else (alike[0] if alike else None)


async def _domain_id(conn: AsyncConnection, domain: str) -> int | None:
    return await conn.scalar(select(D.c.id).where(D.c.name == domain))
