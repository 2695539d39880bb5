"""How the list is shown: sorting, the conversation view, the display preferences, the unread
count in the title, the markers and the accessible structure of the page."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx

from mailstore.preferences import Preferences
from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.web.conftest import LiveServer, deliver, inbox_id, login, make_message
from tests.web.test_mail_list import subjects


async def _four(store: Store, account: AccountInfo) -> int:
    inbox = await inbox_id(store, account)
    await deliver(store, inbox, [
        make_message("Budget", "x" * 50, sender="Carol <carol@example.org>"),
        make_message("Re: Apples", "x" * 5000, sender="alice <alice@example.org>"),
        make_message("Zebra crossing", "x" * 500, sender="Bob <bob@example.org>"),
        make_message("minutes", "x" * 10, sender="dave@example.org"),
    ])
    return inbox


async def test_the_list_sorts_by_date_sender_subject_and_size_both_ways(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await _four(store, account)
    expected = {
        "": ["minutes", "Zebra crossing", "Re: Apples", "Budget"],
        "?order=asc": ["Budget", "Re: Apples", "Zebra crossing", "minutes"],
        "?sort=from&order=asc": ["Re: Apples", "Zebra crossing", "Budget", "minutes"],
        "?sort=from": ["minutes", "Budget", "Zebra crossing", "Re: Apples"],
        # The base subject: "Re: Apples" sorts under A; case does not matter.
        "?sort=subject&order=asc": ["Re: Apples", "Budget", "minutes", "Zebra crossing"],
        "?sort=size": ["Re: Apples", "Zebra crossing", "Budget", "minutes"],
        "?sort=size&order=asc": ["minutes", "Budget", "Zebra crossing", "Re: Apples"],
        "?sort=bogus&order=sideways": ["minutes", "Zebra crossing", "Re: Apples", "Budget"],
    }
    for query, order in expected.items():
        page = await ann.get("/mail/INBOX" + query)
        assert page.status_code == 200
        assert subjects(page.text) == order, query


async def test_sort_links_flip_the_order_and_keep_it_across_pages_and_messages(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    inbox = await inbox_id(store, account)
    await deliver(store, inbox, [make_message(f"m{i:03}") for i in range(60)])
    page = await ann.get("/mail/INBOX?sort=subject&order=asc")
    assert 'href="/mail/INBOX?sort=subject" aria-current="true" class="sorted asc"' in page.text
    assert 'href="/mail/INBOX?sort=size">Size</a>' in page.text
    assert 'href="/mail/INBOX?page=2&amp;sort=subject&amp;order=asc" rel="next"' in page.text
    assert 'href="/message/INBOX/1?sort=subject&amp;order=asc"' in page.text
    second = await ann.get("/mail/INBOX?page=2&sort=subject&order=asc")
    assert subjects(second.text) == [f"m{i:03}" for i in range(50, 60)]
    opened = await ann.get("/message/INBOX/55?page=2&sort=subject&order=asc")
    assert subjects(opened.text)[:2] == ["m050", "m051"]


def _thread(subject: str, msgid: str, parent: str | None = None, minute: int = 0) -> bytes:
    raw = make_message(subject, date=datetime(2024, 5, 17, 9, minute, tzinfo=UTC))
    raw = re.sub(rb"Message-ID: <[^>]+>", f"Message-ID: <{msgid}>".encode(), raw)
    if parent:
        raw = f"In-Reply-To: <{parent}>\nReferences: <{parent}>\n".encode() + raw
    return raw


async def test_the_conversation_view_groups_replies_under_their_thread(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    inbox = await inbox_id(store, account)
    await deliver(store, inbox, [
        _thread("Trip", "trip@x"),
        _thread("Lunch", "lunch@x"),
        _thread("Re: Trip", "trip-2@x", "trip@x"),
        _thread("Re: Re: Trip", "trip-3@x", "trip-2@x"),
        _thread("Other", "other@x"),
    ])
    flat = await ann.get("/mail/INBOX")
    assert subjects(flat.text) == ["Other", "Re: Re: Trip", "Re: Trip", "Lunch", "Trip"]
    assert 'aria-pressed="false">Conversations off</a>' in flat.text
    threaded = await ann.get("/mail/INBOX?threads=1")
    # Each conversation sits where its newest message of the page would; replies under it.
    assert subjects(threaded.text) == ["Other", "Trip", "Re: Trip", "Re: Re: Trip", "Lunch"]
    depths = re.findall(r'class="item depth-(\d)', threaded.text)
    assert depths == ["0", "0", "1", "2", "0"]
    assert 'aria-pressed="true">Conversations on</a>' in threaded.text
    await store.preferences.save(account.id, Preferences(thread_view=True))
    by_default = await ann.get("/mail/INBOX")
    assert subjects(by_default.text) == subjects(threaded.text)
    assert subjects((await ann.get("/mail/INBOX?threads=0")).text) == subjects(flat.text)


async def test_display_preferences_shape_the_page(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    inbox = await inbox_id(store, account)
    await deliver(store, inbox, [make_message(f"m{i}") for i in range(15)])
    page = await ann.get("/mail/INBOX")
    assert 'class="app density-comfortable pane-right"' in page.text
    assert len(subjects(page.text)) == 15
    await store.preferences.save(account.id, Preferences(
        density="compact", reading_pane="bottom", per_page=10))
    page = await ann.get("/mail/INBOX")
    assert 'class="app density-compact pane-bottom"' in page.text
    assert len(subjects(page.text)) == 10 and "1–10 of 15" in page.text
    await store.preferences.save(account.id, Preferences(reading_pane="off"))
    opened = await ann.get("/message/INBOX/3")
    assert 'class="app density-comfortable pane-off reading"' in opened.text


async def test_the_title_shows_the_inbox_unread_count(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    assert "<title>Inbox · Tidings</title>" in (await ann.get("/mail/INBOX")).text
    inbox = await inbox_id(store, account)
    await deliver(store, inbox, [make_message("a"), make_message("b")])
    assert "<title>(2) Inbox · Tidings</title>" in (await ann.get("/mail/INBOX")).text
    assert "<title>(2) Sent · Tidings</title>" in (await ann.get("/mail/Sent")).text
    assert "<title>(1) a · Tidings</title>" in (await ann.get("/message/INBOX/1")).text


async def test_the_page_has_labelled_landmarks_and_a_selectable_grid(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await deliver(store, await inbox_id(store, account), [make_message("Hello there")])
    page = (await ann.get("/mail/INBOX")).text
    assert '<nav id="folders" class="folders" aria-label="Folders">' in page
    assert 'role="grid" aria-label="Messages in Inbox" aria-multiselectable="true"' in page
    assert '<li role="row" class="item depth-0" data-uid="1" draggable="true"' in page
    assert '<input type="checkbox" name="uid" value="1" aria-label="Select Hello there">' in page
    assert 'aria-label="Reading pane"' in page
    assert 'role="toolbar" aria-label="Act on the selected messages"' in page
    assert '<label class="visually-hidden" for="list-move">' in page
    assert '<dialog id="shortcuts" aria-labelledby="shortcuts-title">' in page
    assert '<script src="/static/mail.js" defer></script>' in page
    assert "onclick" not in page and " style=" not in page
    assert 'data-events="/events"' in page


async def test_static_mail_script_and_stylesheet_are_served(ann: httpx.AsyncClient) -> None:
    script = await ann.get("/static/mail.js")
    assert script.status_code == 200
    assert "EventSource" in script.text and "keydown" in script.text
    css = await ann.get("/static/tidings.css")
    for name in ("--bg", "--fg", "--muted", "--accent", "--border", "--hover", "--selected"):
        assert f"{name}:" in css.text
    assert "prefers-color-scheme: dark" in css.text


async def test_the_sites_page_size_applies_until_the_user_chooses_one(
        store: Store, account: AccountInfo) -> None:
    await deliver(store, await inbox_id(store, account),
                  [make_message(f"m{i}") for i in range(30)])
    live = LiveServer(store, messages_per_page=20)
    await live.start()
    try:
        async with live.client() as client:
            assert (await login(client)).status_code == 303
            assert len(subjects((await client.get("/mail/INBOX")).text)) == 20
            await store.preferences.save(account.id, Preferences(per_page=10))
            assert len(subjects((await client.get("/mail/INBOX")).text)) == 10
    finally:
        await live.stop()
