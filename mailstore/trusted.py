"""Senders whose remote images a user always wants shown ("always for this sender").

Implementation notes:
- Addresses are kept lower-cased: the webmail compares them with the From address of a
  message, and mail systems treat addresses case-insensitively in practice.
- Adding an address twice is not an error; removing one that is not there is not either.
  The webmail's buttons can then be pressed twice (or in two tabs) with the same result.
"""

from __future__ import annotations

from sqlalchemy import delete, insert, select

from mailstore.database import Database
from mailstore.errors import StoreError
from mailstore.models import TrustedSender

T = TrustedSender.__table__

MAX_ADDRESS = 320  # RFC 5321 §4.5.3.1: 64-octet local part, @, 255-octet domain


class InvalidSender(StoreError):
    """Not something that can be a sender's address."""


def normalise_sender(address: str) -> str:
    """The address as stored: trimmed and lower-cased; raises ``InvalidSender``."""
    value = address.strip().lower()
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or len(value) > MAX_ADDRESS \
            or any(c.isspace() or c in "<>\"," for c in value):
        raise InvalidSender(f"{address!r} is not an e-mail address")
    return value


class TrustedSenders:
    """Per account: the senders whose remote images are shown without asking."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def list(self, account_id: int) -> list[str]:
        async with self.db.read() as conn:
            rows = await conn.execute(
                select(T.c.address).where(T.c.account_id == account_id).order_by(T.c.address))
            return [row.address for row in rows]

    async def contains(self, account_id: int, address: str) -> bool:
        try:
            value = normalise_sender(address)
        except InvalidSender:
            return False
        async with self.db.read() as conn:
            found = await conn.execute(select(T.c.address).where(
                T.c.account_id == account_id, T.c.address == value))
            return found.first() is not None

    async def add(self, account_id: int, address: str) -> str:
        """Trust ``address``; returns it as stored."""
        value = normalise_sender(address)
        async with self.db.write() as conn:
            await conn.execute(delete(T).where(T.c.account_id == account_id,
                                               T.c.address == value))
            await conn.execute(insert(T).values(account_id=account_id, address=value))
        return value

    async def remove(self, account_id: int, address: str) -> None:
        """Stop trusting ``address`` (nothing happens if it was not trusted)."""
        try:
            value = normalise_sender(address)
        except InvalidSender:
            return
        async with self.db.write() as conn:
            await conn.execute(delete(T).where(T.c.account_id == account_id,
                                               T.c.address == value))
