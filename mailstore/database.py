"""Engines for the metadata database: SQLite (embedded default) or PostgreSQL.

Implementation notes:
- SQLite runs in WAL mode with ``synchronous=FULL``: a committed transaction survives a
  crash or power loss, which the durability rule needs (a message is acknowledged only
  after its rows are committed).
- SQLite writers take ``BEGIN IMMEDIATE``: with a deferred BEGIN, two writers that both
  read first deadlock into "database is locked". Writes go through a separate engine with
  one connection, so writers in this process queue in the pool instead of spinning on the
  file lock; other processes wait on ``busy_timeout``.
- Readers use their own pool and never block on a writer (WAL).
- On PostgreSQL one engine serves both; row locks and ``SKIP LOCKED`` do the rest.
- Hot write paths (delivery, import) are plain synchronous functions on a SQLAlchemy
  ``Connection`` (``write_sync``). On SQLite the whole transaction runs as ONE call on the
  writer connection's own thread: the async path hands every statement to that thread and
  back (~100 µs and a wake-up of the event loop each, ~35 per delivered batch). The call
  holds the writer connection checked out of its pool, so it queues with the other writers
  exactly like ``write``. On PostgreSQL the same function runs through ``run_sync``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, StaticPool

from mailstore.textmatch import contains, header_contains


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


def _sqlite_setup(dbapi_connection: Any) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()
    dbapi_connection.create_function("tidings_contains", 2, contains, deterministic=True)
    dbapi_connection.create_function("tidings_header", 3, header_contains, deterministic=True)


def _make_sqlite_engine(url: str, immediate: bool, pool_size: int) -> AsyncEngine:
    engine = create_async_engine(
        url, poolclass=AsyncAdaptedQueuePool, pool_size=pool_size, max_overflow=0,
        pool_timeout=300,
    )

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        _sqlite_setup(dbapi_connection)

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


class Database:
    """The metadata database, with separate read and write paths."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.dialect = "sqlite" if self.url.startswith("sqlite") else "postgresql"
        if self.dialect == "sqlite":
            self.write_engine = _make_sqlite_engine(self.url, immediate=True, pool_size=1)
            self.read_engine = _make_sqlite_engine(self.url, immediate=False, pool_size=8)
        else:
            engine = create_async_engine(self.url, pool_size=10, max_overflow=20)
            self.write_engine = self.read_engine = engine
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

    async def write_sync(self, work: Callable[[Connection], T]) -> T:
        """Runs ``work`` in one transaction that commits on success and rolls back on any
        exception; returns its result. On SQLite the whole of ``work`` runs on the writer
        connection's thread in one hand-off (see the notes above): it must not await, and
        it blocks nothing but other writers."""
        if not self.is_sqlite:
            async with self.write_engine.begin() as conn:
                return await conn.run_sync(work)
        async with self.write_engine.connect() as conn:
            # aiosqlite has no public "run this on your thread": SQLAlchemy's own aiosqlite
            # adapter uses the same two members (``_conn``, the queue behind ``_execute``).
            driver = (await conn.get_raw_connection()).driver_connection
            engine = self._bound_engine(driver._conn)

            def transaction() -> T:
                with engine.begin() as sync_conn:
                    return work(sync_conn)

            return await driver._execute(transaction)

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
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()
