"""Sessions, CSRF, headers and isolation between accounts."""

from __future__ import annotations

import httpx

from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.web.conftest import LiveServer, csrf_token, deliver, inbox_id, login, make_message


async def test_post_login_without_csrf_token_is_forbidden(
        client: httpx.AsyncClient, account: AccountInfo) -> None:
    await client.get("/login")  # has the CSRF cookie, but sends no token
    response = await client.post("/login", data={
        "address": "ann@example.com", "password": "correct horse battery"})
    assert response.status_code == 403
    assert "tidings_session" not in response.cookies


async def test_post_with_a_wrong_or_foreign_token_is_forbidden(
        server: LiveServer, account: AccountInfo) -> None:
    async with server.client() as attacker, server.client() as victim:
        foreign = csrf_token((await attacker.get("/login")).text)
        await victim.get("/login")
        for token in (foreign, "0" * 64, ""):
            response = await victim.post("/login", data={
                "address": "ann@example.com", "password": "correct horse battery",
                "csrf_token": token})
            assert response.status_code == 403


async def test_post_without_the_csrf_cookie_is_forbidden(
        server: LiveServer, account: AccountInfo) -> None:
    async with server.client() as first:
        token = csrf_token((await first.get("/login")).text)
    async with server.client() as fresh:
        response = await fresh.post("/login", data={
            "address": "ann@example.com", "password": "correct horse battery",
            "csrf_token": token})
        assert response.status_code == 403


async def test_logout_without_csrf_token_is_forbidden(ann: httpx.AsyncClient) -> None:
    response = await ann.post("/logout")
    assert response.status_code == 403
    assert (await ann.get("/mail/INBOX")).status_code == 200  # still signed in


async def test_htmx_may_send_the_token_as_a_header(ann: httpx.AsyncClient) -> None:
    token = csrf_token((await ann.get("/mail/INBOX")).text)
    page = await ann.get("/mail/INBOX")
    assert f'hx-headers=\'{{"X-CSRF-Token": "{token}"}}\'' in page.text
    response = await ann.post("/logout", headers={"X-CSRF-Token": token})
    assert response.status_code == 303


async def test_signed_out_visitors_are_sent_to_login(client: httpx.AsyncClient) -> None:
    for url in ("/mail", "/mail/INBOX", "/message/INBOX/1", "/body/INBOX/1",
                "/attachment/INBOX/1/2"):
        response = await client.get(url)
        assert response.status_code == 303, url
        assert response.headers["location"].startswith("/login?next=")
    htmx = await client.get("/message/INBOX/1", headers={"HX-Request": "true"})
    assert htmx.headers["hx-redirect"].startswith("/login?next=")


async def test_a_forged_session_cookie_is_ignored(
        server: LiveServer, account: AccountInfo) -> None:
    async with server.client() as c:
        c.cookies.set("tidings_session", "eyJhY2NvdW50IjogMX0=.forged.signature")
        assert (await c.get("/mail/INBOX")).status_code == 303


async def test_another_users_folders_and_messages_are_not_reachable(
        store: Store, account: AccountInfo, server: LiveServer) -> None:
    bob = await store.accounts.create("bob@example.com", "bobs own password")
    await deliver(store, await inbox_id(store, bob), [make_message("Bob's secret")])
    await store.folders.create(bob.id, "Private")
    async with server.client() as c:
        assert (await login(c)).status_code == 303  # ann
        inbox = await c.get("/mail/INBOX")
        assert "Bob&#39;s secret" not in inbox.text and "Bob's secret" not in inbox.text
        for url in ("/mail/Private", "/message/INBOX/1", "/body/INBOX/1",
                    "/attachment/INBOX/1/1", "/message/Private/1"):
            response = await c.get(url)
            assert response.status_code == 404, url
            assert "secret" not in response.text


async def test_every_page_carries_a_strict_content_security_policy(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await deliver(store, await inbox_id(store, account), [make_message()])
    for url in ("/login", "/mail/INBOX", "/message/INBOX/1", "/mail/Nope", "/nowhere"):
        response = await ann.get(url)
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy, url
        assert "frame-ancestors 'self'" in policy
        assert "img-src 'self' data:" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
    page = (await ann.get("/mail/INBOX")).text
    assert "<script>" not in page and " on" + "click=" not in page


async def test_htmx_is_served_from_its_package(client: httpx.AsyncClient) -> None:
    response = await client.get("/static/htmx.min.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert b"htmx" in response.content[:2000]
    css = await client.get("/static/tidings.css")
    assert css.status_code == 200
    assert "prefers-color-scheme: dark" in css.text
