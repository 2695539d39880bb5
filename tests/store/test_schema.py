"""The models and the migrations describe the same schema (a migration was not forgotten)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from mailstore.models import Base


def _ours(diff: tuple) -> bool:
    """The search index (FTS5 shadow tables, pg_trgm indexes, SQLite's covering
    ``*_search`` indexes) lives only in migrations."""
    kind, item = diff[0], diff[1]
    name = getattr(item, "name", "") or ""
    return not (kind in ("remove_table", "remove_index")
                and (name.startswith("contents_fts") or name.endswith(("_trgm", "_search"))))


async def test_migrated_database_matches_the_models(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            diffs = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata))
    finally:
        await engine.dispose()
    assert [d for d in diffs if _ours(d)] == []
