"""Distribution lists: an address whose mail goes to every member, with a posting policy.

Implementation notes:
- Members may be local addresses (accounts, aliases, other lists) or external addresses;
  routing expands them (``mailstore.routing``), so a member account that forwards keeps
  forwarding.
- Who may post: ``anyone``; ``members`` (the envelope sender is a member); ``domain`` (the
  sender's domain is the list's); ``senders`` (the sender is listed with role "sender").
- The copy the members get may differ from what other recipients of the same message get
  (a subject prefix, Reply-To to the list, and a RFC 2919 List-Id), so it is its own blob.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from mailstore.database import Database
from mailstore.errors import AlreadyExists, InvalidName, NotFound, StoreError
from mailstore.models import Account, Alias, Domain, ListMember, MailingList
from mailstore.names import normalise_address

A = Account.__table__
AL = Alias.__table__
D = Domain.__table__
L = MailingList.__table__
LM = ListMember.__table__

POLICIES = ("anyone", "members", "domain", "senders")


class PostingDenied(StoreError):
    pass


@dataclass(frozen=True, slots=True)
class ListInfo:
    id: int
    address: str
    policy: str = "anyone"
    subject_prefix: str = ""
    reply_to_list: bool = False
    members: tuple[str, ...] = ()
    senders: tuple[str, ...] = ()

    def may_post(self, sender: str) -> bool:
        sender = sender.lower()
        if self.policy == "members":
            return sender in self.members
        if self.policy == "domain":
            return sender.rpartition("@")[2] == self.address.rpartition("@")[2]
        if self.policy == "senders":
            return sender in self.senders
        return True

    def refusal(self) -> str:
        who = {"members": "its members", "domain": "senders in its domain",
               "senders": "its listed senders"}.get(self.policy, "anyone")
        return f"<{self.address}>: only {who} may post to this list"


async def load_list(conn: AsyncConnection, address: str) -> ListInfo | None:
    row = (await conn.execute(select(L).where(L.c.address == address))).first()
    if row is None:
        return None
    people = (await conn.execute(
        select(LM.c.address, LM.c.role).where(LM.c.list_id == row.id)
        .order_by(LM.c.address))).all()
    return ListInfo(
        row.id, row.address, row.policy, row.subject_prefix, bool(row.reply_to_list),
        tuple(p.address for p in people if p.role == "member"),
        tuple(p.address for p in people if p.role == "sender"))


class Lists:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, address: str, policy: str = "anyone", subject_prefix: str = "",
                     reply_to_list: bool = False) -> ListInfo:
        addr = normalise_address(address)
        if policy not in POLICIES:
            raise InvalidName(f"posting policy {policy!r} is not one of {', '.join(POLICIES)}")
        async with self.db.write() as conn:
            domain_id = await conn.scalar(
                select(D.c.id).where(D.c.name == addr.rpartition("@")[2]))
            if domain_id is None:
                raise NotFound(f"domain of {addr} is not a local domain")
            for table in (A, AL, L):
                if await conn.scalar(select(table.c.address).where(
                        table.c.address == addr).limit(1)) is not None:
                    raise AlreadyExists(f"{addr} is already an account, alias or list")
            list_id = (await conn.execute(insert(L).values(
                address=addr, domain_id=domain_id, policy=policy,
                subject_prefix=subject_prefix, reply_to_list=reply_to_list,
                created_at=int(time.time())).returning(L.c.id))).scalar_one()
        return ListInfo(list_id, addr, policy, subject_prefix, reply_to_list)

    async def add(self, list_address: str, member: str, role: str = "member") -> None:
        """Add a member (receives the list's mail) or a sender (may post, policy senders)."""
        if role not in ("member", "sender"):
            raise InvalidName(f"role {role!r} must be member or sender")
        info = await self.get(list_address)
        addr = normalise_address(member)
        if role == "member" and addr == info.address:
            raise InvalidName(f"{addr} cannot be a member of itself")
        async with self.db.write() as conn:
            if await conn.scalar(select(LM.c.address).where(
                    LM.c.list_id == info.id, LM.c.address == addr, LM.c.role == role)):
                raise AlreadyExists(f"{addr} is already a {role} of {info.address}")
            await conn.execute(insert(LM).values(list_id=info.id, address=addr, role=role))

    async def discard(self, list_address: str, member: str, role: str = "member") -> None:
        info = await self.get(list_address)
        addr = normalise_address(member)
        async with self.db.write() as conn:
            result = await conn.execute(delete(LM).where(
                LM.c.list_id == info.id, LM.c.address == addr, LM.c.role == role))
            if result.rowcount == 0:
                raise NotFound(f"{addr} is not a {role} of {info.address}")

    async def get(self, address: str) -> ListInfo:
        addr = normalise_address(address)
        async with self.db.read() as conn:
            info = await load_list(conn, addr)
        if info is None:
            raise NotFound(f"list {addr} does not exist")
        return info

    async def all(self) -> list[ListInfo]:
        async with self.db.read() as conn:
            addresses = [r.address for r in await conn.execute(
                select(L.c.address).order_by(L.c.address))]
            return [info for a in addresses if (info := await load_list(conn, a))]

    async def remove(self, address: str) -> None:
        addr = normalise_address(address)
        async with self.db.write() as conn:
            if (await conn.execute(delete(L).where(L.c.address == addr))).rowcount == 0:
                raise NotFound(f"list {addr} does not exist")


_SUBJECT = re.compile(rb"^Subject:[ \t]?(.*?)\r\n(?![ \t])", re.IGNORECASE | re.MULTILINE | re.S)
_REPLY_TO = re.compile(rb"^Reply-To:.*?\r\n(?![ \t])", re.IGNORECASE | re.MULTILINE | re.S)


def list_copy(raw: bytes, info: ListInfo) -> bytes:
    """The members' copy: List-Id (RFC 2919), the subject prefix once, Reply-To the list."""
    end = raw.find(b"\r\n\r\n")
    head, body = (raw[: end + 2], raw[end + 2:]) if end >= 0 else (raw, b"")
    prefix = info.subject_prefix.encode("utf-8")
    if prefix:
        match = _SUBJECT.search(head)
        if match is None:
            head += b"Subject: " + prefix + b"\r\n"
        elif prefix.lower() not in match.group(1).lower():
            head = head[: match.start(1)] + prefix + b" " + head[match.start(1):]
    if info.reply_to_list:
        head = _REPLY_TO.sub(b"", head) + f"Reply-To: <{info.address}>\r\n".encode()
    list_id = info.address.replace("@", ".")
    return f"List-Id: <{list_id}>\r\n".encode() + head + body
