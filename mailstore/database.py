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
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from mailstore.textmatch import contains, header_contains


class DatabaseURLError(ValueError):
    """The configured database URL cannot be used; the message says why."""


SUPPORTED = ("sqlite+aiosqlite", "postgresql+asyncpg")


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

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that commits on success and rolls back on any exception."""
        async with self.write_engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only snapshot (one transaction), rolled back at the end."""
        async with self.read_engine.connect() as conn:
            yield conn

    async def close(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()
