"""The message as a whole (show original, .eml, print view, attachments as a zip) and
remote images: once for a message, or always for a sender, and taken back."""

from __future__ import annotations

import io
import re
import zipfile
from email.message import EmailMessage

import httpx

from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.web.conftest import csrf_token, deliver, inbox_id, make_message

TRACKER = '<p>Hello <img src="https://tracker.example/pixel.png" alt="pixel"></p>'


async def test_show_original_is_the_raw_message_as_plain_text(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    raw = make_message("<b>Raw</b>", "Hi <script>alert(1)</script>\n", html="<p>rich</p>")
    await deliver(store, await inbox_id(store, account), [raw])
    response = await ann.get("/original/INBOX/1")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-disposition" not in response.headers  # shown, not saved
    assert response.content == raw


async def test_show_original_of_8bit_mail_in_another_charset_replaces_the_bytes_it_cannot_show(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    raw = (b"From: bob@example.org\r\nTo: ann@example.com\r\nSubject: caf\xe9\r\n"
           b"Content-Type: text/plain; charset=iso-8859-1\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n\r\nun caf\xe9 cr\xe8me\r\n")
    await deliver(store, await inbox_id(store, account), [raw])
    response = await ann.get("/original/INBOX/1")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert "un caf\ufffd cr\ufffdme" in response.content.decode("utf-8")


async def test_download_eml_is_the_exact_message_named_after_its_subject(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    raw = make_message('Re: "Budget" 2025/26 <final>')
    await deliver(store, await inbox_id(store, account), [raw])
    response = await ann.get("/eml/INBOX/1")
    assert response.status_code == 200
    assert response.content == raw
    assert response.headers["content-type"] == "message/rfc822"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment; ")
    assert 'filename="Re_ _Budget_ 2025_26 _final_.eml"' in disposition
    assert "/" not in disposition.split("filename*=")[0].split("filename=")[1]


async def test_download_eml_without_a_subject_is_message_eml(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await deliver(store, await inbox_id(store, account), [make_message("")])
    response = await ann.get("/eml/INBOX/1")
    assert 'filename="message.eml"' in response.headers["content-disposition"]


async def test_the_reading_pane_links_to_original_eml_and_print(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await deliver(store, await inbox_id(store, account), [make_message("links")])
    page = await ann.get("/message/INBOX/1")
    assert '<a href="/original/INBOX/1" target="_blank" rel="noopener">Show original</a>' \
        in page.text
    assert '<a href="/eml/INBOX/1" download>Download .eml</a>' in page.text
    assert '<a href="/print/INBOX/1" target="_blank" rel="noopener">Print</a>' in page.text


async def test_print_view_has_headers_and_body_without_the_app_and_no_inline_script(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    raw = make_message("Print me", "plain words", html=TRACKER + "<p>rich <b>words</b></p>",
                       cc="Carol <carol@example.net>")
    await deliver(store, await inbox_id(store, account), [raw])
    response = await ann.get("/print/INBOX/1")
    assert response.status_code == 200
    text = response.text
    assert '<h1 class="print-subject">Print me</h1>' in text
    assert "<dd>Bob Example &lt;bob@example.org&gt;</dd>" in text
    assert "<dt>Cc</dt><dd>Carol &lt;carol@example.net&gt;</dd>" in text
    assert "rich <b>words</b>" in text
    assert 'class="topbar"' not in text and 'id="folders"' not in text  # no app chrome
    assert '<link rel="stylesheet" href="/static/print.css">' in text
    assert '<script src="/static/print.js" defer></script>' in text
    assert '<button type="button" id="print-button">Print</button>' in text
    assert re.search(r"<script(?![^>]*\bsrc=)", text) is None  # every script is a file
    assert "onclick" not in text
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split(
        "script-src")[1].split(";")[0]
    assert "https:" not in policy  # remote images stay blocked
    assert "tracker.example" not in re.sub(r'data-blocked-src="[^"]*"', "", text)
    script = await ann.get("/static/print.js")
    assert "window.print()" in script.text


async def test_print_view_of_plain_text_mail(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await deliver(store, await inbox_id(store, account), [make_message("t", "a <b> c\n")])
    response = await ann.get("/print/INBOX/1")
    assert '<div class="print-plain">a &lt;b&gt; c' in response.text


async def test_all_attachments_as_one_zip_with_safe_and_unique_names(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    raw = make_message("Scans", "three files", attachments=[
        ("scan.pdf", "application/pdf", b"%PDF first"),
        ("scan.pdf", "application/pdf", b"%PDF second"),
        ("../../etc/passwd", "text/plain", b"not a path"),
        ("SCAN.pdf", "application/pdf", b"%PDF third"),
        ("notes", "text/plain", b"one"),
        ("notes", "text/plain", b"two"),
    ])
    await deliver(store, await inbox_id(store, account), [raw])
    page = await ann.get("/message/INBOX/1")
    assert '<a class="zip-all" href="/zip/INBOX/1" download>Download all (zip)</a>' in page.text
    response = await ann.get("/zip/INBOX/1")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert 'attachment; filename="Scans.zip"' == response.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        names = archive.namelist()
        assert names == ["scan.pdf", "scan (2).pdf", "_.._etc_passwd", "SCAN (3).pdf",
                         "notes", "notes (2)"]
        assert archive.read("scan.pdf") == b"%PDF first"
        assert archive.read("scan (2).pdf") == b"%PDF second"
        assert archive.read("SCAN (3).pdf") == b"%PDF third"
        assert archive.read("notes (2)") == b"two"
        assert all("/" not in n and "\\" not in n for n in names)


async def test_zip_of_non_ascii_names_keeps_them(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    raw = make_message("Fotos", "x", attachments=[
        ("Übersicht.txt", "text/plain", b"1"), ("日本.txt", "text/plain", b"2")])
    await deliver(store, await inbox_id(store, account), [raw])
    response = await ann.get("/zip/INBOX/1")
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert archive.namelist() == ["Übersicht.txt", "日本.txt"]


async def test_zip_of_a_message_without_attachments_is_not_found(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await deliver(store, await inbox_id(store, account), [make_message("none")])
    response = await ann.get("/zip/INBOX/1")
    assert response.status_code == 404
    assert "This message has no attachments" in response.text


async def test_another_users_message_is_unreachable_through_every_new_url(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    bob = await store.accounts.create("bob@example.com", "bobs own password")
    raw = make_message("Bob's secret", "the secret", attachments=[
        ("a.txt", "text/plain", b"secret a"), ("b.txt", "text/plain", b"secret b")])
    await deliver(store, await inbox_id(store, bob), [raw])
    await store.folders.create(bob.id, "Private")
    for url in ("/original/INBOX/1", "/eml/INBOX/1", "/print/INBOX/1", "/zip/INBOX/1",
                "/original/Private/1", "/zip/Private/1", "/print/../bob/INBOX/1",
                "/eml/INBOX/0", "/original/INBOX/99999999999"):
        response = await ann.get(url)
        assert response.status_code == 404, url
        assert "secret" not in response.text, url
    search = await ann.get("/search", params={"q": "secret", "scope": "all"})
    assert "Bob&#39;s secret" not in search.text and "Bob's secret" not in search.text


async def test_every_new_url_needs_a_signed_in_user(
        store: Store, account: AccountInfo, client: httpx.AsyncClient) -> None:
    await deliver(store, await inbox_id(store, account), [make_message("mine")])
    for url in ("/original/INBOX/1", "/eml/INBOX/1", "/print/INBOX/1", "/zip/INBOX/1"):
        response = await client.get(url)
        assert response.status_code == 303, url
        assert response.headers["location"].startswith("/login?next=")


def images_notice(html: str) -> str:
    match = re.search(r'<div class="notice images[^"]*" id="images-notice">(.*?)</div>', html, re.S)
    return " ".join(match.group(1).split()) if match else ""


def body_src(html: str) -> str:
    return re.search(r'<iframe class="body-frame" src="([^"]+)"', html).group(1)


async def trust(ann: httpx.AsyncClient, page: httpx.Response, address: str,
                action: str = "add", next_url: str = "/message/INBOX/1") -> httpx.Response:
    return await ann.post("/trusted-senders", data={
        "csrf_token": csrf_token(page.text), "address": address, "action": action,
        "next": next_url})


async def test_remote_images_blocked_then_shown_for_the_message_then_always_for_the_sender(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    inbox = await inbox_id(store, account)
    await deliver(store, inbox, [
        make_message("news", "text", html=TRACKER),
        make_message("more news", "text", html=TRACKER),
        make_message("other sender", "text", html=TRACKER, sender="eve@example.net"),
    ])
    blocked = await ann.get("/message/INBOX/1")
    assert images_notice(blocked.text).startswith("1 remote image was blocked")
    assert "Always show images from bob@example.org" in images_notice(blocked.text)
    assert body_src(blocked.text) == "/body/INBOX/1"
    body = await ann.get("/body/INBOX/1")
    assert "https:" not in body.headers["content-security-policy"]

    once = await ann.get("/message/INBOX/1?images=1")
    assert body_src(once.text) == "/body/INBOX/1?images=1"
    assert images_notice(once.text).startswith("Images are shown for this message.")
    later = await ann.get("/message/INBOX/2")
    assert images_notice(later.text).startswith("1 remote image was blocked")

    response = await trust(ann, once, "Bob@Example.org")
    assert response.status_code == 303
    assert response.headers["location"] == "/message/INBOX/1"
    assert await store.trusted_senders.list(account.id) == ["bob@example.org"]
    for uid in (1, 2):
        page = await ann.get(f"/message/INBOX/{uid}")
        assert body_src(page.text) == f"/body/INBOX/{uid}?images=1"
        assert images_notice(page.text).startswith(
            "Images from bob@example.org are always shown.")
    other = await ann.get("/message/INBOX/3")
    assert images_notice(other.text).startswith("1 remote image was blocked")
    printed = await ann.get("/print/INBOX/2")
    assert "https:" in printed.headers["content-security-policy"]


async def test_trusting_a_sender_can_be_taken_back(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await deliver(store, await inbox_id(store, account), [
        make_message("news", "text", html=TRACKER)])
    await store.trusted_senders.add(account.id, "bob@example.org")
    trusted = await ann.get("/message/INBOX/1")
    assert "Stop showing them automatically" in images_notice(trusted.text)
    response = await trust(ann, trusted, "bob@example.org", "remove")
    assert response.status_code == 303
    assert await store.trusted_senders.list(account.id) == []
    again = await ann.get("/message/INBOX/1")
    assert images_notice(again.text).startswith("1 remote image was blocked")
    assert body_src(again.text) == "/body/INBOX/1"


async def test_trusted_senders_are_per_user(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    bob = await store.accounts.create("bob@example.com", "bobs own password")
    await store.trusted_senders.add(bob.id, "bob@example.org")
    await deliver(store, await inbox_id(store, account), [
        make_message("news", "text", html=TRACKER)])
    page = await ann.get("/message/INBOX/1")
    assert images_notice(page.text).startswith("1 remote image was blocked")


async def test_trusting_needs_the_csrf_token_and_a_real_address(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await deliver(store, await inbox_id(store, account), [make_message("x")])
    page = await ann.get("/message/INBOX/1")
    forged = await ann.post("/trusted-senders", data={
        "address": "evil@example.net", "action": "add", "next": "/mail"})
    assert forged.status_code == 403
    bad = await trust(ann, page, "not an address")
    assert bad.status_code == 400
    assert "is not an e-mail address" in bad.text
    outside = await trust(ann, page, "bob@example.org", next_url="https://evil.example/")
    assert outside.headers["location"] == "/mail"  # never an open redirect
    assert await store.trusted_senders.list(account.id) == ["bob@example.org"]


async def test_inline_cid_images_are_embedded_in_the_body_and_not_listed(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    # multipart/alternative whose HTML is multipart/related with the picture, as mail
    # clients send it.
    built = EmailMessage()
    built["From"] = "Bob <bob@example.org>"
    built["To"] = "ann@example.com"
    built["Subject"] = "logo"
    built.set_content("see logo")
    built.add_alternative('<p><img src="cid:logo@x" alt="logo"></p>', subtype="html")
    png = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06"
           b"\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe"
           b"\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82")
    html_part = built.get_payload()[1]
    html_part.add_related(png, maintype="image", subtype="png", cid="<logo@x>")
    await deliver(store, await inbox_id(store, account), [built.as_bytes()])
    page = await ann.get("/message/INBOX/1")
    assert 'class="attachments"' not in page.text
    body = await ann.get("/body/INBOX/1")
    assert 'src="data:image/png;base64,' in body.text
    assert "img-src data:" in body.headers["content-security-policy"]
