"""The addresses a user may send as, each with a display name and a signature.

Implementation notes:
- One rule decides whether an account may send as an address: mail to that address is
  delivered to that account (``Router.resolve``). That covers the account's own address,
  aliases that point to it (directly or through other aliases), plus-addresses and a
  catch-all the account receives. Sending checks the same rule at the moment of sending,
  so an alias removed since the identity was added no longer works.
- The account's own address and the aliases that name it are always offered, even
  without a row; a row only adds a display name, a signature or the default mark.
- At most one identity per account is the default; setting one clears the others in the
  same transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update

from mailstore.database import Database
from mailstore.errors import NotFound, StoreError
from mailstore.models import Account, Alias, Identity
from mailstore.names import normalise_address
from mailstore.routing import Router

I = Identity.__table__  # noqa: E741
A = Account.__table__
AL = Alias.__table__

MAX_SIGNATURE = 10_000
MAX_NAME = 200


class IdentityNotAllowed(StoreError):
    """The account does not receive mail at this address, so it may not send as it."""


class InvalidIdentity(StoreError):
    """A field of an identity is wrong; ``field`` names it for the form."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class IdentityInfo:
    """An address to send as. ``id`` is None for an address offered without a row."""

    id: int | None
    address: str
    display_name: str = ""
    signature: str = ""
    signature_is_html: bool = False
    is_default: bool = False

    @property
    def formatted(self) -> str:
        """The From value: ``Name <address>`` or the bare address."""
        from email.headerregistry import Address

        if not self.display_name:
            return self.address
        return str(Address(display_name=self.display_name, addr_spec=self.address))


def _info(row: object) -> IdentityInfo:
    return IdentityInfo(id=row.id, address=row.address, display_name=row.display_name,
                        signature=row.signature, signature_is_html=bool(row.signature_is_html),
                        is_default=bool(row.is_default))


class Identities:
    def __init__(self, db: Database, router: Router) -> None:
        self.db = db
        self.router = router

    async def list(self, account_id: int) -> list[IdentityInfo]:
        """Every identity of the account, the default first, then by address.

        The account's own address and its aliases come without a row when the user has
        not set anything for them; exactly one entry is marked default."""
        async with self.db.read() as conn:
            own = await conn.scalar(select(A.c.address).where(A.c.id == account_id))
            if own is None:
                raise NotFound(f"account #{account_id} does not exist")
            rows = (await conn.execute(
                select(I).where(I.c.account_id == account_id).order_by(I.c.id))).all()
            aliases = [r.address for r in await conn.execute(
                select(AL.c.address).where(AL.c.target == own, ~AL.c.address.contains("*"))
                .order_by(AL.c.address))]
        found = [_info(r) for r in rows]
        have = {i.address for i in found}
        found += [IdentityInfo(None, a) for a in [own, *aliases] if a not in have]
        if not any(i.is_default for i in found):
            mine = next(i for i in found if i.address == own)
            found[found.index(mine)] = IdentityInfo(
                mine.id, mine.address, mine.display_name, mine.signature,
                mine.signature_is_html, True)
        found.sort(key=lambda i: (not i.is_default, i.address))
        return found

    async def default(self, account_id: int) -> IdentityInfo:
        return (await self.list(account_id))[0]

    async def find(self, account_id: int, address: str) -> IdentityInfo | None:
        """The identity for ``address``, or None when the user has no such identity."""
        try:
            addr = normalise_address(address)
        except StoreError:
            return None
        return next((i for i in await self.list(account_id) if i.address == addr), None)

    async def may_send_as(self, account_id: int, address: str) -> bool:
        """True when mail to ``address`` is delivered to this account."""
        try:
            route = await self.router.resolve(address)
        except StoreError:
            return False
        return any(m.account_id == account_id for m in route.local)

    async def save(self, account_id: int, address: str, *, display_name: str = "",
                   signature: str = "", signature_is_html: bool = False,
                   is_default: bool = False, identity_id: int | None = None) -> IdentityInfo:
        """Add an identity (``identity_id`` None) or change one; the address must be one
        the account receives mail at (IdentityNotAllowed otherwise)."""
        try:
            addr = normalise_address(address)
        except StoreError as exc:
            raise InvalidIdentity("address", f"{address!r} is not a valid address") from exc
        if len(display_name) > MAX_NAME:
            raise InvalidIdentity("display_name", f"the name is longer than {MAX_NAME} "
                                                  "characters")
        if len(signature) > MAX_SIGNATURE:
            raise InvalidIdentity("signature", f"the signature is longer than "
                                               f"{MAX_SIGNATURE} characters")
        if not await self.may_send_as(account_id, addr):
            raise IdentityNotAllowed(
                f"{addr} does not deliver to this account; ask the administrator for an "
                "alias first")
        values = {"address": addr, "display_name": display_name.strip(),
                  "signature": signature, "signature_is_html": signature_is_html,
                  "is_default": is_default}
        async with self.db.write() as conn:
            same = await conn.scalar(select(I.c.id).where(
                I.c.account_id == account_id, I.c.address == addr))
            if same is not None and same != identity_id:
                if identity_id is not None:
                    raise InvalidIdentity("address", f"there is already an identity for "
                                                     f"{addr}")
                identity_id = same  # saving an offered address a second time edits it
            if is_default:
                await conn.execute(update(I).where(I.c.account_id == account_id)
                                   .values(is_default=False))
            if identity_id is None:
                identity_id = (await conn.execute(insert(I).values(
                    account_id=account_id, created_at=int(time.time()), **values)
                    .returning(I.c.id))).scalar_one()
            else:
                result = await conn.execute(update(I).where(
                    I.c.id == identity_id, I.c.account_id == account_id).values(**values))
                if result.rowcount == 0:
                    raise NotFound(f"identity #{identity_id} does not exist")
            row = (await conn.execute(select(I).where(I.c.id == identity_id))).one()
        return _info(row)

    async def remove(self, account_id: int, identity_id: int) -> None:
        async with self.db.write() as conn:
            result = await conn.execute(delete(I).where(
                I.c.id == identity_id, I.c.account_id == account_id))
        if result.rowcount == 0:
            raise NotFound(f"identity #{identity_id} does not exist")
