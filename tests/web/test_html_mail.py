"""HTML mail: sanitised, remote images held back, shown in a sandboxed frame."""

from __future__ import annotations

import base64
import re
from email.message import EmailMessage

import httpx

from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.web.conftest import deliver, inbox_id, make_message

HOSTILE = """<html><head><title>Offer</title>
<style>@import url(https://evil.example/x.css); body { background: url(http://evil.example/bg.png) }
p { color: #333 }</style>
<script>alert('head')</script></head>
<body onload="steal()">
<p onclick="steal()">Dear customer,</p>
<img src="http://tracker.example/open.gif?id=42" width="1" height="1" onerror="steal()">
<img src="https://cdn.example/logo.png" alt="Logo">
<img src="HTTPS://cdn.example/banner.png">
<a href="javascript:alert(document.cookie)">claim</a>
<a href="JaVaScRiPt:alert(1)">again</a>
<a href="https://shop.example/deal">the deal</a>
<div style="background-image: url('http://evil.example/style.png'); color: red">styled</div>
<svg onload="steal()"><script>alert('svg')</script></svg>
<iframe src="https://evil.example/frame"></iframe>
<form action="https://evil.example/phish"><input name="password"></form>
<script>alert('body')</script>
</body></html>"""


async def _hostile(store: Store, account: AccountInfo) -> None:
    raw = make_message("Special offer", "Plain version of the offer.\n", html=HOSTILE)
    await deliver(store, await inbox_id(store, account), [raw])


async def test_html_body_is_served_sanitised_with_its_own_strict_policy(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await _hostile(store, account)
    body = await ann.get("/body/INBOX/1")
    assert body.status_code == 200
    html = body.text.lower()
    for forbidden in ("<script", "alert(", "onload", "onclick", "onerror", "javascript:",
                      "<iframe", "<form", "<input", "<svg", "@import"):
        assert forbidden not in html, forbidden
    assert "dear customer" in html and "the deal" in html
    assert 'href="https://shop.example/deal" target="_blank" rel="noopener noreferrer"' in html
    policy = body.headers["content-security-policy"]
    assert policy.startswith("default-src 'none'; style-src 'unsafe-inline'; img-src data: cid:;")
    assert "script-src" not in policy and "http" not in policy
    assert "frame-ancestors 'self'" in policy


async def test_remote_images_are_blocked_and_the_page_says_how_many(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await _hostile(store, account)
    body = (await ann.get("/body/INBOX/1")).text
    assert not re.search(r"""\ssrc\s*=\s*["']?\s*(https?:)?//""", body, re.I)
    assert not re.search(r"(?<![\w-])url\(\s*['\"]?https?:", body, re.I)
    assert 'data-blocked-src="http://tracker.example/open.gif?id=42"' in body
    page = await ann.get("/message/INBOX/1")
    assert "3 remote images were blocked" in page.text
    assert 'href="/message/INBOX/1?images=1"' in page.text
    assert ('<iframe class="body-frame" src="/body/INBOX/1"\n'
            '        sandbox="allow-popups allow-popups-to-escape-sandbox"') in page.text


async def test_show_images_loads_them_for_this_message_only(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await _hostile(store, account)
    await _hostile(store, account)
    page = await ann.get("/message/INBOX/1?images=1")
    assert "blocked" not in page.text
    assert 'src="/body/INBOX/1?images=1"' in page.text
    body = await ann.get("/body/INBOX/1?images=1")
    assert 'src="https://cdn.example/logo.png"' in body.text
    assert "img-src data: cid: https: http:" in body.headers["content-security-policy"]
    assert not re.search(r"(?<![\w-])url\(", body.text)  # CSS fetches stay off even then
    other = await ann.get("/message/INBOX/2")
    assert "3 remote images were blocked" in other.text


async def test_the_iframe_never_allows_scripts_or_same_origin(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await _hostile(store, account)
    page = (await ann.get("/message/INBOX/1")).text
    sandbox = re.search(r'<iframe[^>]*sandbox="([^"]*)"', page).group(1)
    assert "allow-scripts" not in sandbox and "allow-same-origin" not in sandbox


async def test_plain_text_alternative_can_be_chosen(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await _hostile(store, account)
    page = await ann.get("/message/INBOX/1?view=text")
    assert "Plain version of the offer." in page.text
    assert "<iframe" not in page.text


async def test_inline_pictures_are_embedded_without_any_request(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
    msg = EmailMessage()
    msg["From"] = "bob@example.org"
    msg["To"] = "ann@example.com"
    msg["Subject"] = "picture"
    msg.set_content("see picture")
    msg.add_alternative('<p>Look: <img src="cid:pic1@example.org"></p>', subtype="html")
    msg.get_payload()[1].add_related(png, "image", "png", cid="<pic1@example.org>")
    await deliver(store, await inbox_id(store, account), [msg.as_bytes()])
    body = (await ann.get("/body/INBOX/1")).text
    assert f'src="data:image/png;base64,{base64.b64encode(png).decode()}"' in body
    page = (await ann.get("/message/INBOX/1")).text
    assert "blocked" not in page
    # Between the message's headers and its body (past the toolbar's "Forward as attachment").
    after_headers = page.lower().split('<header class="message-head">', 1)[1]
    assert "attachment" not in after_headers.split("</header>", 1)[1].split("<iframe")[0]


async def test_a_plain_text_message_has_no_html_body(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await deliver(store, await inbox_id(store, account), [make_message()])
    assert (await ann.get("/body/INBOX/1")).status_code == 404
