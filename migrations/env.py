"""Alembic environment: runs migrations on the async engine of the configured URL."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from mailstore.database import normalise_url
from mailstore.models import Base

config = context.config
target_metadata = Base.metadata


def database_url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("TIDINGS_DATABASE_URL")
    if not url:
        raise SystemExit("alembic: set TIDINGS_DATABASE_URL or sqlalchemy.url")
    return normalise_url(url)


def do_run_migrations(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        # Takes effect only on a new, empty database; 16 KiB pages make FTS5 trigram
        # indexing (the cost of every insert) about 15% faster than 4 KiB ones.
        connection.exec_driver_sql("PRAGMA page_size=16384")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_async_engine(database_url(), poolclass=NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(do_run_migrations)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(run_async_migrations())
