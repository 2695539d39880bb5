"""Fixtures for the web admin: the webmail's live server and clients, plus an admin, and
a server control over a real data folder (``tidings.toml``) for the settings pages."""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.web.conftest import PASSWORD, LiveServer, login
from tests.web.conftest import ann as ann  # noqa: F401  (fixtures used here)
from tests.web.conftest import client as client  # noqa: F401
from tidings.config import config_template, parse
from tidings.control import Control
from tidings.live import LiveConfig

ADMIN = "root@example.com"


@pytest.fixture
async def admin_account(store: Store, account: AccountInfo) -> AccountInfo:
    """root@example.com, an administrator (beside ann@example.com, who is not one)."""
    return await store.accounts.create(ADMIN, PASSWORD, is_admin=True)


@pytest.fixture
async def control(store: Store, tmp_path: Path) -> Control:
    """The admin's view of a server whose data folder has the default tidings.toml;
    no service is listening (``control.listening`` is empty)."""
    data = tmp_path / "data"
    data.mkdir()
    template = config_template("mail.example.com")
    (data / "tidings.toml").write_text(template)
    live = LiveConfig(data, store, parse(tomllib.loads(template), data))
    await live.load()
    return Control(live)


@pytest.fixture
async def server(store: Store, control: Control) -> AsyncIterator[LiveServer]:
    """The web app with a server control (overrides tests/web's ``server``)."""
    live = LiveServer(store, control=control)
    await live.start()
    yield live
    await live.stop()


@pytest.fixture
async def admin(client: httpx.AsyncClient, admin_account: AccountInfo) -> httpx.AsyncClient:
    """A client signed in as the administrator."""
    response = await login(client, ADMIN)
    assert response.status_code == 303, response.text
    return client
