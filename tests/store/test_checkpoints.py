"""SQLite: the WAL is copied into the database file by a thread of its own, not by COMMIT."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from sqlalchemy import text

from mailstore.database import BACKSTOP_PAGES, Database


def in_database_file(path: Path) -> int:
    """Rows of table ``t`` in the database file alone: ``immutable`` ignores the WAL."""
    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM t").fetchone()[0]
    finally:
        conn.close()


async def test_commits_reach_the_database_file_soon_without_commit_checkpointing(
        tmp_path: Path) -> None:
    path = tmp_path / "tidings.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        async with db.write() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            assert (await conn.execute(text("PRAGMA wal_autocheckpoint"))).scalar() \
                == BACKSTOP_PAGES
        for n in range(5):
            async with db.write() as conn:
                await conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
        # COMMIT leaves the rows in the WAL (a few pages, far below the backstop); the
        # checkpoint thread copies them into the database file a moment later.
        for _ in range(100):
            await asyncio.sleep(0.05)
            if db._checkpoints.rounds and await asyncio.to_thread(in_database_file, path) == 5:
                break
        assert await asyncio.to_thread(in_database_file, path) == 5
        async with db.read() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 5
    finally:
        await db.close()
