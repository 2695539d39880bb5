"""Only administrators reach the admin: every admin URL (the app's own list of them) is
walked as a visitor, as a user without the role, and as an administrator."""

from __future__ import annotations

import re

import httpx

from mailstore.values import AccountInfo
from tests.web.conftest import csrf_token, login
from webapp.admin import admin_routes

PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")


def concrete(path: str) -> str:
    """An admin path with its parameters filled in (1 for numbers, "x" otherwise)."""
    return PARAM.sub(lambda m: "1" if m.group(2) == "int" else "x", path)


ALL = [(concrete(path), method) for path, _, methods in admin_routes() for method in methods]
ALL += [("/admin/no-such-page", "GET"), ("/admin/no-such-page", "POST")]


async def request(client: httpx.AsyncClient, method: str, path: str) -> httpx.Response:
    if method == "GET":
        return await client.get(path)
    # A valid CSRF token: the refusal must come from the admin check, not from CSRF.
    token = csrf_token((await client.get("/settings")).text) \
        if "tidings_session" in client.cookies else csrf_token((await client.get("/login")).text)
    return await client.post(path, data={"csrf_token": token})


def test_every_admin_module_has_routes() -> None:
    assert ("/admin", "GET") in ALL
    assert ("/admin/audit", "GET") in ALL


async def test_a_visitor_is_sent_to_the_login_page(client: httpx.AsyncClient) -> None:
    for path, method in ALL:
        response = await request(client, method, path)
        assert response.status_code == 303, (method, path)
        assert response.headers["location"].startswith("/login?next="), (method, path)


async def test_a_user_without_the_admin_role_gets_403_everywhere(
        ann: httpx.AsyncClient) -> None:
    for path, method in ALL:
        response = await request(ann, method, path)
        assert response.status_code == 403, (method, path, response.status_code)
        assert "for administrators" in response.text


async def test_an_administrator_sees_every_page_that_needs_no_parameter(
        client: httpx.AsyncClient, admin_account: AccountInfo) -> None:
    assert (await login(client, admin_account.address)).status_code == 303
    for path, _, methods in admin_routes():
        if "GET" in methods and "{" not in path:
            response = await client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            assert 'aria-label="Admin sections"' in response.text
    assert (await client.get("/admin/no-such-page")).status_code == 404


async def test_the_mail_pages_link_to_the_admin_for_administrators_only(
        client: httpx.AsyncClient, ann: httpx.AsyncClient, admin_account: AccountInfo) -> None:
    assert 'href="/admin"' not in (await ann.get("/mail/INBOX")).text
    await ann.post("/logout", data={"csrf_token": csrf_token((await ann.get("/settings")).text)})
    assert (await login(client, admin_account.address)).status_code == 303
    assert 'href="/admin"' in (await client.get("/mail/INBOX")).text
