"""Opening a data folder: configuration, database (migrated), blob store."""

from __future__ import annotations

import os
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from mailstore.database import Database, normalise_url
from mailstore.errors import StoreError
from mailstore.store import Store
from tidings import config as config_mod
from tidings.config import Config
from tidings.live import LiveConfig
from tidings.migrate import head_revision, upgrade
from tidings.tls import create_self_signed


class RuntimeProblem(Exception):
    """The server cannot run with this data folder or database; one line says why."""


def shown_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def check_writable(directory: Path) -> None:
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise RuntimeProblem(
            f"data folder {directory} is not writable ({exc.strerror})") from exc


async def prepare_database(url: str) -> None:
    """Reach the database and bring its schema to the current version."""
    db = Database(url)
    try:
        async with db.read() as conn:
            await conn.execute(text("SELECT 1"))
            current = await _schema_revision(conn)
    except Exception as exc:  # driver errors differ per engine; report them as one line
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise RuntimeProblem(f"cannot open the database {shown_url(url)}: {reason}") from exc
    finally:
        await db.close()
    if current != head_revision():
        await upgrade(url)


async def _schema_revision(conn: object) -> str | None:
    """The Alembic revision of the database, or None for an empty one."""
    tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    if "alembic_version" not in tables:
        return None
    return await conn.scalar(text("SELECT version_num FROM alembic_version"))


@dataclass
class Runtime:
    config: Config
    store: Store
    live: LiveConfig

    @classmethod
    async def open(cls, data_option: str | None, migrate: bool = True) -> Runtime:
        data_dir = config_mod.resolve_data_dir(data_option)
        cfg = config_mod.load(data_dir)
        check_writable(data_dir)
        if migrate:
            await prepare_database(cfg.database_url)
        store = Store(cfg.database_url, cfg.blob_dir)
        live = LiveConfig(data_dir, store, cfg)
        if migrate:  # without migrations the settings table may not exist yet
            cfg = await live.load()
        return cls(cfg, store, live)

    async def close(self) -> None:
        await self.store.close()


async def init_data_dir(
    data_option: str | None, admin: str, password: str, hostname: str | None = None
) -> str:
    """Create a data folder; returns what to tell the user (the admin password, once)."""
    data_dir = config_mod.resolve_data_dir(data_option)
    config_path = data_dir / config_mod.CONFIG_NAME
    if config_path.exists():
        return f"{data_dir} is already set up; nothing changed"
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RuntimeProblem(f"cannot create data folder {data_dir}: {exc.strerror}") from exc
    check_writable(data_dir)
    env_url = os.environ.get("TIDINGS_DATABASE_URL")
    url = normalise_url(env_url) if env_url else config_mod.default_database_url(data_dir)
    await prepare_database(url)
    template = config_mod.config_template(hostname)
    cfg = config_mod.parse(tomllib.loads(template), data_dir)
    store = Store(url, cfg.blob_dir)
    try:
        lines = [f"created {data_dir}"]
        if await store.accounts.count_admins() == 0:
            domain = admin.rpartition("@")[2]
            try:
                await store.accounts.add_domain(domain)
            except StoreError:
                pass
            info = await store.accounts.create(admin, password, is_admin=True)
            lines.append(f"admin account: {info.address}")
            lines.append(f"password: {password}   (shown once; change it after logging in)")
        else:
            lines.append("the database already has an admin account; none created")
    finally:
        await store.close()
    create_self_signed(cfg.tls_dir, cfg.hostname)
    # The config is written last: its presence marks a complete data folder.
    tmp = config_path.with_suffix(".tmp")
    tmp.write_text(template, encoding="utf-8")
    os.replace(tmp, config_path)
    return "\n".join(lines)
