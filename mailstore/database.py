"""Engines for the metadata database: SQLite (embedded default) or PostgreSQL.

Implementation notes:
- SQLite runs in WAL mode, and a write returns only once its commit is on disk (the
  durability rule: a message is acknowledged only after its rows are committed). The
  writer connection commits with ``synchronous=NORMAL`` (no fsync inside COMMIT) and
  ``write``/``write_sync`` then fsync the WAL file themselves, after the write lock is
  released (``_WalSync``): the next transaction runs while the disk flushes, and
  concurrent writers share one fsync. A commit's frames are in the WAL file before COMMIT
  returns, so an fsync of that file begun afterwards makes it durable; SQLite itself
  syncs the WAL before each checkpoint, the database after it, and the WAL header when
  the file is reused. Readers keep ``synchronous=FULL`` (they never write).
- SQLite writers take ``BEGIN IMMEDIATE``: with a deferred BEGIN, two writers that both
  read first deadlock into "database is locked". Writes go through a separate engine with
  one connection, so writers in this process queue in the pool instead of spinning on the
  file lock; other processes wait on ``busy_timeout``.
- Readers use their own pool and never block on a writer (WAL).
- Checkpoints (copying the WAL into the database file) run in a thread of their own
  (``_Checkpointer``), not inside a writer's COMMIT, where SQLite runs them by default: a
  checkpoint writes and fsyncs megabytes, and every delivery waiting for the writer waited
  for it too (bench/ingest, SQLite: ~1,220 -> ~1,300 messages/s). The writer keeps a
  far-off automatic checkpoint as a backstop, should the thread fall behind.
- On PostgreSQL one engine serves both; row locks and ``SKIP LOCKED`` do the rest.
- Hot write paths (delivery, import) are plain synchronous functions on a SQLAlchemy
  ``Connection`` (``write_sync``). On SQLite the whole transaction runs as ONE call on the
  writer connection's own thread: the async path hands every statement to that thread and
  back (~100 µs and a wake-up of the event loop each, ~35 per delivered batch). The call
  holds the writer connection checked out of its pool, so it queues with the other writers
  exactly like ``write``. On PostgreSQL the same function runs through ``run_sync``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, StaticPool

from mailstore.textmatch import contains, header_contains

log = logging.getLogger(__name__)


class DatabaseURLError(ValueError):
    """The configured database URL cannot be used; the message says why."""


SUPPORTED = ("sqlite+aiosqlite", "postgresql+asyncpg")
T = TypeVar("T")


def normalise_url(url: str) -> str:
    """Accept the plain ``sqlite:///`` and ``postgresql://`` spellings as well."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseURLError(f"database URL {url!r} is not a valid URL") from exc
    driver = parsed.drivername
    if driver in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif driver in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    if parsed.drivername not in SUPPORTED:
        raise DatabaseURLError(
            f"database URL {url!r} is not supported: use sqlite:///PATH or "
            "postgresql+asyncpg://USER@HOST/DB"
        )
    if parsed.drivername.startswith("sqlite") and not parsed.database:
        raise DatabaseURLError("database URL for SQLite needs a file path: sqlite:///PATH")
    return parsed.render_as_string(hide_password=False)


# The writer checkpoints by itself only past this many WAL pages (~40 MB): a backstop for
# a ``_Checkpointer`` that fell behind. SQLite's default is 1,000.
BACKSTOP_PAGES = 10_000


def _sqlite_setup(dbapi_connection: Any, synchronous: str,
                  autocheckpoint: int | None = None) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA temp_store=MEMORY")
    if autocheckpoint is not None:
        cursor.execute(f"PRAGMA wal_autocheckpoint={int(autocheckpoint)}")
    cursor.close()
    dbapi_connection.create_function("tidings_contains", 2, contains, deterministic=True)
    dbapi_connection.create_function("tidings_header", 3, header_contains, deterministic=True)


