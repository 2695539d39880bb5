"""Search: the box over one folder or all, the advanced fields, paging, highlighting, and
errors next to the field."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx

from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.web.conftest import LiveServer, deliver, inbox_id, login, make_message

_ROW = re.compile(r'<a href="(/message/[^"?]+)(?:\?[^"]*)?" class="row result')


def result_urls(html: str) -> list[str]:
    """The messages the results open (their paths; the query holds the way back)."""
    return _ROW.findall(html)


def count_line(html: str) -> str:
    match = re.search(r'<p class="muted" id="result-count" role="status">\s*(.*?)\s*</p>',
                      html, re.S)
    assert match, "no result count"
    return " ".join(match.group(1).split())


def field_error(html: str, name: str) -> str:
    match = re.search(rf'<p class="field-error" id="search-{name}-error">(.*?)</p>', html)
    assert match, f"no error next to {name}"
    return match.group(1)


async def test_the_search_box_is_in_the_top_bar_of_the_mail_page(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    page = await ann.get("/mail/INBOX")
    assert '<form class="search-box" role="search" method="get" action="/search"' in page.text
    assert 'id="search-q" name="q"' in page.text
    assert '<label for="search-q" class="visually-hidden">Search mail</label>' in page.text


async def test_search_in_the_folder_finds_matches_newest_first(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    inbox = await inbox_id(store, account)
    await deliver(store, inbox, [
        make_message("Budget for 2025", "numbers attached"),
        make_message("Lunch", "pizza?"),
        make_message("Re: Budget for 2025", "looks fine"),
    ])
    page = await ann.get("/search", params={"q": "budget", "folder": "INBOX"})
    assert page.status_code == 200
    assert result_urls(page.text) == ["/message/INBOX/3", "/message/INBOX/1"]
    assert count_line(page.text) == "1–2 of 2 in Inbox"


async def test_every_word_of_the_box_must_match_and_quotes_keep_words_together(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    inbox = await inbox_id(store, account)
    await deliver(store, inbox, [
        make_message("quarterly report", "for the board"),
        make_message("report", "quarterly numbers, not the board"),
        make_message("the report is quarterly", "x"),
    ])
    both = await ann.get("/search", params={"q": "quarterly board"})
    assert result_urls(both.text) == ["/message/INBOX/2", "/message/INBOX/1"]
    phrase = await ann.get("/search", params={"q": '"quarterly report"'})
    assert result_urls(phrase.text) == ["/message/INBOX/1"]


async def test_scope_folder_searches_only_that_folder_and_all_searches_every_folder(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    inbox = await inbox_id(store, account)
    archive = await store.folders.create(account.id, "Archive/2024")
    await deliver(store, inbox, [make_message("kiwi in the inbox")])
    await deliver(store, archive.id, [make_message("kiwi in the archive")],
                  first_date=1_800_000_000)
    here = await ann.get("/search", params={"q": "kiwi", "folder": "Archive/2024"})
    assert result_urls(here.text) == ["/message/Archive/2024/1"]
    assert 'class="result-folder"' not in here.text
    everywhere = await ann.get("/search", params={"q": "kiwi", "scope": "all"})
    assert result_urls(everywhere.text) == ["/message/Archive/2024/1", "/message/INBOX/1"]
    labels = re.findall(r'<span class="result-folder">(.*?)</span>', everywhere.text)
    assert labels == ["Archive / 2024", "Inbox"]
    assert count_line(everywhere.text) == "1–2 of 2 in all folders"


async def test_each_advanced_text_field_searches_its_own_field(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    inbox = await inbox_id(store, account)
    await deliver(store, inbox, [
        make_message("melon", "plain", sender="Mel <mel@fruit.example>"),
        make_message("plain", "melon", to="Mel <mel@fruit.example>"),
        make_message("other", "melon", sender="Olga <olga@example.net>"),
    ])

    async def found(**fields: str) -> list[str]:
        page = await ann.get("/search", params={"q": "", **fields})
        assert page.status_code == 200, page.text
        return result_urls(page.text)

    assert await found(**{"from": "mel@fruit"}) == ["/message/INBOX/1"]
    assert await found(to="mel@fruit") == ["/message/INBOX/2"]
    assert await found(subject="melon") == ["/message/INBOX/1"]
    assert await found(body="melon") == ["/message/INBOX/3", "/message/INBOX/2"]
    assert await found(body="melon", **{"from": "olga"}) == ["/message/INBOX/3"]


async def test_date_range_and_has_attachment(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    inbox = await inbox_id(store, account)
    may_1 = int(datetime(2024, 5, 1, 12, tzinfo=UTC).timestamp())
    await deliver(store, inbox, [
        make_message("report one"),
        make_message("report two", attachments=[("a.pdf", "application/pdf", b"%PDF")]),
        make_message("report three"),
    ], first_date=may_1)
    # The three arrive on 1 May 2024, a minute apart; move the clock with a second batch.
    may_20 = int(datetime(2024, 5, 20, 12, tzinfo=UTC).timestamp())
    await deliver(store, inbox, [make_message("report four")], first_date=may_20)

    async def found(**fields: str) -> list[str]:
        page = await ann.get("/search", params={"q": "report", **fields})
        assert page.status_code == 200, page.text
        return result_urls(page.text)

    assert await found(since="2024-05-02") == ["/message/INBOX/4"]
    assert await found(before="2024-05-20") == [
        "/message/INBOX/3", "/message/INBOX/2", "/message/INBOX/1"]
    assert await found(since="2024-05-01", before="2024-05-02") == [
        "/message/INBOX/3", "/message/INBOX/2", "/message/INBOX/1"]
    assert await found(attachment="1") == ["/message/INBOX/2"]


async def test_results_are_paged(store: Store, account: AccountInfo) -> None:
    live = LiveServer(store, messages_per_page=2)
    await live.start()
    try:
        async with live.client() as client:
            await login(client)
            inbox = await inbox_id(store, account)
            await deliver(store, inbox, [make_message(f"apple {n}") for n in range(1, 6)]
                          + [make_message("pear")])
            first = await client.get("/search", params={"q": "apple"})
            assert result_urls(first.text) == ["/message/INBOX/5", "/message/INBOX/4"]
            assert count_line(first.text) == "1–2 of 5 in Inbox"
            assert "Page 1 of 3" in first.text
            older = re.search(r'<a href="([^"]+)" rel="next">', first.text).group(1)
            second = await client.get(older.replace("&amp;", "&"))
            assert result_urls(second.text) == ["/message/INBOX/3", "/message/INBOX/2"]
            last = await client.get("/search", params={"q": "apple", "page": "3"})
            assert result_urls(last.text) == ["/message/INBOX/1"]
            assert count_line(last.text) == "5–5 of 5 in Inbox"
            beyond = await client.get("/search", params={"q": "apple", "page": "9"})
            assert result_urls(beyond.text) == ["/message/INBOX/1"]  # the last page
            assert count_line(beyond.text) == "5–5 of 5 in Inbox"
    finally:
        await live.stop()


async def test_matches_are_highlighted_and_everything_else_is_escaped(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    inbox = await inbox_id(store, account)
    body = ("Lots of words before the interesting part. " * 4
            + "Here is <script>alert(1)</script> the Invoice & more text after it.")
    await deliver(store, inbox, [make_message(
        "<b>Invoice</b> 4471", body, sender='"<i>Invoice Dept</i>" <billing@example.org>')])
    page = await ann.get("/search", params={"q": "invoice"})
    text = page.text
    assert ('<span class="subject">&lt;b&gt;<mark>Invoice</mark>&lt;/b&gt; 4471</span>'
            in text)
    assert '<span class="from">&lt;i&gt;<mark>Invoice</mark> Dept&lt;/i&gt;</span>' in text
    snippet = re.search(r'<span class="preview snippet">(.*?)</span>', text).group(1)
    assert snippet.startswith("…")  # cut to the part around the match
    assert "&lt;script&gt;alert(1)&lt;/script&gt; the <mark>Invoice</mark> &amp; more" in snippet
    assert "<script>alert" not in text and "<b>Invoice" not in text


async def test_a_search_needle_with_markup_is_escaped_in_the_box_and_the_marks(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    inbox = await inbox_id(store, account)
    await deliver(store, inbox, [make_message("a <tag> here")])
    page = await ann.get("/search", params={"q": "<tag>"})
    assert 'value="&lt;tag&gt;"' in page.text
    assert "a <mark>&lt;tag&gt;</mark> here" in page.text


async def test_bad_input_gets_an_error_next_to_the_field(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    bad_date = await ann.get("/search", params={"q": "x", "since": "last tuesday"})
    assert bad_date.status_code == 400
    assert field_error(bad_date.text, "since") == \
        "“last tuesday” is not a date; use the form 2024-05-17"
    assert 'value="last tuesday" aria-invalid="true"' in bad_date.text
    assert '<details class="search-advanced" open>' in bad_date.text
    order = await ann.get("/search", params={"since": "2024-06-01", "before": "2024-05-01"})
    assert order.status_code == 400
    assert "later day" in field_error(order.text, "before")
    folder = await ann.get("/search", params={"q": "x", "folder": "Nowhere"})
    assert folder.status_code == 400
    assert field_error(folder.text, "folder") == "There is no folder named “Nowhere”"
    scope = await ann.get("/search", params={"q": "x", "scope": "everywhere"})
    assert scope.status_code == 400
    assert field_error(scope.text, "scope") == "Search this folder or all folders"
    assert "Traceback" not in bad_date.text + order.text + folder.text + scope.text


async def test_an_empty_search_shows_the_form_without_results(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await deliver(store, await inbox_id(store, account), [make_message("anything")])
    page = await ann.get("/search")
    assert page.status_code == 200
    assert result_urls(page.text) == []
    assert "Type in the search box" in count_line(page.text)


async def test_a_message_opened_from_results_goes_back_to_the_results(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await deliver(store, await inbox_id(store, account),
                  [make_message("Melon news"), make_message("Other")])
    results = await ann.get("/search", params={"q": "melon", "scope": "all"})
    link = html.unescape(re.search(r'<a href="([^"]+)" class="row result', results.text)[1])
    assert link.startswith("/message/INBOX/1?")
    back = parse_qs(urlsplit(link).query)["back"][0]
    assert back == "/search?q=melon&scope=all"
    opened = await ann.get(link)
    assert opened.status_code == 200
    toolbar_back = re.search(r'<a class="tool back-to-list" href="([^"]+)"', opened.text)[1]
    assert html.unescape(toolbar_back) == back
    assert f'<a class="back" href="{html.escape(back)}">← Back to search results</a>' \
        in opened.text
    # Archive and delete from there go back to the results too.
    assert f'name="back" value="{html.escape(back)}"' in opened.text
    # Links and forms that show the message again keep the way back.
    next_url = re.search(r'add-contact">.*?name="next" value="([^"]+)"', opened.text, re.S)[1]
    assert parse_qs(urlsplit(html.unescape(next_url)).query)["back"] == [back]
    plain = await ann.get("/message/INBOX/1")
    assert '<a class="tool back-to-list" href="/mail/INBOX"' in plain.text


async def test_back_from_a_message_never_leads_to_another_site(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await deliver(store, await inbox_id(store, account), [make_message("Hi")])
    for evil in ("https://evil.example/", "//evil.example/", "/\\evil.example/",
                 "javascript:alert(1)", "/search?q=a\nb"):
        opened = await ann.get("/message/INBOX/1", params={"back": evil})
        assert opened.status_code == 200
        assert '<a class="tool back-to-list" href="/mail/INBOX"' in opened.text, evil
        assert "evil.example" not in opened.text and "javascript:" not in opened.text


async def test_search_never_shows_another_users_mail(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    bob = await store.accounts.create("bob@example.com", "bobs own password")
    await deliver(store, await inbox_id(store, bob), [make_message("secret mango")])
    await deliver(store, await inbox_id(store, account), [make_message("my mango")])
    everywhere = await ann.get("/search", params={"q": "mango", "scope": "all"})
    assert result_urls(everywhere.text) == ["/message/INBOX/1"]
    assert "secret" not in everywhere.text


async def test_search_needs_a_signed_in_user(client: httpx.AsyncClient) -> None:
    response = await client.get("/search", params={"q": "x"})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


async def test_a_common_word_on_postgresql_shows_more_than_what_was_counted(
        store: Store, account: AccountInfo) -> None:
    # PostgreSQL counts a common word (50 or more matches) only five pages ahead; SQLite
    # counts all. Either way the next pages stay reachable.
    live = LiveServer(store, messages_per_page=2)
    await live.start()
    try:
        async with live.client() as client:
            await login(client)
            inbox = await inbox_id(store, account)
            await deliver(store, inbox, [make_message(f"plum {n}") for n in range(1, 61)])
            first = await client.get("/search", params={"q": "plum"})
            assert result_urls(first.text) == ["/message/INBOX/60", "/message/INBOX/59"]
            if store.db.is_sqlite:
                assert count_line(first.text) == "1–2 of 60 in Inbox"
                assert "Page 1 of 30<" in first.text
            else:
                assert count_line(first.text) == "1–2 of more than 10 in Inbox"
                assert "Page 1 of 6+<" in first.text
            older = re.search(r'<a href="([^"]+)" rel="next">', first.text).group(1)
            second = await client.get(older.replace("&amp;", "&"))
            assert result_urls(second.text) == ["/message/INBOX/58", "/message/INBOX/57"]
            last = await client.get("/search", params={"q": "plum", "page": "30"})
            assert result_urls(last.text) == ["/message/INBOX/2", "/message/INBOX/1"]
            assert count_line(last.text) == "59–60 of 60 in Inbox"
    finally:
        await live.stop()
