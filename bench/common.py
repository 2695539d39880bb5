"""Shared helpers for the benchmarks: corpus access, stores on both backends, timing."""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import asyncpg  # noqa: E402

from tests.corpus import message_files  # noqa: E402,F401

PG_ADMIN = os.environ.get("TIDINGS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


async def pg_create() -> tuple[str, str] | None:
    """A fresh PostgreSQL database for a run, or None when no server is reachable."""
    name = f"tidings_bench_{secrets.token_hex(4)}"
    try:
        conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return None
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = PG_ADMIN.rpartition("/")[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return name, f"{base}/{name}"


async def pg_drop(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def percentiles(samples_ms: list[float]) -> str:
    ordered = sorted(samples_ms)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  (n={len(ordered)})"


def run(coro) -> None:
    asyncio.run(coro)
