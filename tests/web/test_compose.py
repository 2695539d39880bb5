"""Writing mail over HTTP: compose, reply, reply all, forward, drafts, attachments, send, undo."""

from __future__ import annotations

import asyncio
import json
import time
from email import policy
from email.parser import BytesParser
from html.parser import HTMLParser

import httpx
import pytest

from mailstore.flags import ANSWERED, DRAFT, SEEN
from mailstore.outbox import SENDING, Outbox
from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.web.conftest import PASSWORD, LiveServer, deliver, inbox_id, login, make_message

JS = {"X-Requested-With": "compose"}


class _Fields(HTMLParser):
    """The values a browser would post from the compose form."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.fields: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "input" and a.get("name") and a.get("type") not in ("file", "checkbox"):
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self.fields[a["name"]] = ""
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields[self._textarea] += data


def fields(html: str) -> dict[str, str]:
    parser = _Fields()
    parser.feed(html)
    found = parser.fields
    # A textarea's first newline belongs to the markup (HTML §13.2.6.4.7).
    for name in ("text_body", "html_body"):
        if found.get(name, "").startswith("\n"):
            found[name] = found[name][1:]
    return found


async def compose_fields(client: httpx.AsyncClient, url: str = "/compose") -> dict[str, str]:
    page = await client.get(url)
    assert page.status_code == 200, page.text
    return fields(page.text)


def parse(raw: bytes):
    return BytesParser(policy=policy.default).parsebytes(raw)


async def folder_messages(store: Store, account_id: int, name: str) -> list:
    folder = await store.folders.get(account_id, name)
    return await store.messages.page(folder.id, 0, 100)


async def raw_of(store: Store, account_id: int, name: str, uid: int) -> bytes:
    folder = await store.folders.get(account_id, name)
    message = await store.messages.get(folder.id, uid)
    return store.messages.read_raw(message.sha256)


@pytest.fixture
async def bob(store: Store, account: AccountInfo) -> AccountInfo:
    return await store.accounts.create("bob@example.com", PASSWORD)


@pytest.fixture
def instant(server: LiveServer) -> LiveServer:
    """Send at once (no undo window), so the test can look right after the request."""
    server.app.state.undo_seconds = 0
    return server


ORIGINAL_ID = "<first.1@example.org>"


async def _original(store: Store, account: AccountInfo, **kwargs: object) -> None:
    raw = make_message(**kwargs)  # type: ignore[arg-type]
    message = parse(raw)
    del message["Message-ID"]
    message["Message-ID"] = ORIGINAL_ID
    message["References"] = "<root.0@example.org>"
    await deliver(store, await inbox_id(store, account), [bytes(message)])


async def test_reply_quotes_the_original_and_sets_in_reply_to(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await _original(store, account, subject="Lunch plans", body="Hi Ann,\nnoon?\n")
    form = await compose_fields(ann, "/compose/reply/INBOX/1")
    assert form["to"] == "Bob Example <bob@example.org>"
    assert form["cc"] == ""
    assert form["subject"] == "Re: Lunch plans"
    assert form["in_reply_to"] == ORIGINAL_ID
    # RFC 5322 §3.6.4: the parent's References, then the parent itself.
    assert form["references"] == f"<root.0@example.org> {ORIGINAL_ID}"
    assert "On Fri, 17 May 2024 at 09:30, Bob Example wrote:\n> Hi Ann,\n> noon?" \
        in form["text_body"]
    assert '<blockquote type="cite">Hi Ann,<br>noon?</blockquote>' in form["html_body"]
    assert form["from"] == "ann@example.com"


async def test_reply_prefixes_do_not_pile_up(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    inbox = await inbox_id(store, account)
    await deliver(store, inbox, [make_message("RE: Re: Re[2]: budget"),
                                 make_message("Fwd: agenda")])
    assert (await compose_fields(ann, "/compose/reply/INBOX/1"))["subject"] == "Re: budget"
    assert (await compose_fields(ann, "/compose/forward/INBOX/2"))["subject"] == "Fwd: agenda"
    assert (await compose_fields(ann, "/compose/forward/INBOX/1"))["subject"] == \
        "Fwd: RE: Re: Re[2]: budget"


async def test_reply_all_keeps_the_others_and_leaves_out_the_users_own_addresses(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await store.accounts.add_alias("sales@example.com", "ann@example.com")
    await _original(store, account, to="Ann <ann@example.com>, Carol <carol@example.net>",
                    cc="sales@example.com, dave@example.net, ann+lists@example.com")
    form = await compose_fields(ann, "/compose/reply-all/INBOX/1")
    assert form["to"] == "Bob Example <bob@example.org>, Carol <carol@example.net>"
    assert form["cc"] == "dave@example.net"
    plain = await compose_fields(ann, "/compose/reply/INBOX/1")
    assert plain["to"] == "Bob Example <bob@example.org>" and plain["cc"] == ""


async def test_reply_goes_to_reply_to_when_the_original_has_one(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    message = parse(make_message())
    message["Reply-To"] = "List <list@example.org>"
    await deliver(store, await inbox_id(store, account), [bytes(message)])
    assert (await compose_fields(ann, "/compose/reply/INBOX/1"))["to"] == \
        "List <list@example.org>"


async def test_forward_inline_quotes_headers_and_carries_the_attachments(
        store: Store, account: AccountInfo, bob: AccountInfo, ann: httpx.AsyncClient,
        instant: LiveServer) -> None:
    await _original(store, account, subject="Report", body="See attached.\n",
                    attachments=[("report.pdf", "application/pdf", b"%PDF-1.4 data")])
    form = await compose_fields(ann, "/compose/forward/INBOX/1")
    assert form["subject"] == "Fwd: Report"
    assert "---------- Forwarded message ----------\nFrom: Bob Example <bob@example.org>" \
        in form["text_body"]
    assert "Subject: Report" in form["text_body"] and "See attached." in form["text_body"]
    assert form["in_reply_to"] == ""
    form.update(to="bob@example.com", format="text")
    sent = await ann.post("/compose/send", data=form)
    assert sent.status_code == 303, sent.text
    received = parse(await raw_of(store, bob.id, "INBOX", 1))
    names = [p.get_filename() for p in received.iter_attachments()]
    assert names == ["report.pdf"]
    assert next(received.iter_attachments()).get_content() == b"%PDF-1.4 data"


async def test_forward_as_attachment_sends_the_original_as_message_rfc822(
        store: Store, account: AccountInfo, bob: AccountInfo, ann: httpx.AsyncClient,
        instant: LiveServer) -> None:
    await _original(store, account, subject="Minutes", body="The minutes.\n")
    page = await ann.get("/compose/forward/INBOX/1?attach=1")
    assert "Minutes.eml" in page.text and "from the original" in page.text
    form = fields(page.text)
    form.update(to="bob@example.com", format="text", text_body="FYI\n")
    assert (await ann.post("/compose/send", data=form)).status_code == 303
    received = parse(await raw_of(store, bob.id, "INBOX", 1))
    part = next(received.iter_attachments())
    assert part.get_content_type() == "message/rfc822"
    inner = part.get_content()
    assert inner["Message-ID"] == ORIGINAL_ID and inner["Subject"] == "Minutes"


async def test_a_draft_is_saved_to_drafts_replacing_the_previous_version_and_edits_again(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    form = await compose_fields(ann)
    form.update(to="carol@example.net", bcc="dave@example.net", subject="Plans",
                format="html", html_body="<p>First <b>draft</b></p><script>x()</script>")
    first = await ann.post("/compose/save", data=form, headers=JS)
    assert first.status_code == 200, first.text
    uid = first.json()["draft_uid"]
    drafts = await folder_messages(store, account.id, "Drafts")
    assert [m.uid for m in drafts] == [uid]
    assert drafts[0].flags & DRAFT
    form.update(draft_uid=str(uid), html_body="<p>Second <i>draft</i></p>")
    second = (await ann.post("/compose/save", data=form, headers=JS)).json()
    drafts = await folder_messages(store, account.id, "Drafts")
    assert [m.uid for m in drafts] == [second["draft_uid"]] and second["draft_uid"] != uid
    stored = parse(await raw_of(store, account.id, "Drafts", second["draft_uid"]))
    assert stored["Bcc"] == "dave@example.net"
    again = await ann.get(f"/compose/draft/{second['draft_uid']}")
    edited = fields(again.text)
    assert edited["to"] == "carol@example.net" and edited["bcc"] == "dave@example.net"
    assert edited["subject"] == "Plans"
    assert "Second <i>draft</i>" in edited["html_body"]
    assert 'data-rich="1"' in again.text
    # The plain-text form (no JavaScript) saves and comes back to the draft page.
    plain = await ann.post("/compose/save", data={**edited, "format": "text",
                                                  "text_body": "plain now"})
    assert plain.status_code == 303 and plain.headers["location"].startswith("/compose/draft/")


async def test_the_html_we_send_is_sanitised_and_has_a_text_alternative(
        store: Store, account: AccountInfo, bob: AccountInfo, ann: httpx.AsyncClient,
        instant: LiveServer) -> None:
    form = await compose_fields(ann)
    form.update(to="bob@example.com", subject="Rich", format="html", html_body=(
        '<p>Hello <b>Bob</b></p><ul><li>one</li><li>two</li></ul>'
        '<p><a href="https://example.org/x" onclick="evil()">link</a></p>'
        '<img src="https://tracker.example/p.gif"><script>alert(1)</script>'))
    assert (await ann.post("/compose/send", data=form)).status_code == 303
    received = parse(await raw_of(store, bob.id, "INBOX", 1))
    assert received.get_content_type() == "multipart/alternative"
    html = received.get_body(("html",)).get_content()
    text = received.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "<b>Bob</b>" in html and "<li>one</li>" in html
    assert "onclick" not in html and "<script" not in html and "tracker" not in html
    assert "Hello Bob" in text and "- one\n- two" in text
    assert "link <https://example.org/x>" in text


async def test_an_attachment_that_is_too_big_is_refused_with_a_clear_error(
        store: Store, account: AccountInfo, server: LiveServer,
        ann: httpx.AsyncClient) -> None:
    server.app.state.max_message_size = 20_000
    page = await ann.get("/compose")
    assert "Up to 20 KB in total" in page.text
    assert 'data-max-size="20000"' in page.text
    form = fields(page.text)
    big = await ann.post("/compose/save", data=form, headers=JS,
                         files=[("files", ("huge.bin", b"x" * 30_000, "application/pdf"))])
    assert big.status_code == 413
    assert big.json()["errors"]["attachments"] == (
        "huge.bin is too big: 29 KB; a message may be at most 20 KB in total")
    assert big.json()["attachments"] == []
    # Without JavaScript the error shows next to the field.
    page = await ann.post("/compose/send", data={**form, "to": "x@example.net"},
                          files=[("files", ("huge.bin", b"x" * 30_000, "application/pdf"))])
    assert page.status_code == 413
    assert 'id="attachments-error"' in page.text and "huge.bin is too big" in page.text
    assert await store.outbound.count() == 0
    # Far over the limit, the request is refused before its body is read.
    early = await ann.post("/compose/save", headers={**JS, "X-CSRF-Token": form["csrf_token"]},
                           files=[("files", ("dvd.iso", b"x" * 3_000_000, "x/y"))])
    assert early.status_code == 413
    assert early.json()["errors"]["attachments"] == (
        "The upload is too big: a message may be at most 20 KB in total")


async def test_several_uploads_are_kept_with_the_draft_and_can_be_removed(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    form = await compose_fields(ann)
    form["subject"] = "With files"
    saved = await ann.post("/compose/save", data=form, headers=JS, files=[
        ("files", ("a.txt", b"alpha", "text/plain")),
        ("files", ("b.png", b"\x89PNG....", "image/png"))])
    state = saved.json()
    assert [a["filename"] for a in state["attachments"]] == ["a.txt", "b.png"]
    form["draft_uid"] = str(state["draft_uid"])
    removed = (await ann.post("/compose/save", data={**form, "remove": "0"},
                              headers=JS)).json()
    assert [a["filename"] for a in removed["attachments"]] == ["b.png"]
    draft = parse(await raw_of(store, account.id, "Drafts", removed["draft_uid"]))
    assert [p.get_filename() for p in draft.iter_attachments()] == ["b.png"]


async def test_sending_to_a_local_user_arrives_in_their_inbox_and_a_copy_in_sent(
        store: Store, account: AccountInfo, bob: AccountInfo, ann: httpx.AsyncClient,
        instant: LiveServer) -> None:
    form = await compose_fields(ann)
    form.update(to="Bob <bob@example.com>", bcc="carol@example.net", subject="Hello Bob",
                format="text", text_body="Are you there?\n")
    draft = (await ann.post("/compose/save", data=form, headers=JS)).json()["draft_uid"]
    form["draft_uid"] = str(draft)
    sent = await ann.post("/compose/send", data=form)
    assert sent.status_code == 303
    page = await ann.get(sent.headers["location"])
    assert "Message sent." in page.text
    inbox = await folder_messages(store, bob.id, "INBOX")
    assert [m.subject for m in inbox] == ["Hello Bob"]
    received = parse(await raw_of(store, bob.id, "INBOX", inbox[0].uid))
    assert received["From"] == "ann@example.com"
    assert received["Bcc"] is None  # RFC 5322 §3.6.3
    assert received["Message-ID"].endswith("@localhost>") and received["Date"]
    assert received.get_content().strip() == "Are you there?"  # CRLF lines, trimmed
    copies = await folder_messages(store, account.id, "Sent")
    assert [m.subject for m in copies] == ["Hello Bob"] and copies[0].flags & SEEN
    copy = parse(await raw_of(store, account.id, "Sent", copies[0].uid))
    assert copy["Bcc"] == "carol@example.net"
    assert copy["Message-ID"] == received["Message-ID"]
    assert await folder_messages(store, account.id, "Drafts") == []  # the draft went
    entries = await store.outbound.list()
    assert [(e.origin, [r.address for r in e.recipients]) for e in entries] == [
        ("webmail", ["carol@example.net"])]


async def test_a_remote_recipient_lands_in_the_outbound_queue_with_origin_webmail(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient,
        instant: LiveServer) -> None:
    form = await compose_fields(ann)
    form.update(to="someone@example.net", subject="Out", format="text", text_body="Hi\n")
    assert (await ann.post("/compose/send", data=form)).status_code == 303
    [entry] = await store.outbound.list()
    assert entry.origin == "webmail" and entry.mail_from == "ann@example.com"
    assert [r.address for r in entry.recipients] == ["someone@example.net"]
    queued = parse((await store.outbound.get(entry.id)).message)
    assert queued["Subject"] == "Out"
    [trace] = await store.traces.find(sender="ann@example.com")
    assert (trace.listener, trace.verdict, trace.message_id) == (
        "webmail", "accepted", queued["Message-ID"])
    assert [(r.address, r.destination) for r in trace.recipients] == [
        ("someone@example.net", "outbound queue for someone@example.net")]


async def test_a_from_address_the_user_may_not_use_is_refused(
        store: Store, account: AccountInfo, bob: AccountInfo, ann: httpx.AsyncClient,
        instant: LiveServer) -> None:
    form = await compose_fields(ann)
    form.update({"from": "bob@example.com", "to": "carol@example.net", "subject": "Forged",
                 "format": "text", "text_body": "x"})
    refused = await ann.post("/compose/send", data=form)
    assert refused.status_code == 400
    assert 'id="from-error"' in refused.text and "You may not send as bob@example.com" \
        in refused.text
    assert await store.outbound.count() == 0
    assert await folder_messages(store, account.id, "Sent") == []


async def test_an_alias_of_the_user_may_be_sent_from(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient,
        instant: LiveServer) -> None:
    await store.accounts.add_alias("sales@example.com", "ann@example.com")
    page = await ann.get("/compose")
    assert '<option value="sales@example.com"' in page.text
    form = fields(page.text)
    form.update({"from": "sales@example.com", "to": "x@example.net", "format": "text",
                 "text_body": "Offer"})
    assert (await ann.post("/compose/send", data=form)).status_code == 303
    [entry] = await store.outbound.list()
    assert entry.mail_from == "sales@example.com"


async def test_unknown_local_recipients_and_bad_addresses_are_shown_next_to_the_field(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient,
        instant: LiveServer) -> None:
    form = await compose_fields(ann)
    form.update(to="nobody@example.com", cc="not an address", format="text")
    page = await ann.post("/compose/send", data=form)
    assert page.status_code == 400
    assert 'id="cc-error"' in page.text and "is not an email address" in page.text
    form = fields(page.text)  # the page names the draft that keeps what was written
    form["cc"] = ""
    page = await ann.post("/compose/send", data=form)
    assert 'id="to-error"' in page.text and "Cannot send to nobody@example.com" in page.text
    # What was written is kept as a draft.
    assert len(await folder_messages(store, account.id, "Drafts")) == 1


async def test_undo_within_the_window_keeps_the_message_as_a_draft(
        store: Store, account: AccountInfo, bob: AccountInfo, server: LiveServer,
        ann: httpx.AsyncClient) -> None:
    server.app.state.undo_seconds = 1
    form = await compose_fields(ann)
    form.update(to="bob@example.com", subject="Oops", format="text", text_body="x")
    sent = await ann.post("/compose/send", data=form)
    page = await ann.get(sent.headers["location"])
    assert "Sending…" in page.text and "Undo" in page.text
    uid = int(sent.headers["location"].rsplit("/", 1)[1])
    undone = await ann.post(f"/compose/undo/{uid}", data=fields(page.text))
    assert undone.status_code == 303 and undone.headers["location"] == f"/compose/draft/{uid}"
    await asyncio.sleep(1.5)
    assert await folder_messages(store, bob.id, "INBOX") == []
    [draft] = await folder_messages(store, account.id, "Drafts")
    assert SENDING not in draft.keywords and draft.subject == "Oops"


async def test_a_held_message_is_sent_when_the_window_ends(
        store: Store, account: AccountInfo, bob: AccountInfo, server: LiveServer,
        ann: httpx.AsyncClient) -> None:
    server.app.state.undo_seconds = 0.3
    form = await compose_fields(ann)
    form.update(to="bob@example.com", subject="Soon", format="text", text_body="x")
    sent = await ann.post("/compose/send", data=form)
    uid = int(sent.headers["location"].rsplit("/", 1)[1])
    await asyncio.sleep(0.6)
    await store.outbox.idle()
    assert [m.subject for m in await folder_messages(store, bob.id, "INBOX")] == ["Soon"]
    late = await ann.post(f"/compose/undo/{uid}", data={"csrf_token": form["csrf_token"]})
    assert late.status_code == 409 and "Too late" in late.text


async def test_a_held_message_survives_a_restart(
        store: Store, account: AccountInfo, bob: AccountInfo, server: LiveServer,
        ann: httpx.AsyncClient) -> None:
    server.app.state.undo_seconds = 3600
    form = await compose_fields(ann)
    form.update(to="bob@example.com", subject="Durable", format="text", text_body="x")
    assert (await ann.post("/compose/send", data=form)).status_code == 303
    store.outbox.close()  # the process stops: its timers are gone
    # A new process over the same database finds the held message and sends it when due.
    restarted = Outbox(store.db, store.folders, store.messages, store.router, store.delivery,
                       store.identities, store.contacts, undo_seconds=10)
    found = await restarted.recover(now=int(time.time()) + 11)
    assert len(found) == 1
    await asyncio.sleep(0.05)
    await restarted.idle()
    assert [m.subject for m in await folder_messages(store, bob.id, "INBOX")] == ["Durable"]
    assert await folder_messages(store, account.id, "Drafts") == []


async def test_autocomplete_offers_the_address_book_and_people_written_to(
        store: Store, account: AccountInfo, bob: AccountInfo, ann: httpx.AsyncClient,
        instant: LiveServer) -> None:
    await store.contacts.save(account.id, "zoe@example.net", "Zoë Zimmer")
    form = await compose_fields(ann)
    form.update(to="Bob Builder <bob@example.com>", format="text", text_body="x")
    assert (await ann.post("/compose/send", data=form)).status_code == 303
    found = (await ann.get("/contacts/suggest", params={"q": "bo"})).json()
    assert found == [{"address": "bob@example.com", "name": "Bob Builder",
                      "value": "Bob Builder <bob@example.com>"}]
    assert [c["address"] for c in (await ann.get("/contacts/suggest?q=zim")).json()] == [
        "zoe@example.net"]
    assert (await ann.get("/contacts/suggest?q=")).json() == []
    other = await ann.get("/contacts/suggest?q=%25")
    assert other.json() == []


async def test_the_signature_of_the_identity_is_in_new_messages_and_replies(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await store.identities.save(account.id, "ann@example.com", display_name="Ann Example",
                                signature="Ann\nExample Ltd", is_default=True)
    form = await compose_fields(ann)
    assert form["text_body"] == "\n\n-- \nAnn\nExample Ltd\n"
    assert '<div class="signature">-- <br>Ann<br>Example Ltd</div>' in form["html_body"]
    await _original(store, account)
    reply = await compose_fields(ann, "/compose/reply/INBOX/1")
    assert reply["text_body"].index("-- \nAnn") < reply["text_body"].index("wrote:")


async def test_posts_without_the_csrf_token_are_refused(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    form = await compose_fields(ann)
    form.update(to="x@example.net", format="text")
    del form["csrf_token"]
    for url in ("/compose/send", "/compose/save", "/settings/password", "/settings/display",
                "/settings/identities"):
        refused = await ann.post(url, data=form)
        assert refused.status_code == 403, url
    assert await store.outbound.count() == 0
    assert await folder_messages(store, account.id, "Drafts") == []


async def test_compose_needs_a_signed_in_user(client: httpx.AsyncClient,
                                              account: AccountInfo) -> None:
    page = await client.get("/compose/reply/INBOX/1")
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")


async def test_a_missing_original_or_draft_is_a_friendly_not_found(
        account: AccountInfo, ann: httpx.AsyncClient) -> None:
    assert (await ann.get("/compose/reply/INBOX/7")).status_code == 404
    assert (await ann.get("/compose/draft/7")).status_code == 404
    assert (await ann.get("/compose/forward/Nope/1")).status_code == 404


async def test_json_of_suggest_is_not_cached(account: AccountInfo,
                                             ann: httpx.AsyncClient) -> None:
    response = await ann.get("/contacts/suggest?q=a")
    assert response.headers["cache-control"] == "private, no-store"
    assert json.loads(response.text) == []


async def test_another_user_cannot_open_my_draft(
        store: Store, account: AccountInfo, bob: AccountInfo, server: LiveServer,
        ann: httpx.AsyncClient) -> None:
    form = await compose_fields(ann)
    form["subject"] = "private"
    uid = (await ann.post("/compose/save", data=form, headers=JS)).json()["draft_uid"]
    async with server.client() as other:
        assert (await login(other, "bob@example.com")).status_code == 303
        page = await other.get(f"/compose/draft/{uid}")
        assert page.status_code == 404 and "private" not in page.text


async def test_a_sent_reply_marks_the_original_answered(
        store: Store, account: AccountInfo, bob: AccountInfo, ann: httpx.AsyncClient,
        instant: LiveServer) -> None:
    await _original(store, account, sender="Bob <bob@example.com>")
    form = await compose_fields(ann, "/compose/reply/INBOX/1")
    form.update(format="text", text_body="Thanks!\n")
    draft = (await ann.post("/compose/save", data=form, headers=JS)).json()["draft_uid"]
    [inbox] = await folder_messages(store, account.id, "INBOX")
    assert not inbox.flags & ANSWERED  # a saved draft answers nothing yet
    form["draft_uid"] = str(draft)
    assert (await ann.post("/compose/send", data=form)).status_code == 303
    [inbox] = await folder_messages(store, account.id, "INBOX")
    assert inbox.flags & ANSWERED
    received = parse(await raw_of(store, bob.id, "INBOX", 1))
    assert received["X-Tidings-Answers"] is None
    assert received["In-Reply-To"] == ORIGINAL_ID


async def test_line_breaks_in_header_fields_cannot_add_headers_or_recipients(
        store: Store, account: AccountInfo, bob: AccountInfo, ann: httpx.AsyncClient,
        instant: LiveServer) -> None:
    form = await compose_fields(ann)
    form.update(to="bob@example.com", subject="Hi\r\nBcc: evil@example.net",
                in_reply_to="<a@b>\r\nX-Evil: 1", format="text", text_body="x")
    assert (await ann.post("/compose/send", data=form)).status_code == 303
    received = parse(await raw_of(store, bob.id, "INBOX", 1))
    assert received["Subject"] == "Hi Bcc: evil@example.net"
    assert received["X-Evil"] is None
    assert await store.outbound.count() == 0  # nobody else got it


async def test_sending_the_same_draft_twice_does_not_send_it_twice(
        store: Store, account: AccountInfo, bob: AccountInfo, ann: httpx.AsyncClient,
        instant: LiveServer) -> None:
    form = await compose_fields(ann)
    form.update(to="bob@example.com", subject="Once", format="text", text_body="x")
    form["draft_uid"] = str((await ann.post("/compose/save", data=form,
                                            headers=JS)).json()["draft_uid"])
    assert (await ann.post("/compose/send", data=form)).status_code == 303
    again = await ann.post("/compose/send", data=form)
    assert again.status_code == 409 and "already sent" in again.text
    assert [m.subject for m in await folder_messages(store, bob.id, "INBOX")] == ["Once"]


async def test_uids_out_of_range_are_not_found(account: AccountInfo,
                                               ann: httpx.AsyncClient) -> None:
    for url in ("/compose/reply/INBOX/99999999999", "/compose/draft/99999999999",
                "/compose/sending/99999999999"):
        assert (await ann.get(url)).status_code == 404, url
