"""Messages in folders: append, copy, move, flags, expunge, listing, change log.

Implementation notes (invariants a maintainer must keep):
- Durability: the blob is fsynced (``BlobStore.put_many``) before the transaction that
  inserts its rows begins; the caller is told "stored" only after that commit.
- Every change in a folder bumps the folder's HIGHESTMODSEQ in the same transaction and
  stamps the changed rows with it (RFC 7162 §3.1): CONDSTORE/QRESYNC, webmail refresh and
  IDLE all read one change log (``messages.modseq`` plus ``expunged`` tombstones).
- UIDs come from ``folders.uidnext`` updated inside the write transaction: strictly
  increasing, never reused (RFC 9051 §2.3.1.1), also with several writer processes.
- Quota is checked and charged by one conditional UPDATE in the same transaction: a message
  over quota rolls back everything, nothing half-written.
- Parsing happens before the transaction (it may run in another process for imports).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncConnection

from mailstore import flags as F_
from mailstore.blobs import BlobStore, digest
from mailstore.bulk import insert_rows
from mailstore.database import Database
from mailstore.errors import NotFound, QuotaExceeded
from mailstore.events import FolderEvents
from mailstore.mime import ParsedMessage, parse_message
from mailstore.models import Account, Content, Expunged, Folder, Message
from mailstore.sorting import to_display
from mailstore.values import (
    Appended,
    Changes,
    FetchRow,
    FlagChange,
    MessageSummary,
    NewMessage,
    SortFields,
    StoredMessage,
)

A = Account.__table__
BATCH = 5000  # ids per IN (...) list: under every backend's bound-parameter limit
# Called with content ids whose last reference went, after the transaction commits.
ReleaseHook = Callable[[list[int]], Awaitable[object]]

# How the webmail list may be sorted (``Messages.page``).
LIST_SORTS = ("date", "from", "subject", "size")
_CONTENT_SORTS = ("from", "subject")
ORDER_CACHE = 8  # whole-folder sort orders kept (a UID list: ~1 MB per 100,000 messages)

C = Content.__table__
E = Expunged.__table__
F = Folder.__table__
M = Message.__table__


@dataclass(frozen=True, slots=True)
class Prepared:
    """A message whose blob is durable and whose parse is done: ready for the rows."""

    sha256: str
    size: int
    parsed: ParsedMessage
    flags: int
    keywords: str
    internal_date: int
    raw: bytes


def prepare(message: NewMessage, parsed: ParsedMessage | None = None) -> Prepared:
    """Parse (unless given) and hash a message. Pure CPU: may run in a worker process."""
    mask, keywords = F_.split_flags(message.flags)
    return Prepared(
        sha256=digest(message.raw), size=len(message.raw),
        parsed=parsed if parsed is not None else parse_message(message.raw),
        flags=mask, keywords=F_.keywords_text(keywords),
        internal_date=message.internal_date if message.internal_date is not None
        else int(time.time()),
        raw=message.raw,
    )


def content_row(p: Prepared) -> dict[str, object]:
    parsed = p.parsed
    return dict(
        sha256=p.sha256, size=p.size, refcount=1, envelope=parsed.envelope,
        bodystructure=parsed.bodystructure, body=parsed.body,
        sections=json.dumps(parsed.sections, separators=(",", ":")),
        sent_date=int(parsed.date.timestamp()) if parsed.date else None,
        subject_base=parsed.subject_base, from_display=parsed.from_display,
        from_addr=parsed.from_addr, sort_from=parsed.sort_from, sort_to=parsed.sort_to,
        sort_cc=parsed.sort_cc, message_id=parsed.message_id, in_reply_to=parsed.in_reply_to,
        references=" ".join(parsed.references), preview=parsed.preview,
        attachments=json.dumps([
            dict(part=a.part, filename=a.filename, content_type=a.content_type, size=a.size,
                 content_id=a.content_id, inline=a.inline) for a in parsed.attachments
        ], separators=(",", ":")),
        has_attachments=any(not a.inline for a in parsed.attachments),
        parse_error=parsed.parse_error, header_text=_clean(parsed.header_text),
        search_from=_clean(parsed.search_from), search_to=_clean(parsed.search_to),
        search_cc=_clean(parsed.search_cc), search_bcc=_clean(parsed.search_bcc),
        subject=_clean(parsed.subject), search_body=_clean(parsed.search_body),
    )


def _clean(text: str) -> str:
    """PostgreSQL text cannot hold NUL or lone surrogates; SQLite takes them but FTS chokes."""
    if "\x00" in text:
        text = text.replace("\x00", " ")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


async def bump_modseq(conn: AsyncConnection, folder_id: int) -> int:
    result = await conn.execute(
        update(F).where(F.c.id == folder_id)
        .values(highestmodseq=F.c.highestmodseq + 1).returning(F.c.highestmodseq))
    modseq = result.scalar_one_or_none()
    if modseq is None:
        raise NotFound(f"folder #{folder_id} does not exist")
    return modseq


async def release_contents(conn: AsyncConnection, counts: dict[int, int]) -> list[int]:
    """Drop references to contents; returns the ids that reached refcount 0."""
    by_count: dict[int, list[int]] = {}
    for content_id, n in counts.items():
        by_count.setdefault(n, []).append(content_id)
    # One UPDATE per distinct count (almost always just n=1), not one per content: expunging
    # thousands of messages (POP3 QUIT, IMAP EXPUNGE) stays one short transaction.
    for n, ids in by_count.items():
        for start in range(0, len(ids), BATCH):
            await conn.execute(update(C).where(C.c.id.in_(ids[start:start + BATCH]))
                               .values(refcount=C.c.refcount - n))
    if not counts:
        return []
    rows = await conn.execute(
        select(C.c.id).where(C.c.id.in_(list(counts)), C.c.refcount <= 0))
    return [r.id for r in rows]


async def release_folders(
    conn: AsyncConnection, folder_ids: Sequence[int] | Select
) -> list[int]:
    """Drop every message of the given folders; returns content ids whose refcount fell."""
    rows = (await conn.execute(
        select(M.c.content_id, func.count().label("n"), A.c.id.label("account_id"),
               func.sum(M.c.size).label("size"))
        .select_from(M.join(F, F.c.id == M.c.folder_id).join(A, A.c.id == F.c.account_id))
        .where(M.c.folder_id.in_(folder_ids))
        .group_by(M.c.content_id, A.c.id)
    )).all()
    await conn.execute(delete(M).where(M.c.folder_id.in_(folder_ids)))
    for account_id, size in _sizes_by_account(rows).items():
        await conn.execute(
            update(A).where(A.c.id == account_id).values(used_bytes=A.c.used_bytes - size))
    return await release_contents(conn, {r.content_id: r.n for r in rows})


# The statements of every append, built once: building a statement and its cache key
# cost more than SQLite took to run it (a delivery batch: ~2.5 ms of Python, with the GIL).
_CHARGE = update(A).where(
    A.c.id == bindparam("account"),
    (A.c.quota_bytes.is_(None)) | (A.c.used_bytes + bindparam("add") <= A.c.quota_bytes),
).values(used_bytes=A.c.used_bytes + bindparam("add")).returning(A.c.used_bytes)


def charge_quota(conn: Connection, account_id: int, size: int) -> None:
    """Charges ``size`` bytes to the account, or raises QuotaExceeded (nothing charged)."""
    result = conn.execute(_CHARGE, {"account": account_id, "add": size})
    if result.first() is None:
        row = conn.execute(
            select(A.c.address, A.c.used_bytes, A.c.quota_bytes)
            .where(A.c.id == account_id)).one()
        raise QuotaExceeded(
            f"mailbox {row.address} is full: {row.used_bytes} of {row.quota_bytes} bytes "
            f"used, the message needs {size}"
        )


def _upsert_content() -> Any:
    """PostgreSQL: INSERT a content row, or add its refcount to the row with the same
    SHA-256. Built once: ``excluded`` rebuilds the whole column collection every time."""
    stmt = postgresql.insert(C)
    return stmt.on_conflict_do_update(
        index_elements=[C.c.sha256],
        set_={"refcount": C.c.refcount + stmt.excluded.refcount})


_UPSERT_CONTENT = _upsert_content()
# The same upsert, as the clause of SQLite's multi-row INSERT (``insert_rows``).
_TAKE_ONE_MORE = "ON CONFLICT (sha256) DO UPDATE SET refcount = refcount + excluded.refcount"
_CONTENT_IDS = select(C.c.sha256, C.c.id).where(
    C.c.sha256.in_(bindparam("shas", expanding=True)))
_TAKE_UIDS = (
    update(F).where(F.c.id == bindparam("folder"))
    .values(uidnext=F.c.uidnext + bindparam("count"),
            highestmodseq=F.c.highestmodseq + 1,
            message_count=F.c.message_count + bindparam("count"),
            unseen_count=F.c.unseen_count + bindparam("unseen"),
            total_size=F.c.total_size + bindparam("total"))
    .returning(F.c.uidnext, F.c.highestmodseq, F.c.uidvalidity, F.c.account_id))
_INSERT_MESSAGES = insert(M)


def _sizes_by_account(rows: list) -> dict[int, int]:
    sizes: dict[int, int] = {}
    for r in rows:
        sizes[r.account_id] = sizes.get(r.account_id, 0) + int(r.size or 0)
    return sizes


class Messages:
    def __init__(
        self, db: Database, blobs: BlobStore, events: FolderEvents | None = None
    ) -> None:
        self.db = db
        self.blobs = blobs
        # Fired after each commit so that IDLE sessions (any front door) wake up.
        self.events = events if events is not None else FolderEvents()
        # Whole-folder UID orders of the list sorts that have no index (see ``page``).
        self._orders: OrderedDict[tuple[object, ...], list[int]] = OrderedDict()

    # Writing ---------------------------------------------------------------
    async def append(
        self, folder_id: int, raw: bytes, flags: Iterable[str] = (),
        internal_date: int | None = None,
    ) -> Appended:
        """Store one message durably (IMAP APPEND, local delivery)."""
        prepared = prepare(NewMessage(raw, frozenset(flags), internal_date))
        return (await self.append_prepared(folder_id, [prepared]))[0]

    async def append_many(
        self, folder_id: int, messages: Sequence[NewMessage]
    ) -> list[Appended]:
        """Store several messages atomically, all or none (IMAP MULTIAPPEND, RFC 3502):
        one transaction, so the quota is checked for the total."""
        return await self.append_prepared(folder_id, [prepare(m) for m in messages])

    async def append_prepared(
        self, folder_id: int, items: Sequence[Prepared]
    ) -> list[Appended]:
        """Store several prepared messages in one transaction (bulk import, multi-append)."""
        if not items:
            return []
        self.blobs.put_many((p.sha256, p.raw) for p in items)
        appended = await self.db.write_sync(
            lambda conn: self.append_rows(conn, folder_id, items))
        self.events.notify(folder_id)
        return appended

    def append_rows(
        self, conn: Connection, folder_id: int, items: Sequence[Prepared],
        recheck_blobs: bool = True,
    ) -> list[Appended]:
        """The rows of an append, inside the caller's transaction (``Database.write_sync``);
        blobs must be durable. The caller notifies ``events`` once it has committed.

        ``recheck_blobs=False``: the caller's blobs are still being flushed, and it calls
        ``write_back_missing`` itself, in the same transaction, once that flush is over
        (before it, a blob in flight would look missing and be written twice)."""
        total = sum(p.size for p in items)
        unseen = sum(1 for p in items if not p.flags & F_.SEEN)
        folder = conn.execute(_TAKE_UIDS, {"folder": folder_id, "count": len(items),
                                           "unseen": unseen, "total": total}).first()
        if folder is None:
            raise NotFound(f"folder #{folder_id} does not exist")
        charge_quota(conn, folder.account_id, total)
        first_uid = folder.uidnext - len(items)
        content_ids = self._upsert_contents(conn, items)
        if recheck_blobs:
            self.write_back_missing(items)
        rows = [dict(
            folder_id=folder_id, uid=first_uid + offset, modseq=folder.highestmodseq,
            content_id=content_ids[p.sha256], flags=p.flags, keywords=p.keywords,
            internal_date=p.internal_date, size=p.size,
        ) for offset, p in enumerate(items)]
        insert_rows(conn, M, rows, _INSERT_MESSAGES)
        return [Appended(folder.uidvalidity, first_uid + i) for i in range(len(items))]

    def _upsert_contents(self, conn: Connection, items: Sequence[Prepared]) -> dict[str, int]:
        """Insert each distinct content once, or take one more reference to it."""
        unique: dict[str, dict[str, object]] = {}
        for p in items:
            row = unique.get(p.sha256)
            if row is None:
                unique[p.sha256] = content_row(p)
            else:
                row["refcount"] += 1
        # The upsert, then one SELECT for the ids: an upsert with ordered RETURNING ran as
        # one statement (one driver round trip) per row on SQLite.
        insert_rows(conn, C, list(unique.values()), _UPSERT_CONTENT, _TAKE_ONE_MORE)
        shas = list(unique)
        ids: dict[str, int] = {}
        for start in range(0, len(shas), BATCH):
            rows = conn.execute(_CONTENT_IDS, {"shas": shas[start:start + BATCH]})
            ids.update(rows.all())
        return ids

    def write_back_missing(self, items: Sequence[Prepared]) -> None:
        """Inside the transaction that took the references, after the blobs were flushed:
        the garbage collector may have removed the file of a content row at refcount 0
        just before we took it again; write it back while we hold the row."""
        missing = [(p.sha256, p.raw) for p in items if not self.blobs.exists(p.sha256)]
        if missing:
            self.blobs.put_many(missing)

    async def copy(
        self, source_id: int, uids: Iterable[int], target_id: int
    ) -> list[tuple[int, int]]:
        """Copy messages (same content, new UIDs); returns (source uid, new uid) pairs."""
        async with self.db.write() as conn:
            pairs = await self._copy(conn, source_id, sorted(set(uids)), target_id)
        if pairs:
            self.events.notify(target_id)
        return pairs

    async def _copy(
        self, conn: AsyncConnection, source_id: int, uids: list[int], target_id: int
    ) -> list[tuple[int, int]]:
        rows = (await conn.execute(
            select(M).where(M.c.folder_id == source_id, M.c.uid.in_(uids)).order_by(M.c.uid)
        )).all() if uids else []
        if not rows:
            return []
        total = sum(r.size for r in rows)
        unseen = sum(1 for r in rows if not r.flags & F_.SEEN)
        target = (await conn.execute(
            update(F).where(F.c.id == target_id)
            .values(uidnext=F.c.uidnext + len(rows), highestmodseq=F.c.highestmodseq + 1,
                    message_count=F.c.message_count + len(rows),
                    unseen_count=F.c.unseen_count + unseen, total_size=F.c.total_size + total)
            .returning(F.c.uidnext, F.c.highestmodseq, F.c.account_id))).first()
        if target is None:
            raise NotFound(f"folder #{target_id} does not exist")
        await conn.run_sync(charge_quota, target.account_id, total)
        first = target.uidnext - len(rows)
        counts: dict[int, int] = {}
        for r in rows:
            counts[r.content_id] = counts.get(r.content_id, 0) + 1
        for content_id, n in counts.items():
            await conn.execute(update(C).where(C.c.id == content_id)
                               .values(refcount=C.c.refcount + n))
        await conn.execute(insert(M), [dict(
            folder_id=target_id, uid=first + i, modseq=target.highestmodseq,
            content_id=r.content_id, flags=r.flags, keywords=r.keywords,
            internal_date=r.internal_date, size=r.size) for i, r in enumerate(rows)])
        return [(r.uid, first + i) for i, r in enumerate(rows)]

    async def move(
        self, source_id: int, uids: Iterable[int], target_id: int
    ) -> list[tuple[int, int]]:
        """RFC 6851 MOVE: copy and expunge in one transaction."""
        wanted = sorted(set(uids))
        async with self.db.write() as conn:
            pairs = await self._copy(conn, source_id, wanted, target_id)
            _, released = await self._expunge(conn, source_id, [s for s, _ in pairs])
        if pairs:
            self.events.notify((source_id, target_id))
        await self.collect_garbage(released)
        return pairs

    async def store_flags(
        self, folder_id: int, uids: Iterable[int], flags: Iterable[str], mode: str = "add",
        unchanged_since: int | None = None,
    ) -> list[FlagChange]:
        """Add, remove or replace flags (RFC 9051 §6.4.6); returns the messages that changed.

        ``unchanged_since`` is RFC 7162's UNCHANGEDSINCE: rows modified later are left alone.
        """
        mask, keywords = F_.split_flags(flags)
        wanted = sorted(set(uids))
        async with self.db.write() as conn:
            query = select(M.c.id, M.c.uid, M.c.flags, M.c.keywords, M.c.modseq).where(
                M.c.folder_id == folder_id, M.c.uid.in_(wanted))
            if unchanged_since is not None:
                query = query.where(M.c.modseq <= unchanged_since)
            rows = (await conn.execute(query)).all()
            updates = []
            for r in rows:
                new_flags, new_words = _apply(r.flags, r.keywords, mask, keywords, mode)
                if (new_flags, new_words) != (r.flags, r.keywords):
                    updates.append((r, new_flags, new_words))
            if not updates:
                return []
            modseq = await bump_modseq(conn, folder_id)
            seen_delta = 0
            # One UPDATE per distinct result (usually one: "+FLAGS \Seen" on many rows).
            groups: dict[tuple[int, str], list[int]] = {}
            for r, new_flags, new_words in updates:
                groups.setdefault((new_flags, new_words), []).append(r.id)
                seen_delta += (new_flags & F_.SEEN) - (r.flags & F_.SEEN)
            for (new_flags, new_words), ids in groups.items():
                for start in range(0, len(ids), BATCH):
                    await conn.execute(update(M).where(M.c.id.in_(ids[start:start + BATCH]))
                                       .values(flags=new_flags, keywords=new_words,
                                               modseq=modseq))
            if seen_delta:
                await conn.execute(update(F).where(F.c.id == folder_id)
                                   .values(unseen_count=F.c.unseen_count - seen_delta))
        self.events.notify(folder_id)
        return [FlagChange(r.uid, f, w, modseq) for r, f, w in updates]

    async def expunge(
        self, folder_id: int, uids: Iterable[int] | None = None
    ) -> list[int]:
        """Remove \\Deleted messages (only those in ``uids`` if given: UID EXPUNGE)."""
        async with self.db.write() as conn:
            query = select(M.c.uid).where(
                M.c.folder_id == folder_id, M.c.flags.op("&")(F_.DELETED) != 0)
            if uids is not None:
                query = query.where(M.c.uid.in_(sorted(set(uids))))
            targets = [r.uid for r in await conn.execute(query)]
            removed, released = await self._expunge(conn, folder_id, targets)
        if removed:
            self.events.notify(folder_id)
        await self.collect_garbage(released)
        return removed

    async def delete(self, folder_id: int, uids: Iterable[int]) -> list[int]:
        """Remove messages now, whatever their flags (webmail "delete forever")."""
        removed, released = await self.delete_rows(folder_id, uids)
        await self.collect_garbage(released)
        return removed

    async def delete_rows(
        self, folder_id: int, uids: Iterable[int]
    ) -> tuple[list[int], list[int]]:
        """``delete`` in one transaction, without the blob clean-up: (removed UIDs, content
        ids to pass to ``collect_garbage``), so a caller (POP3 QUIT) can answer its client
        once the removal is committed, before thousands of files are unlinked."""
        async with self.db.write() as conn:
            removed, released = await self._expunge(conn, folder_id, sorted(set(uids)))
        if removed:
            self.events.notify(folder_id)
        return removed, released

    async def _expunge(
        self, conn: AsyncConnection, folder_id: int, uids: list[int]
    ) -> tuple[list[int], list[int]]:
        if not uids:
            return [], []
        rows = (await conn.execute(
            select(M.c.id, M.c.uid, M.c.content_id, M.c.size, M.c.flags)
            .where(M.c.folder_id == folder_id, M.c.uid.in_(uids)).order_by(M.c.uid))).all()
        if not rows:
            return [], []
        modseq = await bump_modseq(conn, folder_id)
        await conn.execute(delete(M).where(M.c.id.in_([r.id for r in rows])))
        dialect_insert = sqlite.insert if self.db.is_sqlite else postgresql.insert
        await conn.execute(
            dialect_insert(E).on_conflict_do_update(
                index_elements=[E.c.folder_id, E.c.uid], set_={"modseq": modseq}),
            [dict(folder_id=folder_id, uid=r.uid, modseq=modseq) for r in rows])
        size = sum(r.size for r in rows)
        unseen = sum(1 for r in rows if not r.flags & F_.SEEN)
        folder = (await conn.execute(
            update(F).where(F.c.id == folder_id)
            .values(message_count=F.c.message_count - len(rows),
                    unseen_count=F.c.unseen_count - unseen, total_size=F.c.total_size - size)
            .returning(F.c.account_id))).one()
        await conn.execute(update(A).where(A.c.id == folder.account_id)
                           .values(used_bytes=A.c.used_bytes - size))
        counts: dict[int, int] = {}
        for r in rows:
            counts[r.content_id] = counts.get(r.content_id, 0) + 1
        released = await release_contents(conn, counts)
        return [r.uid for r in rows], released

    async def collect_garbage(self, content_ids: Iterable[int]) -> int:
        """Remove contents nobody references any more, and their blob files."""
        ids = list(content_ids)
        if not ids:
            return 0
        async with self.db.write() as conn:
            query = select(C.c.id, C.c.sha256).where(C.c.id.in_(ids), C.c.refcount <= 0)
            if not self.db.is_sqlite:
                query = query.with_for_update()
            rows = (await conn.execute(query)).all()
            if rows:
                await conn.execute(delete(C).where(C.c.id.in_([r.id for r in rows])))
                shas = [r.sha256 for r in rows]
                if len(shas) > 16:
                    # Thousands of unlinks take seconds: not on the event loop. Still inside
                    # the transaction, so the rows stay held while their files go.
                    await asyncio.to_thread(self._delete_blobs, shas)
                else:
                    self._delete_blobs(shas)
        return len(rows)

    def _delete_blobs(self, shas: list[str]) -> None:
        for sha in shas:
            self.blobs.delete(sha)

    # Reading ---------------------------------------------------------------
    async def page(
        self, folder_id: int, offset: int = 0, limit: int = 50, *, sort: str = "date",
        descending: bool = True,
    ) -> list[MessageSummary]:
        """A page of the message list, from the parsed cache only.

        ``sort`` is one of ``LIST_SORTS`` (date: INTERNALDATE, from: sender's display name,
        subject: base subject, size); ties go by UID in the same direction. Date pages
        walk the (folder, date, uid) index alone; size pages sort the messages rows only.
        Sender and subject live in ``contents``: sorting a big folder by them reads every
        row once, so that order is kept (``ORDER_CACHE`` folders) until the folder changes.
        """
        if sort not in LIST_SORTS:
            raise ValueError(f"unknown sort {sort!r}; use one of {', '.join(LIST_SORTS)}")
        if sort in _CONTENT_SORTS:
            order = await self._content_order(folder_id, sort)
            if descending:
                order = order[::-1]
            window = order[offset:offset + limit]
            rank = {uid: i for i, uid in enumerate(window)}
            rows = await self._summaries(
                [M.c.folder_id == folder_id, M.c.uid.in_(window)]) if window else []
            return sorted(rows, key=lambda r: rank[r.uid])
        keys = [M.c.internal_date if sort == "date" else M.c.size, M.c.uid]
        order_by = [k.desc() for k in keys] if descending else [k.asc() for k in keys]
        # Page over the index alone, then join: with OFFSET on the join, SQLite would read
        # every skipped row's contents.
        ids = (select(M.c.id).where(M.c.folder_id == folder_id).order_by(*order_by)
               .offset(offset).limit(limit))
        return await self._summaries([M.c.id.in_(ids)], order_by)

    async def _summaries(self, where: Sequence[ColumnElement[bool]],
                         order_by: Sequence[ColumnElement[object]] = ()
                         ) -> list[MessageSummary]:
        query = (
            select(M.c.uid, M.c.modseq, M.c.flags, M.c.keywords, M.c.internal_date, M.c.size,
                   C.c.sent_date, C.c.from_display, C.c.from_addr, C.c.subject, C.c.preview,
                   C.c.has_attachments)
            .select_from(M.join(C, C.c.id == M.c.content_id))
            .where(*where).order_by(*order_by)
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [MessageSummary(
            uid=r.uid, modseq=r.modseq, flags=r.flags, keywords=r.keywords,
            internal_date=r.internal_date, size=r.size, sent_date=r.sent_date,
            from_display=r.from_display, from_addr=r.from_addr, subject=r.subject,
            preview=r.preview, has_attachments=bool(r.has_attachments)) for r in rows]

    async def _content_order(self, folder_id: int, sort: str) -> list[int]:
        """Every UID of the folder in ascending ``sort`` order, cached per folder state.

        The key holds the folder's id, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ and count: every
        change bumps HIGHESTMODSEQ, so a cached order is never stale, on any node.
        """
        column = func.lower(C.c.from_display if sort == "from" else C.c.subject_base)
        async with self.db.read() as conn:
            state = (await conn.execute(
                select(F.c.uidvalidity, F.c.uidnext, F.c.highestmodseq, F.c.message_count)
                .where(F.c.id == folder_id))).first()
            if state is None:
                raise NotFound(f"folder #{folder_id} does not exist")
            key = (folder_id, sort, *state)
            order = self._orders.get(key)
            if order is not None:
                self._orders.move_to_end(key)
                return order
            order = list((await conn.execute(
                select(M.c.uid).select_from(M.join(C, C.c.id == M.c.content_id))
                .where(M.c.folder_id == folder_id).order_by(column, M.c.uid))).scalars())
        self._orders[key] = order
        while len(self._orders) > ORDER_CACHE:
            self._orders.popitem(last=False)
        return order

    async def get(self, folder_id: int, uid: int) -> StoredMessage:
        query = (
            select(M.c.folder_id, M.c.uid, M.c.modseq, M.c.flags, M.c.keywords,
                   M.c.internal_date, M.c.size, C.c.sha256, C.c.envelope, C.c.bodystructure,
                   C.c.body, C.c.sections, C.c.sent_date, C.c.subject, C.c.from_display,
                   C.c.from_addr, C.c.search_to, C.c.search_cc, C.c.attachments,
                   C.c.parse_error)
            .select_from(M.join(C, C.c.id == M.c.content_id))
            .where(M.c.folder_id == folder_id, M.c.uid == uid)
        )
        async with self.db.read() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound(f"message {uid} does not exist in this folder")
        return StoredMessage(**row._mapping)

    async def blob_refs(self, folder_id: int) -> list[tuple[int, str, int, str, int]]:
        """(uid, sha256, flags, keywords, internal_date) of every message, by UID."""
        query = (
            select(M.c.uid, C.c.sha256, M.c.flags, M.c.keywords, M.c.internal_date)
            .select_from(M.join(C, C.c.id == M.c.content_id))
            .where(M.c.folder_id == folder_id).order_by(M.c.uid)
        )
        async with self.db.read() as conn:
            return [tuple(row) for row in await conn.execute(query)]

    async def fetch_rows(
        self, folder_id: int, uids: Sequence[int], contents: bool = False,
        batch: int = 2000,
    ) -> AsyncIterator[list[FetchRow]]:
        """Rows for IMAP FETCH, by ascending UID, in batches (missing UIDs are skipped).

        Each batch is one query over a UID range of the (folder, uid) index; with
        ``contents`` the parsed cache (ENVELOPE, BODYSTRUCTURE, section map) comes along,
        so FETCH never reads or parses a blob for those items.
        """
        wanted = sorted(set(uids))
        columns = [M.c.uid, M.c.modseq, M.c.flags, M.c.keywords, M.c.internal_date, M.c.size]
        if contents:
            columns += [C.c.sha256, C.c.envelope, C.c.bodystructure, C.c.body, C.c.sections]
        for start in range(0, len(wanted), batch):
            chunk = wanted[start:start + batch]
            query = select(*columns)
            if contents:
                query = query.select_from(M.join(C, C.c.id == M.c.content_id))
            query = query.where(M.c.folder_id == folder_id,
                                M.c.uid.between(chunk[0], chunk[-1])).order_by(M.c.uid)
            async with self.db.read() as conn:
                result = await conn.execute(query)
                rows = result.all()
            keep = set(chunk) if len(chunk) != chunk[-1] - chunk[0] + 1 else None
            out = []
            for r in rows:
                if keep is not None and r[0] not in keep:
                    continue
                if contents:
                    out.append(FetchRow(*r))
                else:
                    out.append(FetchRow(*r, "", "", "", "", ""))
            yield out

    async def flag_rows(
        self, folder_id: int, uids: Sequence[int], batch: int = 10000,
    ) -> AsyncIterator[list[tuple[int, int, int, str]]]:
        """(uid, modseq, flags, keywords) of the given UIDs by ascending UID, in batches
        (missing UIDs are skipped): FETCH of UID, FLAGS and MODSEQ only.

        Plain tuples of four columns, no row objects: a whole-folder flags fetch of 100,000
        messages must stay well under a second.
        """
        wanted = sorted(set(uids))
        columns = (M.c.uid, M.c.modseq, M.c.flags, M.c.keywords)
        for start in range(0, len(wanted), batch):
            chunk = wanted[start:start + batch]
            query = (select(*columns)
                     .where(M.c.folder_id == folder_id, M.c.uid.between(chunk[0], chunk[-1]))
                     .order_by(M.c.uid))
            async with self.db.read() as conn:
                rows = [tuple(r) for r in await conn.execute(query)]
            if len(chunk) != chunk[-1] - chunk[0] + 1:
                keep = set(chunk)
                rows = [r for r in rows if r[0] in keep]
            yield rows

    async def sort_fields(
        self, folder_id: int, uids: Sequence[int], batch: int = 2000,
    ) -> list[SortFields]:
        """The stored sort and thread fields (RFC 5256) of the given UIDs, ascending by UID.

        Missing UIDs are skipped. Everything comes from ``contents`` as parsed at delivery:
        SORT and THREAD never read or parse a blob.
        """
        wanted = sorted(set(uids))
        columns = [M.c.uid, M.c.internal_date, M.c.size, C.c.sent_date, C.c.subject,
                   C.c.subject_base, C.c.sort_from, C.c.sort_to, C.c.sort_cc,
                   C.c.from_display, C.c.message_id, C.c.in_reply_to, C.c.references]
        out: list[SortFields] = []
        for start in range(0, len(wanted), batch):
            chunk = wanted[start:start + batch]
            query = (select(*columns).select_from(M.join(C, C.c.id == M.c.content_id))
                     .where(M.c.folder_id == folder_id,
                            M.c.uid.between(chunk[0], chunk[-1])).order_by(M.c.uid))
            async with self.db.read() as conn:
                rows = (await conn.execute(query)).all()
            keep = set(chunk) if len(chunk) != chunk[-1] - chunk[0] + 1 else None
            out.extend(
                SortFields(*r[:-1], tuple(r[-1].split()) if r[-1] else ())
                for r in rows if keep is None or r[0] in keep)
        return out

    async def to_displays(
        self, folder_id: int, uids: Sequence[int], batch: int = 2000,
    ) -> dict[int, str]:
        """RFC 5957 DISPLAYTO of the given UIDs (missing UIDs are skipped), read from the
        ENVELOPE cached at delivery: no blob is read, and no column is kept for it."""
        wanted = sorted(set(uids))
        out: dict[int, str] = {}
        for start in range(0, len(wanted), batch):
            chunk = wanted[start:start + batch]
            query = (select(M.c.uid, C.c.envelope)
                     .select_from(M.join(C, C.c.id == M.c.content_id))
                     .where(M.c.folder_id == folder_id, M.c.uid.between(chunk[0], chunk[-1])))
            async with self.db.read() as conn:
                rows = (await conn.execute(query)).all()
            keep = set(chunk)
            out.update((uid, to_display(envelope)) for uid, envelope in rows if uid in keep)
        return out

    def read_raw(self, sha256: str) -> bytes:
        return self.blobs.get(sha256)

    def open_raw(self, sha256: str) -> BinaryIO:
        """The blob as a file to read in chunks (POP3 RETR streams big messages)."""
        return self.blobs.path(sha256).open("rb")

    async def sizes_and_blobs(self, folder_id: int) -> list[tuple[int, int, str]]:
        """(uid, size, sha256) of every message, by UID: a POP3 maildrop listing, in one
        query of the (folder, uid) index joined to the contents, whatever the flags."""
        query = (
            select(M.c.uid, M.c.size, C.c.sha256)
            .select_from(M.join(C, C.c.id == M.c.content_id))
            .where(M.c.folder_id == folder_id).order_by(M.c.uid)
        )
        async with self.db.read() as conn:
            return [(r.uid, r.size, r.sha256) for r in await conn.execute(query)]

    async def uids(self, folder_id: int) -> list[int]:
        """Every UID of the folder, ascending (IMAP SELECT's sequence-number map).

        Aggregated into one value in the database: one row instead of one per message
        makes this 4x faster on a 100,000-message folder (SELECT must stay under 100 ms).
        """
        async with self.db.read() as conn:
            if self.db.is_sqlite:
                inner = select(M.c.uid).where(M.c.folder_id == folder_id).order_by(
                    M.c.uid).subquery()
                text = await conn.scalar(select(func.group_concat(inner.c.uid)))
                uids = [int(u) for u in text.split(",")] if text else []
            else:
                uids = list(await conn.scalar(
                    select(func.array_agg(aggregate_order_by(M.c.uid, M.c.uid)))
                    .where(M.c.folder_id == folder_id)) or [])
        uids.sort()  # already in order; the sort only guards the aggregate's order (O(n))
        return uids

    async def changes_since(self, folder_id: int, modseq: int) -> Changes:
        """Messages changed or added, and UIDs expunged, after ``modseq`` (RFC 7162)."""
        async with self.db.read() as conn:
            highest = await conn.scalar(
                select(F.c.highestmodseq).where(F.c.id == folder_id))
            if highest is None:
                raise NotFound(f"folder #{folder_id} does not exist")
            changed = (await conn.execute(
                select(M.c.uid, M.c.flags, M.c.keywords, M.c.modseq)
                .where(M.c.folder_id == folder_id, M.c.modseq > modseq).order_by(M.c.uid)
            )).all()
            gone = (await conn.execute(
                select(E.c.uid).where(and_(E.c.folder_id == folder_id, E.c.modseq > modseq))
                .order_by(E.c.uid))).all()
        return Changes(
            highestmodseq=highest,
            changed=[FlagChange(r.uid, r.flags, r.keywords, r.modseq) for r in changed],
            expunged=[r.uid for r in gone],
        )

    async def deleted_usage(self, folder_id: int) -> tuple[int, int]:
        """(messages, octets) flagged \\Deleted: what an EXPUNGE would free (STATUS DELETED,
        RFC 9051 §6.3.11, and DELETED-STORAGE, RFC 9208 §4.3)."""
        query = select(func.count(), func.coalesce(func.sum(M.c.size), 0)).where(
            M.c.folder_id == folder_id, M.c.flags.op("&")(F_.DELETED) != 0)
        async with self.db.read() as conn:
            count, size = (await conn.execute(query)).one()
        return int(count), int(size)

    async def first_unseen(self, folder_id: int) -> int | None:
        """The lowest UID without \\Seen (IMAP4rev1 SELECT's UNSEEN), or None."""
        async with self.db.read() as conn:
            return await conn.scalar(select(func.min(M.c.uid)).where(
                M.c.folder_id == folder_id, M.c.flags.op("&")(F_.SEEN) == 0))

    async def count(self, folder_id: int) -> int:
        async with self.db.read() as conn:
            return await conn.scalar(
                select(func.count()).where(M.c.folder_id == folder_id)) or 0


def _apply(
    current: int, words: str, mask: int, keywords: frozenset[str], mode: str
) -> tuple[int, str]:
    present = set(words.split())
    if mode == "add":
        return current | mask, F_.keywords_text(present | keywords)
    if mode == "remove":
        return current & ~mask, F_.keywords_text(present - keywords)
    if mode == "replace":
        return mask, F_.keywords_text(keywords)
    raise ValueError(f"unknown flag mode {mode!r}")
