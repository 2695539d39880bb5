"""Opening a message: headers, text, \\Seen, attachments, not-found pages."""

from __future__ import annotations

import httpx

from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.web.conftest import deliver, inbox_id, make_message
from tests.web.test_mail_list import unread_counts


async def test_message_page_shows_headers_and_text(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    raw = make_message("Lunch on Friday?", "Hi Ann,\n\nlunch at <Luigi's>?\n> earlier text\n",
                       cc="Carol <carol@example.net>")
    await deliver(store, await inbox_id(store, account), [raw])
    page = await ann.get("/message/INBOX/1")
    assert page.status_code == 200
    text = page.text
    assert '<h1 class="subject">Lunch on Friday?</h1>' in text
    assert "<strong>Bob Example</strong>" in text and "&lt;bob@example.org&gt;" in text
    assert "<dt>To</dt><dd>Ann &lt;ann@example.com&gt;</dd>" in text
    assert "<dt>Cc</dt><dd>Carol &lt;carol@example.net&gt;</dd>" in text
    assert "<dt>Date</dt>" in text and "2024" in text
    assert "lunch at &lt;Luigi&#39;s&gt;?" in text or "lunch at &lt;Luigi's&gt;?" in text
    assert '<span class="quote q1">&gt; earlier text</span>' in text
    assert "<iframe" not in text  # plain text is shown in the page itself


async def test_links_in_plain_text_open_in_a_new_tab(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    raw = make_message("link", "See https://example.org/a?b=1&c=2.\n")
    await deliver(store, await inbox_id(store, account), [raw])
    page = await ann.get("/message/INBOX/1")
    assert ('<a href="https://example.org/a?b=1&amp;c=2" target="_blank" '
            'rel="noopener noreferrer">') in page.text


async def test_opening_a_message_marks_it_seen(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    inbox = await inbox_id(store, account)
    await deliver(store, inbox, [make_message("first"), make_message("second")])
    before = await ann.get("/mail/INBOX")
    assert unread_counts(before.text) == {"INBOX": 2}
    opened = await ann.get("/message/INBOX/2")
    assert unread_counts(opened.text) == {"INBOX": 1}  # the page itself is up to date
    after = await ann.get("/mail/INBOX")
    assert unread_counts(after.text) == {"INBOX": 1}
    assert (await store.folders.get(account.id, "INBOX")).unseen == 1
    flags = {m.uid: m.seen for m in await store.messages.page(inbox, 0, 10)}
    assert flags == {1: False, 2: True}
    await ann.get("/message/INBOX/2")  # opening it again changes nothing
    assert (await store.folders.get(account.id, "INBOX")).unseen == 1


async def test_attachments_are_listed_with_sizes_and_download_decoded(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    pdf = b"%PDF-1.4\n" + bytes(range(256)) * 40
    raw = make_message("Invoice", "Attached.\n", attachments=[
        ("invoice 2024.pdf", "application/pdf", pdf),
        ("résumé.txt", "text/plain", "Déjà vu\n".encode()),
    ])
    await deliver(store, await inbox_id(store, account), [raw])
    page = await ann.get("/message/INBOX/1")
    assert "2 attachments" in page.text
    assert ">invoice 2024.pdf</a>" in page.text
    assert "10 KB · application/pdf" in page.text
    assert 'href="/attachment/INBOX/1/2" download' in page.text
    download = await ann.get("/attachment/INBOX/1/2")
    assert download.status_code == 200
    assert download.content == pdf
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"] == 'attachment; filename="invoice 2024.pdf"'
    assert download.headers["x-content-type-options"] == "nosniff"
    text = await ann.get("/attachment/INBOX/1/3")
    assert text.content == "Déjà vu\n".encode()
    assert text.headers["content-disposition"] == (
        "attachment; filename=\"resume.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt")


async def test_a_part_that_is_not_an_attachment_cannot_be_downloaded(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    raw = make_message("x", "body", attachments=[("a.bin", "application/octet-stream", b"1")])
    await deliver(store, await inbox_id(store, account), [raw])
    assert (await ann.get("/attachment/INBOX/1/1")).status_code == 404  # the text body
    assert (await ann.get("/attachment/INBOX/1/9")).status_code == 404


async def test_missing_message_gives_a_friendly_404(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await deliver(store, await inbox_id(store, account), [make_message()])
    for url in ("/message/INBOX/99", "/body/INBOX/99", "/attachment/INBOX/99/2"):
        response = await ann.get(url)
        assert response.status_code == 404, url
        assert "<h1>Not found</h1>" in response.text
        assert "Message 99 does not exist" in response.text
        assert "Traceback" not in response.text
    assert (await ann.get("/message/INBOX/99999999999999999999999")).status_code == 404
    assert (await ann.get("/message/INBOX/0")).status_code == 404


async def test_missing_folder_gives_a_friendly_404(ann: httpx.AsyncClient) -> None:
    for url in ("/mail/Nope", "/message/Nope/1", "/mail/bad*name", "/mail/INBOX//x"):
        response = await ann.get(url)
        assert response.status_code == 404, url
        assert "<h1>Not found</h1>" in response.text


async def test_unknown_url_gives_the_404_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/no/such/page")
    assert response.status_code == 404
    assert "<h1>Not found</h1>" in response.text
    assert response.headers["content-security-policy"].startswith("default-src 'self'")


async def test_htmx_requests_get_the_whole_page_to_pick_the_message_pane_from(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await deliver(store, await inbox_id(store, account), [make_message("pane")])
    page = await ann.get("/message/INBOX/1", headers={"HX-Request": "true"})
    assert '<main id="message-pane" class="message open" aria-label="Reading pane">' in page.text
    assert '<nav id="folders"' in page.text and '<ol id="rows"' in page.text


async def test_a_message_offers_reply_reply_all_and_forward_and_a_draft_offers_editing(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await deliver(store, await inbox_id(store, account), [make_message("Plans")])
    drafts = await store.folders.get(account.id, "Drafts")
    await deliver(store, drafts.id, [make_message("Unfinished")])
    page = (await ann.get("/message/INBOX/1")).text
    for link in ("/compose/reply/INBOX/1", "/compose/reply-all/INBOX/1",
                 "/compose/forward/INBOX/1", "/compose/forward/INBOX/1?attach=1"):
        assert f'href="{link}"' in page
    assert "/compose/draft/" not in page
    draft_page = (await ann.get("/message/Drafts/1")).text
    assert 'href="/compose/draft/1"' in draft_page