def _make_sqlite_engine(url: str, immediate: bool, pool_size: int,
                        synchronous: str = "FULL",
                        autocheckpoint: int | None = None) -> AsyncEngine:
    engine = create_async_engine(
        url, poolclass=AsyncAdaptedQueuePool, pool_size=pool_size, max_overflow=0,
        pool_timeout=300,
        # The writer's every use ends its transaction itself (``write``, ``commit_sync``):
        # a ROLLBACK when the connection goes back to its pool would be one more round trip
        # to the writer's thread, on the path of the next transaction, for nothing.
        pool_reset_on_return=None if immediate else "rollback",
    )

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        _sqlite_setup(dbapi_connection, synchronous, autocheckpoint)

    begin_sql = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin_sql)

    return engine


def _bound_sync_engine(connection: sqlite3.Connection) -> Engine:
    """A synchronous engine whose only connection is the given (already set up) one.

    StaticPool hands out that connection and never closes it: the async writer pool owns
    it. Transactions begin with ``BEGIN IMMEDIATE``, as on the async writer engine."""
    engine = create_engine("sqlite://", creator=lambda: connection, poolclass=StaticPool)

    @event.listens_for(engine, "begin")
    def on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class _WalSync:
    """Makes the SQLite writer's commits durable with fsyncs of the WAL file, shared.

    Each commit takes a ticket once COMMIT has returned; ``durable(ticket)`` returns once
    an fsync begun after that commit has ended. One fsync runs at a time and covers every
    commit that took its ticket before it began. A failed fsync fails every later call:
    after a failed fsync the kernel may have dropped the dirty pages and a retry "succeeds"
    without them (PostgreSQL's fsync lesson), so only a restart, which replays the WAL
    from the disk, may accept mail again."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.wal = database + "-wal"
        self.fd: int | None = None
        self.committed = 0
        self.synced = 0
        self.flushes = 0  # fsyncs done (commits share them)
        self.running: asyncio.Task[None] | None = None
        self.error: OSError | None = None

    def ticket(self) -> int:
        self.committed += 1
        return self.committed

    async def durable(self, ticket: int) -> None:
        while self.synced < ticket:
            if self.error is not None:
                raise OSError(self.error.errno, f"database flush failed earlier: {self.error}")
            if self.running is None:
                self.running = asyncio.get_running_loop().create_task(self._sync())
            await asyncio.shield(self.running)

    async def _sync(self) -> None:
        target = self.committed
        try:
            await asyncio.to_thread(self._fsync)
        except OSError as exc:
            self.error = exc
            raise
        finally:
            self.running = None
        self.synced = max(self.synced, target)
        self.flushes += 1

    def _fsync(self) -> None:
        try:
            current = os.stat(self.wal)
        except FileNotFoundError:
            # No WAL: the last connection checkpointed it into the database and removed it
            # (SQLite syncs the database first); flush the database file all the same.
            self.close()
            fd = os.open(self.database, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            return
        if self.fd is not None and os.fstat(self.fd).st_ino != current.st_ino:
            self.close()  # the WAL file was removed and made anew since we opened it
        if self.fd is None:
            self.fd = os.open(self.wal, os.O_RDONLY)
        os.fsync(self.fd)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class _Checkpointer:
    """Copies the WAL into the database file in a thread of its own, on its own connection.

    Woken by commits, it waits ``delay`` seconds so that one checkpoint (and its two
    fsyncs) covers several commits, then runs a PASSIVE checkpoint: it copies what no
    reader still needs and never waits for, or blocks, readers and the writer. Started by
    the first commit, so a process that only reads never has the thread."""

    def __init__(self, database: str, delay: float = 0.25) -> None:
        self.database = database
        self.delay = delay
        self.rounds = 0  # checkpoints run
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None

    def committed(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint",
                                            daemon=True)
            self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        conn = sqlite3.connect(self.database, isolation_level=None, check_same_thread=False)
        try:
            while True:
                self._wake.wait()
                if self._closing.wait(self.delay):
                    return
                self._wake.clear()
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:  # the writer's backstop checkpoints meanwhile
                    log.exception("could not checkpoint the database's WAL")
                else:
                    self.rounds += 1
        finally:
            conn.close()

    def close(self) -> None:
        self._closing.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None


class Database:
    """The metadata database, with separate read and write paths."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.dialect = "sqlite" if self.url.startswith("sqlite") else "postgresql"
        if self.dialect == "sqlite":
            path = make_url(self.url).database or ""
            file_backed = path not in ("", ":memory:") and not path.startswith("file:")
            self._wal = _WalSync(os.path.abspath(path)) if file_backed else None
            self._checkpoints = _Checkpointer(os.path.abspath(path)) if file_backed else None
            self.write_engine = _make_sqlite_engine(
                self.url, immediate=True, pool_size=1,
                synchronous="NORMAL" if file_backed else "FULL",
                autocheckpoint=BACKSTOP_PAGES if file_backed else None)
            self.read_engine = _make_sqlite_engine(self.url, immediate=False, pool_size=8)
        else:
            engine = create_async_engine(self.url, pool_size=10, max_overflow=20)
            self.write_engine = self.read_engine = engine
            self._wal = None
            self._checkpoints = None
        # The sync engine bound to the SQLite writer connection (``write_sync``).
        self._bound: tuple[sqlite3.Connection, Engine] | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that commits on success and rolls back on any exception."""
        async with self.write_engine.begin() as conn:
            yield conn
        await self.durable(self._committed())

    async def write_sync(self, work: Callable[[Connection], T]) -> T:
        """Runs ``work`` in one transaction that commits on success and rolls back on any
        exception; returns its result once the commit is durable. On SQLite the whole of
        ``work`` runs on the writer connection's thread in one hand-off (see the notes
        above): it must not await, and it blocks nothing but other writers."""
        result, ticket = await self.commit_sync(work)
        await self.durable(ticket)
        return result

    async def commit_sync(self, work: Callable[[Connection], T],
                          gate: concurrent.futures.Future[Any] | None = None
                          ) -> tuple[T, int]:
        """``write_sync`` without the wait for the disk: returns as soon as COMMIT did, with
        a ticket for ``durable``, so a pipeline may start its next transaction meanwhile.
        Nothing may be acknowledged before ``durable(ticket)`` returned.

        ``gate``: COMMIT waits for it (and rolls back if it failed). On SQLite ``work``
        runs meanwhile, so a delivery's rows are written while its blobs are flushed, yet
        committed only after them; on PostgreSQL the transaction starts after the gate."""
        if not self.is_sqlite:
            if gate is not None:
                await asyncio.wrap_future(gate)
            async with self.write_engine.begin() as conn:
                return await conn.run_sync(work), 0
        async with self.write_engine.connect() as conn:
            # aiosqlite has no public "run this on your thread": SQLAlchemy's own aiosqlite
            # adapter uses the same two members (``_conn``, the queue behind ``_execute``).
            driver = (await conn.get_raw_connection()).driver_connection
            engine = self._bound_engine(driver._conn)

            def transaction() -> T:
                with engine.begin() as sync_conn:
                    result = work(sync_conn)
                    if gate is not None:
                        gate.result()  # raises what the gate raised: the exit rolls back
                    return result

            result = await driver._execute(transaction)
        return result, self._committed()

    def _committed(self) -> int:
        """After a SQLite COMMIT: its ticket for ``durable`` (0: nothing to wait for)."""
        if self._wal is None:
            return 0
        if self._checkpoints is not None:
            self._checkpoints.committed()
        return self._wal.ticket()

    async def durable(self, ticket: int) -> None:
        """Returns once the commit that got ``ticket`` from ``commit_sync`` is on disk."""
        if self._wal is not None and ticket:
            await self._wal.durable(ticket)

    def _bound_engine(self, connection: sqlite3.Connection) -> Engine:
        if self._bound is None or self._bound[0] is not connection:
            self._bound = (connection, _bound_sync_engine(connection))
        return self._bound[1]

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only snapshot (one transaction), rolled back at the end."""
        async with self.read_engine.connect() as conn:
            yield conn

    async def close(self) -> None:
        if self._checkpoints is not None:
            await asyncio.to_thread(self._checkpoints.close)
        await self.write_engine.dispose()
        if self._wal is not None:
            self._wal.close()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()
