"""Fixtures: a fresh store on SQLite and on PostgreSQL for every test that asks for one.

PostgreSQL comes from ``$TIDINGS_TEST_POSTGRES`` (default: the CI machine's
``postgresql://postgres@127.0.0.1:5432/test``). One database is migrated once per run and
emptied (TRUNCATE) before each test; fixtures that keep data for a whole module get their
own copy of it. Without a reachable server the PostgreSQL cases are
skipped, except under CI (``CI=true``), where that is an error.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from mailstore.store import Store
from tidings.migrate import upgrade_sync

# A real DNS server on loopback for SPF/DKIM/DMARC/DNSBL tests (fixtures dns_server, zone,
# resolver); data folders for the command (fixtures db_env, data).
pytest_plugins = ["tests.dnszone", "tests.cli"]

ADMIN_URL = os.environ.get("TIDINGS_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgresql"]


def _pg_url(database: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{database}"


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


TRUNCATE = (
    "TRUNCATE domains, accounts, aliases, folders, contents, messages, expunged, trace, outbound, "
    "dkim_keys, lists, list_members, collectors, collector_seen, preferences, identities, "
    "contacts, trusted_senders, audit_log, server_settings, collector_runs "
    "RESTART IDENTITY CASCADE"
)


async def _pg_admin_on(database: str, sql: str) -> None:
    base = ADMIN_URL.rpartition("/")[0]
    conn = await asyncpg.connect(f"{base}/{database}", timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


class PostgresDatabases:
    """Creates one migrated template per test run, and a copy of it per test."""

    def __init__(self) -> None:
        self.template = f"tidings_tpl_{os.getpid()}_{secrets.token_hex(3)}"
        self.shared_name = ""
        self.ready = False
        self.error: str | None = None

    def setup(self) -> None:
        if self.ready or self.error:
            return
        try:
            asyncio.run(_pg_admin(f'CREATE DATABASE "{self.template}"'))
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            self.error = f"PostgreSQL not reachable at {ADMIN_URL}: {exc}"
            return
        upgrade_sync(_pg_url(self.template))
        self.shared_name = self.create()[0]
        self.ready = True

    def create(self) -> tuple[str, str]:
        name = f"tidings_t_{secrets.token_hex(6)}"
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        return name, _pg_url(name)

    def shared(self) -> str:
        """The run's database, emptied: much faster than a new database per test."""
        asyncio.run(_pg_admin_on(self.shared_name, TRUNCATE))
        return _pg_url(self.shared_name)

    def drop(self, name: str) -> None:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def teardown(self) -> None:
        if self.ready:
            self.drop(self.shared_name)
            self.drop(self.template)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases()
    yield databases
    databases.teardown()


def require_postgres(postgres: PostgresDatabases) -> None:
    postgres.setup()
    if postgres.error:
        if os.environ.get("CI"):
            pytest.fail(postgres.error)
        pytest.skip(postgres.error)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path,
                 postgres: PostgresDatabases) -> str:
    """A migrated, empty database of each backend."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'tidings.db'}"
        upgrade_sync(url)
        return url
    require_postgres(postgres)
    return postgres.shared()


@pytest.fixture(scope="module", params=BACKENDS)
def module_database_url(request: pytest.FixtureRequest,
                        tmp_path_factory: pytest.TempPathFactory,
                        postgres: PostgresDatabases) -> Iterator[str]:
    """A database of its own for fixtures that load data once for a whole module."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'tidings.db'}"
        upgrade_sync(url)
        yield url
        return
    require_postgres(postgres)
    name, url = postgres.create()
    yield url
    postgres.drop(name)


@pytest.fixture
async def store(database_url: str, tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(database_url, tmp_path / "blobs")
    yield s
    await s.close()


@pytest.fixture
async def account(store: Store):
    """An account ann@example.com with the default folders."""
    await store.accounts.add_domain("example.com")
    return await store.accounts.create("ann@example.com", "correct horse battery")
