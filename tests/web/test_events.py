"""New mail without a reload: GET /events streams the folder counts when mail changes, only
for the signed-in user's folders, and every stream ends (client gone, server stopping)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import httpx

from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.web.conftest import LiveServer, deliver, inbox_id, login, make_message


async def next_event(lines: AsyncIterator[str], timeout: float = 5.0) -> tuple[str, dict]:
    """The next named event of the stream (comments and retry lines skipped)."""
    name, data = "", ""

    async def read() -> tuple[str, dict]:
        nonlocal name, data
        async for line in lines:
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and name:
                return name, json.loads(data)
        raise AssertionError("the stream ended")

    return await asyncio.wait_for(read(), timeout)


async def test_new_mail_sends_an_event_with_the_unread_counts(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    inbox = await inbox_id(store, account)
    async with ann.stream("GET", "/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.aiter_lines()
        name, data = await next_event(lines)
        assert (name, data["inbox_unseen"]) == ("mail", 0)
        await deliver(store, inbox, [make_message("live one"), make_message("live two")])
        name, data = await next_event(lines)
        assert name == "mail"
        assert data["inbox_unseen"] == 2 and data["folders"]["INBOX"] == 2
        await store.messages.store_flags(inbox, [1], ["\\Seen"], "add")
        _, data = await next_event(lines)
        assert data["inbox_unseen"] == 1


async def test_mail_in_another_folder_updates_its_count(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    junk = await store.folders.get(account.id, "Junk")
    async with ann.stream("GET", "/events") as response:
        lines = response.aiter_lines()
        await next_event(lines)
        await store.messages.append(junk.id, make_message("spam"))
        _, data = await next_event(lines)
        assert data["folders"]["Junk"] == 1 and data["inbox_unseen"] == 0


async def test_a_folder_made_elsewhere_reaches_an_open_stream_and_its_mail_too(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    async with ann.stream("GET", "/events") as response:
        lines = response.aiter_lines()
        _, data = await next_event(lines)
        assert "Projects" not in data["folders"]
        # As an IMAP client's CREATE would: no message changes, only the folder list.
        projects = await store.folders.create(account.id, "Projects")
        _, data = await next_event(lines)
        assert data["folders"]["Projects"] == 0
        await store.messages.append(projects.id, make_message("in the new folder"))
        _, data = await next_event(lines)
        assert data["folders"]["Projects"] == 1


async def test_renaming_and_deleting_a_folder_elsewhere_reach_an_open_stream(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await store.folders.create(account.id, "Old")
    async with ann.stream("GET", "/events") as response:
        lines = response.aiter_lines()
        _, data = await next_event(lines)
        assert "Old" in data["folders"]
        await store.folders.rename(account.id, "Old", "New")
        _, data = await next_event(lines)
        assert "New" in data["folders"] and "Old" not in data["folders"]
        await store.folders.delete(account.id, "New")
        _, data = await next_event(lines)
        assert "New" not in data["folders"]


async def test_another_users_new_folder_sends_nothing(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    bob = await store.accounts.create("bob@example.com", "bob's long password")
    async with ann.stream("GET", "/events") as response:
        lines = response.aiter_lines()
        await next_event(lines)
        await store.folders.create(bob.id, "Bob's folder")
        try:
            event = await next_event(lines, timeout=1.5)
        except TimeoutError:
            event = None
        assert event is None


async def test_another_users_mail_sends_nothing(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    bob = await store.accounts.create("bob@example.com", "bob's long password")
    bob_inbox = (await store.folders.get(bob.id, "INBOX")).id
    async with ann.stream("GET", "/events") as response:
        lines = response.aiter_lines()
        await next_event(lines)
        await deliver(store, bob_inbox, [make_message("for bob")])
        try:
            event = await next_event(lines, timeout=1.5)
        except TimeoutError:
            event = None
        assert event is None


async def test_events_need_a_signed_in_user(client: httpx.AsyncClient,
                                            account: AccountInfo) -> None:
    response = await client.get("/events")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


async def test_a_stream_ends_when_the_browser_goes_away(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    inbox = await inbox_id(store, account)
    async with ann.stream("GET", "/events") as response:
        await next_event(response.aiter_lines())
        assert store.events._waiters  # the stream waits on the account's folders
    deadline = time.monotonic() + 5
    while store.events._waiters and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not store.events._waiters, "the stream kept waiting after the client left"
    await deliver(store, inbox, [make_message("after")])  # wakes nobody, breaks nothing


async def test_stopping_the_server_ends_open_streams_at_once(
        store: Store, account: AccountInfo) -> None:
    live = LiveServer(store)
    await live.start()
    async with live.client() as client:
        assert (await login(client)).status_code == 303
        async with client.stream("GET", "/events") as response:
            lines = response.aiter_lines()
            await next_event(lines)
            started = time.monotonic()
            await asyncio.wait_for(live.stop(), 5)
            assert time.monotonic() - started < 3
            rest = [line async for line in lines]
            assert not any(line.startswith("event:") for line in rest)
