"""Folders with IMAP semantics: names, UIDVALIDITY, special-use, subscriptions."""

from __future__ import annotations

import time

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from mailstore.database import Database
from mailstore.errors import AlreadyExists, InvalidName, NotFound
from mailstore.events import FolderEvents
from mailstore.messages import ReleaseHook, release_folders
from mailstore.models import Folder, Message
from mailstore.names import DELIMITER, check_not_reserved, normalise_folder
from mailstore.values import FolderInfo

F = Folder.__table__
M = Message.__table__


def folder_info(row: object) -> FolderInfo:
    return FolderInfo(
        id=row.id, account_id=row.account_id, name=row.name, uidvalidity=row.uidvalidity,
        uidnext=row.uidnext, highestmodseq=row.highestmodseq, special_use=row.special_use,
        subscribed=bool(row.subscribed), messages=row.message_count, unseen=row.unseen_count,
        size=row.total_size,
    )


class Folders:
    def __init__(
        self, db: Database, on_contents_released: ReleaseHook,
        events: FolderEvents | None = None,
    ) -> None:
        self.db = db
        self._release = on_contents_released
        self.events = events if events is not None else FolderEvents()

    async def list(self, account_id: int) -> list[FolderInfo]:
        """All folders of an account, INBOX first, then by name."""
        async with self.db.read() as conn:
            rows = (await conn.execute(
                select(F).where(F.c.account_id == account_id).order_by(F.c.name))).all()
        folders = [folder_info(r) for r in rows]
        folders.sort(key=lambda f: (f.name != "INBOX", f.name.casefold()))
        return folders

    async def get(self, account_id: int, name: str) -> FolderInfo:
        folder = normalise_folder(name)
        async with self.db.read() as conn:
            row = (await conn.execute(
                select(F).where(F.c.account_id == account_id, F.c.name == folder))).first()
        if row is None:
            raise NotFound(f"folder {folder} does not exist")
        return folder_info(row)

    async def get_by_id(self, folder_id: int) -> FolderInfo:
        async with self.db.read() as conn:
            row = (await conn.execute(select(F).where(F.c.id == folder_id))).first()
        if row is None:
            raise NotFound(f"folder #{folder_id} does not exist")
        return folder_info(row)

    async def create(
        self, account_id: int, name: str, special_use: str | None = None
    ) -> FolderInfo:
        """Create a folder; missing parent levels are created too (RFC 9051 §6.3.4)."""
        folder = normalise_folder(name)
        check_not_reserved(folder)
        parts = folder.split(DELIMITER)
        wanted = [DELIMITER.join(parts[: i + 1]) for i in range(len(parts))]
        async with self.db.write() as conn:
            existing = set((await conn.execute(
                select(F.c.name).where(F.c.account_id == account_id, F.c.name.in_(wanted))
            )).scalars())
            if folder in existing:
                raise AlreadyExists(f"folder {folder} already exists")
            validity = await self._next_uidvalidity(conn, account_id)
            for offset, level in enumerate(n for n in wanted if n not in existing):
                await conn.execute(insert(F).values(
                    account_id=account_id, name=level, uidvalidity=validity + offset,
                    uidnext=1, highestmodseq=1,
                    special_use=special_use if level == folder else None, subscribed=True,
                    message_count=0, unseen_count=0, total_size=0, created_at=int(time.time()),
                ))
            row = (await conn.execute(
                select(F).where(F.c.account_id == account_id, F.c.name == folder))).one()
        self.events.notify_account(account_id)
        return folder_info(row)

    async def rename(self, account_id: int, old: str, new: str) -> None:
        """Rename a folder and its children; renaming INBOX moves its mail instead."""
        source, target = normalise_folder(old), normalise_folder(new)
        check_not_reserved(target)
        if source == "INBOX":
            raise InvalidName("renaming INBOX is not supported; move its messages instead")
        async with self.db.write() as conn:
            rows = (await conn.execute(select(F.c.id, F.c.name).where(
                F.c.account_id == account_id,
                (F.c.name == source) | F.c.name.startswith(source + DELIMITER, autoescape=True),
            ))).all()
            if not any(r.name == source for r in rows):
                raise NotFound(f"folder {source} does not exist")
            clash = await conn.scalar(select(F.c.id).where(
                F.c.account_id == account_id, F.c.name == target))
            if clash is not None:
                raise AlreadyExists(f"folder {target} already exists")
            validity = await self._next_uidvalidity(conn, account_id)
            for r in rows:
                # RFC 9051 §6.3.6: a renamed mailbox keeps its UIDs only if UIDVALIDITY
                # changes or the name was unused; a fresh UIDVALIDITY is the safe choice.
                await conn.execute(update(F).where(F.c.id == r.id).values(
                    name=target + r.name[len(source):], uidvalidity=validity))
                validity += 1
        # Sessions that have a renamed folder selected must notice (new UIDVALIDITY).
        self.events.notify([r.id for r in rows])
        self.events.notify_account(account_id)

    async def delete(self, account_id: int, name: str) -> None:
        folder = normalise_folder(name)
        if folder == "INBOX":
            raise InvalidName("INBOX cannot be deleted")
        async with self.db.write() as conn:
            folder_id = await conn.scalar(select(F.c.id).where(
                F.c.account_id == account_id, F.c.name == folder))
            if folder_id is None:
                raise NotFound(f"folder {folder} does not exist")
            released = await release_folders(conn, [folder_id])
            await conn.execute(delete(F).where(F.c.id == folder_id))
        self.events.notify(folder_id)
        self.events.notify_account(account_id)
        await self._release(released)

    async def subscribe(self, account_id: int, name: str, subscribed: bool = True) -> None:
        folder = normalise_folder(name)
        async with self.db.write() as conn:
            result = await conn.execute(update(F).where(
                F.c.account_id == account_id, F.c.name == folder).values(subscribed=subscribed))
            if result.rowcount == 0:
                raise NotFound(f"folder {folder} does not exist")

    # \Recent (RFC 3501 §2.3.2), as in Dovecot: a message is recent to exactly one session,
    # the first to have the folder selected read-write after it arrived. ``recent_uid`` is
    # the highest UID such a session has claimed.
    async def recent_mark(self, folder_id: int) -> int:
        """The highest UID already claimed: messages above it are recent to nobody yet."""
        async with self.db.read() as conn:
            mark = await conn.scalar(select(F.c.recent_uid).where(F.c.id == folder_id))
        if mark is None:
            raise NotFound(f"folder #{folder_id} does not exist")
        return mark

    async def claim_recent(self, folder_id: int, up_to: int) -> int:
        """Claim the UIDs up to ``up_to`` for the calling session; returns the mark before,
        so the caller's recent messages are those with a UID above it and up to ``up_to``.

        Writes only when there is something to claim (a SELECT of an unchanged folder stays
        a read); the write re-reads the mark under the write lock, so two sessions never
        claim the same message.
        """
        mark = await self.recent_mark(folder_id)
        if mark >= up_to:
            return mark
        async with self.db.write() as conn:
            query = select(F.c.recent_uid).where(F.c.id == folder_id)
            if not self.db.is_sqlite:
                query = query.with_for_update()
            mark = await conn.scalar(query)
            if mark is None:
                raise NotFound(f"folder #{folder_id} does not exist")
            if mark < up_to:
                await conn.execute(update(F).where(F.c.id == folder_id)
                                   .values(recent_uid=up_to))
        return mark

    async def recent_count(self, folder_id: int) -> int:
        """Messages nobody has claimed as recent yet (STATUS RECENT)."""
        async with self.db.read() as conn:
            mark = select(F.c.recent_uid).where(F.c.id == folder_id).scalar_subquery()
            return await conn.scalar(select(func.count()).where(
                M.c.folder_id == folder_id, M.c.uid > mark)) or 0

    @staticmethod
    async def _next_uidvalidity(conn: AsyncConnection, account_id: int) -> int:
        """Never reuse a UIDVALIDITY for the account (RFC 9051 §2.3.1.1)."""
        highest = await conn.scalar(
            select(func.max(F.c.uidvalidity)).where(F.c.account_id == account_id))
        return max(int(time.time()), (highest or 0) + 1)
