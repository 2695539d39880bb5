"""Runs the Alembic migrations that create and upgrade the schema."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory

REPO = Path(__file__).resolve().parent.parent
MIGRATIONS = REPO / "migrations"


def _config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    return ScriptDirectory.from_config(_config("sqlite://")).get_current_head() or ""


def upgrade_sync(url: str) -> None:
    command.upgrade(_config(url), "head")


async def upgrade(url: str) -> None:
    """``alembic upgrade head``; runs in a thread because Alembic's env starts its own loop."""
    await asyncio.to_thread(upgrade_sync, url)
