"""Search over the store's index, with IMAP SEARCH semantics.

Implementation notes (see shared/search-bench.md for the measurements behind them):
- Text criteria are case-insensitive substring matches (RFC 9051 §6.4.4).
- SQLite: FTS5 trigram, queried with MATCH on a double-quoted phrase ("" escapes "). Never
  LIKE with ESCAPE on the FTS table: it silently skips the index. Needles shorter than 3
  characters cannot use trigrams: they fall back to ``tidings_contains()``, a Python
  function registered on every connection, over the folder's rows.
- PostgreSQL: ILIKE '%needle%' with pg_trgm GIN indexes; searches run with a statement
  timeout and are always scoped to one folder or one account's folders. The index only
  finds candidates: each is rechecked against its detoasted text, and ILIKE lowercases the
  whole text first (about two thirds of a recheck). An ASCII needle is therefore tested as
  a case-sensitive regex of character classes (``the`` -> ``[tT][hH][eE]``), which stops
  at the first occurrence and lowercases nothing (IMAP BODY ``the``, 100k messages: 3.5 s
  -> ~1.5 s). The classes hold the only non-ASCII characters whose lowercase begins with
  an ASCII letter (U+212A, U+0130; see ``regex_literal``), so the regex finds what the
  brute-force scan finds. The GIN index answers the regex as it does ILIKE.
- A webmail page of a common word is found by walking the folder newest first; on
  PostgreSQL the walk is bounded to the newest ``WINDOW`` messages and falls back to the
  index plan when the window holds too few matches (see ``common_words``).
- A criterion tree (``And``/``Or``/``Not`` of leaves) compiles to one SQL WHERE clause over
  ``messages`` joined to ``contents``; flags, dates, sizes and UIDs combine freely with text.
- Results come back as one aggregated value (``group_concat`` on SQLite, ``array_agg`` on
  PostgreSQL), not one row per hit: a common word hits most of a 100k mailbox, and building
  a result row per hit cost more than the search (SQLite, 96k hits: 160 ms as rows, 45 ms
  as one string). The UIDs are sorted here, so SQLite needs no sort step either.
- SQLite, a folder's UIDs or count: when FTS5 can answer the text part (``_driver``), the
  FTS5 table is joined as the outer loop instead of tested with ``content_id IN (...)``:
  the IN list is an ephemeral index built from every candidate first (96k hits: 30 -> 24
  ms of SQL).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    column,
    false,
    literal,
    literal_column,
    not_,
    or_,
    select,
    table,
    text,
    true,
)
from sqlalchemy import func as sqlfunc
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import TextClause

from mailstore import flags as F_
from mailstore.database import Database
from mailstore.models import Content, Folder, Message

C = Content.__table__
F = Folder.__table__
M = Message.__table__
FTS = table("contents_fts", column("rowid"))

TEXT_FIELDS: dict[str, tuple[str, ...]] = {
    "from": ("search_from",),
    "to": ("search_to",),
    "cc": ("search_cc",),
    "bcc": ("search_bcc",),
    "subject": ("subject",),
    "body": ("search_body",),
    "text": ("search_from", "search_to", "search_cc", "search_bcc", "subject", "search_body"),
}


@dataclass(frozen=True, slots=True)
class Text:
    """``field`` is one of from, to, cc, bcc, subject, body, text (any of them)."""

    field: str
    needle: str


@dataclass(frozen=True, slots=True)
class Header:
    """RFC 9051 HEADER: the named field contains ``needle`` (empty needle: field present)."""

    name: str
    needle: str


@dataclass(frozen=True, slots=True)
class Flag:
    """A system flag (``\\Seen``…) or keyword, present or absent."""

    name: str
    present: bool = True


@dataclass(frozen=True, slots=True)
class Date:
    """``which``: internal (INTERNALDATE) or sent (Date header); ``op``: before, on, since."""

    which: str
    op: str
    day: date


@dataclass(frozen=True, slots=True)
class Size:
    op: str  # larger | smaller
    octets: int


@dataclass(frozen=True, slots=True)
class Uids:
    """UID ranges, inclusive: ((1, 5), (9, 9))."""

    ranges: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class ModSeq:
    """RFC 7162 MODSEQ: messages changed at or after ``modseq``."""

    modseq: int


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Criterion, ...]


@dataclass(frozen=True, slots=True)
class Or:
    left: Criterion
    right: Criterion


@dataclass(frozen=True, slots=True)
class Not:
    item: Criterion


Criterion = Text | Header | Flag | Date | Size | Uids | ModSeq | And | Or | Not


@dataclass(frozen=True, slots=True)
class Hit:
    folder_id: int
    uid: int


def fts_phrase(column: str, needle: str) -> str:
    """An FTS5 query matching ``needle`` as a substring of one column."""
    return f"{column} : {_fts_string(needle)}"


def _fts_string(needle: str) -> str:
    return '"' + needle.replace('"', '""') + '"'


def like_pattern(needle: str) -> str:
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# Non-ASCII characters whose lowercase starts with an ASCII letter: U+212A KELVIN SIGN is
# "k"; U+0130 is "i" + U+0307 (Python's full mapping; PostgreSQL's lower() drops the dot),
# so it can only stand for a needle's last "i".
_KELVIN = "\u212a"
_DOTTED_I = "\u0130"


def regex_literal(needle: str) -> str:
    """A case-sensitive PostgreSQL ARE matching what ``needle.lower() in text.lower()``
    matches, for an ASCII needle.

    A backslash before a non-alphanumeric character always means that character; a letter
    becomes the class of every character whose lowercase is that letter.
    """
    out = []
    for n, c in enumerate(needle):
        if c.isascii() and c.isalpha():
            extra = _KELVIN if c in "kK" else \
                _DOTTED_I if c in "iI" and n == len(needle) - 1 else ""
            out.append(f"[{c.lower()}{c.upper()}{extra}]")
        elif c.isalnum():
            out.append(c)
        else:
            out.append("\\" + c)
    return "".join(out)


def _day_start(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def _fts_leaf(node: Criterion) -> bool:
    return isinstance(node, Text) and len(node.needle) >= 3


def _fts_query(field: str, needle: str) -> str:
    columns = TEXT_FIELDS[field]
    if len(columns) == 1:
        return fts_phrase(columns[0], needle)
    # One phrase under a column filter finds what an OR of per-column phrases finds, in one
    # pass over the index: TEXT "thanks" on 100k messages, 32 ms -> 10 ms.
    return "{" + " ".join(columns) + "} : " + _fts_string(needle)


def _fts_match(query: str) -> ColumnElement[bool]:
    # An anonymous bind parameter: two text criteria in one query (OR, AND) must not share
    # one named parameter, or both would match the last needle.
    return M.c.content_id.in_(
        select(text("rowid")).select_from(text("contents_fts"))
        .where(literal_column("contents_fts").op("MATCH")(literal(query)))
    )


def _fts_all(leaves: Sequence[Text]) -> str:
    """One FTS5 query that every leaf must match (FTS5 intersects the doclists itself)."""
    return " AND ".join(f"({_fts_query(i.field, i.needle)})" for i in leaves)


def _text_leaves(criterion: Criterion) -> list[Text]:
    """The text leaves of 3+ characters that every match must satisfy: ``criterion``
    itself, or the items of a top-level AND (none under OR/NOT: those do not narrow)."""
    if _fts_leaf(criterion):
        return [criterion]  # type: ignore[list-item]
    if isinstance(criterion, And):
        return [i for i in criterion.items if _fts_leaf(i)]  # type: ignore[misc]
    return []


def _driver(criterion: Criterion) -> tuple[str, Criterion | None] | None:
    """SQLite: the FTS5 query that every match must satisfy, and the rest of ``criterion``
    (None: nothing else); None if FTS5 cannot narrow the search."""
    leaves = _text_leaves(criterion)
    if not leaves:
        return None
    rest = tuple(i for i in criterion.items if i not in leaves) \
        if isinstance(criterion, And) else ()
    return _fts_all(leaves), (And(rest) if rest else None)


# Below this many FTS5 candidates a page is cheapest found from the candidates.
FEW = 200


async def few_fts_candidates(conn: AsyncConnection, criterion: Criterion,
                             few: int = FEW) -> bool:
    """Whether FTS5 alone narrows ``criterion`` to under ``few`` contents (SQLite only).

    Few: a page is cheapest found from the candidates. Many (a common word): cheapest by
    walking the folder newest first until the page is full. The probe reads at most
    ``few`` rowids, so it costs little whatever the answer.
    """
    leaves = _text_leaves(criterion)
    if not leaves:
        return False
    match = _fts_all(leaves)
    probe = text("SELECT count(*) FROM (SELECT rowid FROM contents_fts "
                 "WHERE contents_fts MATCH :q LIMIT :n)").bindparams(q=match, n=few)
    return int((await conn.execute(probe)).scalar() or 0) < few


# PostgreSQL: at least this many trigram matches (over the whole store) make a word common.
FEW_PG = 50
# PostgreSQL: how many of the newest messages a common word's page walk may test.
WINDOW = 2000


async def common_words(conn: AsyncConnection, criterion: Criterion) -> bool:
    """Whether ``criterion``'s text needs at least ``FEW_PG`` matches (PostgreSQL only).

    The probe reads the GIN bitmap and rechecks at most ``FEW_PG`` rows, so it costs a few
    ms; a rare needle then takes the index plan, a common one the walk newest first
    (``the``, 100k messages: 3.5 s with the index, under 20 ms with the walk). Must run in
    its own transaction: it forbids sequential scans there, as the LIMIT would tempt the
    planner into a scan that never ends for a needle rarer than it estimates.
    """
    leaves = _text_leaves(criterion)
    if not leaves:
        return False
    compiler = Compiler("postgresql")
    await conn.execute(text("SET LOCAL enable_seqscan = off"))
    probe = select(literal(1)).select_from(C).where(
        *(compiler.compile(i) for i in leaves)).limit(FEW_PG).subquery()
    found = (await conn.execute(select(sqlfunc.count()).select_from(probe))).scalar()
    return int(found or 0) >= FEW_PG


def window_start(folders: Select, size: int) -> Select:
    """The latest of the ``folders``' ``size``-th newest INTERNALDATEs (none if every folder
    holds fewer): messages from then on make a walk's window.

    Per folder, so each is one short backward scan of messages(folder_id, internal_date);
    the ``size``-th newest of all the folders together costs a sort of all their messages.
    """
    nth = (select(M.c.internal_date.label("day")).where(M.c.folder_id == F.c.id)
           .order_by(M.c.internal_date.desc()).offset(size - 1).limit(1)).lateral("nth")
    return select(sqlfunc.max(nth.c.day)).select_from(F.join(nth, true())).where(
        F.c.id.in_(folders))


class Compiler:
    """Turns a criterion tree into a SQL condition for one dialect."""

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"

    def compile(self, node: Criterion) -> ColumnElement[bool]:
        """The condition for ``node``; see ``needs_contents`` and ``uses_fts``."""
        match node:
            case And(items):
                return self._and(items)
            case Or(left, right):
                return or_(self.compile(left), self.compile(right))
            case Not(item):
                return not_(self.compile(item))
            case Text(field, needle):
                return self._text(field, needle)
            case Header(name, needle):
                return self._header(name, needle)
            case Flag(name, present):
                return self._flag(name, present)
            case Date(which, op, day):
                return self._date(which, op, day)
            case Size(op, octets):
                return M.c.size > octets if op == "larger" else M.c.size < octets
            case Uids(ranges):
                return or_(false(), *(M.c.uid.between(lo, hi) for lo, hi in ranges))
            case ModSeq(modseq):
                return M.c.modseq >= modseq
        raise TypeError(f"not a search criterion: {node!r}")

    def _and(self, items: tuple[Criterion, ...]) -> ColumnElement[bool]:
        # SQLite: text criteria that FTS5 can answer become one MATCH (``a AND b``), so FTS5
        # intersects its own doclists instead of SQLite intersecting two rowid lists.
        fts = [i for i in items if self.sqlite and _fts_leaf(i)] if len(items) > 1 else []
        rest = [self.compile(i) for i in items if i not in fts] if len(fts) > 1 else \
            [self.compile(i) for i in items]
        if len(fts) > 1:
            rest.insert(0, _fts_match(_fts_all(fts)))
        return and_(true(), *rest)

    def _text(self, field: str, needle: str) -> ColumnElement[bool]:
        # Substring tests are on ``contents`` text, except FTS5 MATCH, which is on rowids.
        columns = TEXT_FIELDS[field]
        if not needle:
            return true()
        if self.sqlite:
            if len(needle) >= 3:
                return _fts_match(_fts_query(field, needle))
            return or_(*(sqlfunc.tidings_contains(C.c[col], needle) == 1 for col in columns))
        pattern = like_pattern(needle)
        if not needle.isascii():
            return or_(*(C.c[col].ilike(pattern, escape="\\") for col in columns))
        regex = regex_literal(needle)
        return or_(*(C.c[col].bool_op("~")(regex) for col in columns))

    def _header(self, name: str, needle: str) -> ColumnElement[bool]:
        # The header block is searched as text: a line "Name: ...needle...".
        if self.sqlite:
            field = sqlfunc.tidings_header(C.c.header_text, name, needle)
            return field == 1
        escaped_name = like_pattern(name)[1:-1]
        pattern = f"%{escaped_name}:%" + like_pattern(needle)[1:]
        return C.c.header_text.ilike(pattern, escape="\\")

    def _flag(self, name: str, present: bool) -> ColumnElement[bool]:
        bit = F_.SYSTEM_FLAGS.get(name.lower())
        if bit is not None:
            has = M.c.flags.op("&")(bit) != 0
        elif name.lower() in ("\\recent",):
            has = false()  # this store keeps no \Recent; the IMAP session computes it
        else:
            padded = sqlfunc.concat(" ", M.c.keywords, " ") if not self.sqlite \
                else (" " + M.c.keywords + " ")
            has = padded.like(like_pattern(f" {name} "), escape="\\")
        return has if present else not_(has)

    def _date(self, which: str, op: str, day: date) -> ColumnElement[bool]:
        column = M.c.internal_date if which == "internal" else C.c.sent_date
        start = _day_start(day)
        end = _day_start(day + timedelta(days=1))
        if op == "before":
            return column < start
        if op == "on":
            return and_(column >= start, column < end)
        if op == "since":
            return column >= start
        raise ValueError(f"unknown date comparison {op!r}")


def needs_contents(node: Criterion, sqlite: bool) -> bool:
    """Whether the condition reads ``contents`` columns (then the query must join it).

    Joining ``contents`` costs a read of a wide row per candidate message, so queries
    that only need flags, UIDs or FTS5 rowids leave it out.
    """
    match node:
        case And(items):
            return any(needs_contents(i, sqlite) for i in items)
        case Or(left, right):
            return needs_contents(left, sqlite) or needs_contents(right, sqlite)
        case Not(item):
            return needs_contents(item, sqlite)
        case Text(_, needle):
            return not sqlite or 0 < len(needle) < 3
        case Header():
            return True
        case Date(which, _, _):
            return which == "sent"
    return False


def uses_fts(node: Criterion) -> bool:
    match node:
        case And(items):
            return any(uses_fts(i) for i in items)
        case Or(left, right):
            return uses_fts(left) or uses_fts(right)
        case Not(item):
            return uses_fts(item)
        case Text(_, needle):
            return len(needle) >= 3
    return False


class Search:
    def __init__(self, db: Database, timeout_ms: int = 10_000, window: int = WINDOW) -> None:
        self.db = db
        self.compiler = Compiler(db.dialect)
        self.timeout_ms = timeout_ms
        self.window = window

    async def folder(self, folder_id: int, criterion: Criterion) -> list[int]:
        """UIDs of the folder's messages that match, ascending."""
        query = self._in_folder(select(self._collect(M.c.uid)), folder_id, criterion)
        return sorted(self._numbers(await self._scalar(query)))

    def _in_folder(self, query: Select, folder_id: int, criterion: Criterion) -> Select:
        """``query`` over the folder's messages that match ``criterion``."""
        driver = _driver(criterion) if self.db.is_sqlite else None
        if driver is None:
            return self._from(query, criterion).where(
                self._scope(M.c.folder_id == folder_id, criterion),
                self.compiler.compile(criterion))
        match, rest = driver
        joined = FTS.join(M, M.c.content_id == FTS.c.rowid)
        if rest is not None and needs_contents(rest, True):
            joined = joined.join(C, C.c.id == M.c.content_id)
        query = query.select_from(joined).where(
            literal_column("contents_fts").op("MATCH")(literal(match)),
            # Unary +: the folder index must not drive; FTS5's rowids do.
            literal_column("+messages.folder_id") == folder_id)
        return query if rest is None else query.where(self.compiler.compile(rest))

    async def page(self, folder_id: int, criterion: Criterion, limit: int = 50,
                   offset: int = 0) -> list[int]:
        """UIDs of one page of the folder's matches, newest first (the webmail's order).

        SQLite has two plans, chosen by a cheap probe of the FTS5 index: a needle with few
        candidates starts from the FTS5 rowids (cost grows with the hits); any other walks
        the folder newest first and stops after the page (cost grows with the folder, not
        with the hits: a word in 96% of 100k messages takes ~15 ms instead of ~45).
        """
        scope = M.c.folder_id == folder_id
        if self.db.is_sqlite and await self._few_candidates(criterion):
            scope = self._scope(scope, criterion)
        query = self._from(select(M.c.uid), criterion).where(
            scope, self.compiler.compile(criterion),
        ).order_by(M.c.internal_date.desc(), M.c.uid.desc()).limit(limit).offset(offset)
        if not self.db.is_sqlite and await self._common(criterion):
            found = await self._walk(query, folder_id, limit, offset)
            if found is not None:
                return found
        async with self._read() as conn:
            return list((await conn.execute(query)).scalars())

    async def _common(self, criterion: Criterion) -> bool:
        async with self._read() as conn:
            return await common_words(conn, criterion)

    async def _walk(self, query: Select, folder_id: int, limit: int,
                    offset: int) -> list[int] | None:
        """PostgreSQL: ``query``'s page from the newest ``WINDOW`` messages only, or None
        if they hold too few matches to fill it (then the index plan must answer)."""
        size = max(self.window, 10 * (limit + offset))
        async with self._read() as conn:
            start = (await conn.execute(
                window_start(select(literal(folder_id)), size))).scalar()
            # Bitmap scans would read every candidate of the GIN index before the LIMIT.
            await conn.execute(text("SET LOCAL enable_bitmapscan = off"))
            bounded = query if start is None else query.where(M.c.internal_date >= start)
            found = list((await conn.execute(bounded)).scalars())
        # Every message outside the window is older than every one in it: a full page from
        # the window is the page; so is any page when the window is the whole folder.
        return found if len(found) == limit or start is None else None

    async def count(self, folder_id: int, criterion: Criterion) -> int:
        """How many of the folder's messages match (the webmail's result count)."""
        query = self._in_folder(select(sqlfunc.count()), folder_id, criterion)
        return int(await self._scalar(query) or 0)

    async def _few_candidates(self, criterion: Criterion) -> bool:
        async with self._read() as conn:
            return await few_fts_candidates(conn, criterion)

    def _collect(self, column: ColumnElement[int]) -> ColumnElement[object]:
        """All values of ``column`` in one result: a string on SQLite, an array otherwise."""
        if self.db.is_sqlite:
            return sqlfunc.group_concat(column)
        return sqlfunc.array_agg(column)

    def _numbers(self, value: object) -> list[int]:
        if value is None:
            return []
        if isinstance(value, str):  # "3,1,2": read by the JSON parser, twice as fast as int()
            return json.loads(f"[{value}]")
        return list(value)

    def _from(self, query: Select, criterion: Criterion) -> Select:
        if needs_contents(criterion, self.db.is_sqlite):
            return query.select_from(M.join(C, C.c.id == M.c.content_id))
        return query.select_from(M)

    def _scope(self, condition: ColumnElement[bool], criterion: Criterion) -> ColumnElement[bool]:
        """On SQLite, keep the planner from scanning the folder when FTS5 can drive."""
        if self.db.is_sqlite and uses_fts(criterion):
            # A unary + makes the folder test unusable as an index: SQLite then starts
            # from the FTS5 rowids and looks messages up by content_id (2-10x faster).
            return literal_column("+messages.folder_id").op("=")(condition.right)
        return condition

    async def account(
        self, account_id: int, criterion: Criterion, folder_ids: Sequence[int] | None = None
    ) -> list[Hit]:
        """Matches across all of an account's folders (or the given ones)."""
        scope = select(F.c.id).where(F.c.account_id == account_id)
        if folder_ids is not None:
            scope = scope.where(F.c.id.in_(list(folder_ids)))
        query = self._from(select(M.c.folder_id, self._collect(M.c.uid).label("uids")),
                           criterion).where(
            M.c.folder_id.in_(scope), self.compiler.compile(criterion),
        ).group_by(M.c.folder_id)
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return [Hit(row.folder_id, uid) for row in sorted(rows, key=lambda r: r.folder_id)
                for uid in sorted(self._numbers(row.uids))]

    async def _scalar(self, query: Select | TextClause) -> object:
        async with self._read() as conn:
            return (await conn.execute(query)).scalar()

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        async with self.db.read() as conn:
            if not self.db.is_sqlite:
                await conn.execute(text(f"SET LOCAL statement_timeout = {int(self.timeout_ms)}"))
            yield conn

