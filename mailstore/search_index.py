"""Upkeep of SQLite's FTS5 search index: merging its segments while the server is quiet.

Why: every commit that indexes messages writes a new FTS5 segment. FTS5 merges them as it
goes ("automerge"), but with its default of merging every 4 segments a delivery commit of
a few messages rewrote the same index pages again and again (a 10 KB message cost 0.84 ms
to index in transactions of 4; at 16, 0.53 ms, and a tenth of the writes; migration 0013;
12 since migration 0014, below FTS5's crisis point). Searches read every segment, though:
on a 100k-message store a word fragment took 25 ms with the segments left at 16 a level
and 16 ms once merged. So the merging FTS5 skipped is done here, when no mail has arrived
for a while: FTS5's ``merge`` command merges any level holding ``usermerge`` (4)
segments, a bounded number of pages per call, each call one short write transaction, so
a delivery waits at most for one step.
PostgreSQL's pg_trgm indexes need no such upkeep.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy import Connection

from mailstore.database import Database

log = logging.getLogger(__name__)

STEP_PAGES = 200  # one step: ~15 ms of the writer's time


class SearchIndex:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def tidy_step(self, pages: int = STEP_PAGES) -> bool:
        """One bounded merge step; True if it merged something (there may be more)."""
        if not self.db.is_sqlite:
            return False
        return await self.db.write_sync(lambda conn: _merge(conn, pages))

    async def tidy(self, busy: Callable[[], bool] = lambda: False) -> int:
        """Merge steps until the index is tidy or ``busy()``; returns the steps that
        merged something."""
        steps = 0
        while not busy() and await self.tidy_step():
            steps += 1
        return steps

    async def keep_tidy(self, quiet: Callable[[], bool], every: float = 10.0) -> None:
        """Runs until cancelled: every ``every`` seconds, tidies while ``quiet()``."""
        while True:
            await asyncio.sleep(every)
            if not quiet():
                continue
            try:
                await self.tidy(busy=lambda: not quiet())
            except Exception:  # the disk or database had a problem: try again later
                log.exception("could not tidy the search index")


def _merge(conn: Connection, pages: int) -> bool:
    raw = conn.connection.dbapi_connection
    before = raw.total_changes
    conn.exec_driver_sql(
        "INSERT INTO contents_fts(contents_fts, rank) VALUES ('merge', ?)", (pages,))
    # FTS5's documented test: a merge that did any work changed at least two rows.
    return raw.total_changes - before >= 2


def set_automerge(conn: Connection, segments: int) -> None:
    """FTS5 merges a level once it holds ``segments`` segments (kept in the index itself,
    so migrations set it). PostgreSQL has no such setting."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(
            "INSERT INTO contents_fts(contents_fts, rank) VALUES ('automerge', ?)", (segments,))
