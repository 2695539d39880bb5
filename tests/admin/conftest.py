"""Fixtures for the web admin: the webmail's live server and clients, plus an admin."""

from __future__ import annotations

import httpx
import pytest

from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.web.conftest import PASSWORD, login
from tests.web.conftest import ann as ann  # noqa: F401  (fixtures used here)
from tests.web.conftest import client as client  # noqa: F401
from tests.web.conftest import server as server  # noqa: F401

ADMIN = "root@example.com"


@pytest.fixture
async def admin_account(store: Store, account: AccountInfo) -> AccountInfo:
    """root@example.com, an administrator (beside ann@example.com, who is not one)."""
    return await store.accounts.create(ADMIN, PASSWORD, is_admin=True)


@pytest.fixture
async def admin(client: httpx.AsyncClient, admin_account: AccountInfo) -> httpx.AsyncClient:
    """A client signed in as the administrator."""
    response = await login(client, ADMIN)
    assert response.status_code == 303, response.text
    return client
