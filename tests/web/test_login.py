"""Signing in and out of the webmail."""

from __future__ import annotations

import httpx

from mailstore.values import AccountInfo
from tests.web.conftest import csrf_token, login

SESSION = "tidings_session"


async def test_login_page_renders_a_form_with_a_csrf_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/login")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<form class="card login" method="post" action="/login">' in response.text
    assert 'name="password" type="password"' in response.text
    assert csrf_token(response.text)


async def test_root_sends_a_signed_out_visitor_to_the_login_page(
        client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


async def test_wrong_password_shows_an_error_and_sets_no_session_cookie(
        client: httpx.AsyncClient, account: AccountInfo) -> None:
    response = await login(client, password="not the password")
    assert response.status_code in (200, 401)
    assert "Wrong address or password" in response.text
    assert SESSION not in response.cookies
    assert all(SESSION not in h for h in response.headers.get_list("set-cookie"))
    assert 'value="ann@example.com"' in response.text  # the address is kept, not the password
    assert (await client.get("/mail/INBOX")).status_code == 303


async def test_unknown_address_gets_the_same_answer_as_a_wrong_password(
        client: httpx.AsyncClient, account: AccountInfo) -> None:
    response = await login(client, address="nobody@example.com")
    assert "Wrong address or password" in response.text
    assert SESSION not in response.cookies


async def test_right_password_sets_an_httponly_lax_session_and_opens_the_inbox(
        client: httpx.AsyncClient, account: AccountInfo) -> None:
    response = await login(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/mail"
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION))
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
    inbox = await client.get("/mail", follow_redirects=True)
    assert inbox.status_code == 200
    assert str(inbox.url).endswith("/mail/INBOX")
    assert "ann@example.com" in inbox.text


async def test_login_returns_to_the_page_that_asked_for_it(
        client: httpx.AsyncClient, account: AccountInfo) -> None:
    redirect = await client.get("/mail/Sent")
    assert redirect.status_code == 303
    assert redirect.headers["location"] == "/login?next=%2Fmail%2FSent"
    page = await client.get(redirect.headers["location"])
    response = await client.post("/login", data={
        "address": "ann@example.com", "password": "correct horse battery",
        "next": "/mail/Sent", "csrf_token": csrf_token(page.text)})
    assert response.headers["location"] == "/mail/Sent"


async def test_login_never_redirects_to_another_site(
        client: httpx.AsyncClient, account: AccountInfo) -> None:
    page = await client.get("/login")
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = await client.post("/login", data={
            "address": "ann@example.com", "password": "correct horse battery",
            "next": target, "csrf_token": csrf_token(page.text)})
        assert response.headers["location"] == "/mail"
        await client.post("/logout", data={"csrf_token": csrf_token(
            (await client.get("/mail/INBOX")).text)})


async def test_logout_ends_the_session(ann: httpx.AsyncClient) -> None:
    page = await ann.get("/mail/INBOX")
    response = await ann.post("/logout", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert (await ann.get("/mail/INBOX")).status_code == 303
