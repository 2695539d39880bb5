"""Folders and the paged message list."""

from __future__ import annotations

import re

import httpx

from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.web.conftest import deliver, inbox_id, make_message

_SUBJECTS = re.compile(r'<span class="subject">(?:<span class="flag"[^>]*>★</span> )?([^<]+)')
_UNREAD = re.compile(r'href="/mail/(\w+)" class="folder[^"]*has-unseen"[^>]*>\s*'
                     r'<span class="name">[^<]*</span>\s*<span class="count"[^>]*>(\d+)</span>')


def subjects(html: str) -> list[str]:
    return [s.strip() for s in _SUBJECTS.findall(html)]


def unread_counts(html: str) -> dict[str, int]:
    return {name: int(n) for name, n in _UNREAD.findall(html)}


async def test_folder_list_shows_every_folder_with_unread_counts(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    inbox = await inbox_id(store, account)
    await deliver(store, inbox, [make_message(f"m{i}") for i in range(3)])
    await store.messages.store_flags(inbox, [1], ["\\Seen"], "add")
    trash = (await store.folders.get(account.id, "Trash")).id
    await deliver(store, trash, [make_message("old")])
    page = await ann.get("/mail/INBOX")
    assert page.status_code == 200
    for name in ("Inbox", "Drafts", "Sent", "Junk", "Trash", "Archive"):
        assert f'<span class="name">{name}</span>' in page.text
    assert unread_counts(page.text) == {"INBOX": 2, "Trash": 1}


async def test_message_list_is_paged_newest_first(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    inbox = await inbox_id(store, account)
    await deliver(store, inbox, [make_message(f"Message {i:03}") for i in range(120)])
    first = await ann.get("/mail/INBOX")
    assert subjects(first.text) == [f"Message {i:03}" for i in range(119, 69, -1)]
    assert "1–50 of 120" in first.text
    assert 'href="/mail/INBOX?page=2" rel="next"' in first.text
    second = await ann.get("/mail/INBOX?page=2")
    assert subjects(second.text) == [f"Message {i:03}" for i in range(69, 19, -1)]
    third = await ann.get("/mail/INBOX?page=3")
    assert subjects(third.text) == [f"Message {i:03}" for i in range(19, -1, -1)]
    assert "101–120 of 120" in third.text
    assert 'rel="next"' not in third.text
    assert 'href="/mail/INBOX?page=2" rel="prev"' in third.text


async def test_a_page_past_the_end_shows_the_last_page(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await deliver(store, await inbox_id(store, account), [make_message("only")])
    for query in ("?page=99", "?page=-3", "?page=abc"):
        page = await ann.get("/mail/INBOX" + query)
        assert page.status_code == 200
        assert subjects(page.text) == ["only"]


async def test_empty_folder_says_so(account: AccountInfo, ann: httpx.AsyncClient) -> None:
    page = await ann.get("/mail/Drafts")
    assert page.status_code == 200
    assert "This folder is empty." in page.text


async def test_folder_names_are_case_insensitive_only_for_inbox(
        account: AccountInfo, ann: httpx.AsyncClient) -> None:
    assert (await ann.get("/mail/inbox")).status_code == 200
    assert (await ann.get("/mail/sent")).status_code == 404


async def test_subfolders_with_numeric_names_have_their_own_list_and_messages(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    archive = await store.folders.create(account.id, "Archive/2024")
    spaced = await store.folders.create(account.id, "Projects/Q3 plans & ideas")
    await deliver(store, archive.id, [make_message("from the archive")])
    await deliver(store, spaced.id, [make_message("plans")])
    page = await ann.get("/mail/Archive/2024")
    assert subjects(page.text) == ["from the archive"]
    assert 'href="/message/Archive/2024/1' in page.text
    message = await ann.get("/message/Archive/2024/1")
    assert message.status_code == 200
    assert "from the archive" in message.text
    page = await ann.get("/mail/Projects/Q3%20plans%20%26%20ideas")
    assert subjects(page.text) == ["plans"]
    assert 'href="/message/Projects/Q3%20plans%20%26%20ideas/1' in page.text


async def test_list_rows_show_sender_preview_and_attachment_marker(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    raw = make_message("Report", "Numbers are attached.\n",
                       attachments=[("q3.pdf", "application/pdf", b"%PDF-1.4 fake")])
    await deliver(store, await inbox_id(store, account), [raw])
    page = await ann.get("/mail/INBOX")
    assert '<span class="from">Bob Example</span>' in page.text
    assert "Numbers are attached." in page.text
    assert 'title="Has attachments"' in page.text
    assert 'class="row unread' in page.text
