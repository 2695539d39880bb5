"""Finding mail and reading it fully in a real browser: the search box (type, see the
highlighted results, open one) and remote images (blocked, shown for one message, then
always for the sender, and taken back), with an inline cid: picture shown throughout."""

from __future__ import annotations

import re
import struct
import threading
import zlib
from collections.abc import Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.async_api import Browser, Page, expect

from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.browser.conftest import Shot, new_page, sign_in
from tests.web.conftest import LiveServer, deliver, inbox_id, make_message


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour PNG, written out by hand (no imaging library needed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    row = b"\x00" + bytes(rgb) * width
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


class ImageServer:
    """A stand-in for a sender's web server: serves one picture, remembers each request."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        picture = png(60, 40, (220, 60, 60))
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server API)
                requests.append(self.path)
                self.send_response(200)
                self.send_header("content-type", "image/png")
                self.send_header("content-length", str(len(picture)))
                self.end_headers()
                self.wfile.write(picture)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ImageServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def pictures() -> Iterator[ImageServer]:
    with ImageServer() as server:
        yield server


def newsletter(subject: str, remote: str) -> bytes:
    """HTML mail with a remote picture and an inline (cid:) one, as mail clients send it."""
    msg = EmailMessage()
    msg["From"] = "Bob Example <bob@example.org>"
    msg["To"] = "ann@example.com"
    msg["Subject"] = subject
    msg.set_content("Our news (plain text).")
    msg.add_alternative(
        f'<h2>{subject}</h2><p><img alt="remote" src="{remote}" width="60" height="40"></p>'
        '<p><img alt="logo" src="cid:logo@bob"></p>', subtype="html")
    msg.get_payload()[1].add_related(png(30, 30, (40, 90, 200)), maintype="image",
                                     subtype="png", cid="<logo@bob>")
    return msg.as_bytes()


async def test_search_box_shows_highlighted_results_and_opens_one(
        page: Page, store: Store, account: AccountInfo, shot: Shot) -> None:
    inbox = await inbox_id(store, account)
    archive = await store.folders.get(account.id, "Archive")
    await deliver(store, inbox, [
        make_message("Lunch on Friday", "Pizza at noon?"),
        make_message("Invoice 4471 for May", "Please find the invoice attached. <b>Thanks</b>"),
        make_message("Team news", "Nothing about money here."),
    ])
    await deliver(store, archive.id, [make_message("Old invoice 1999", "Paid long ago.")],
                  first_date=1_600_000_000)
    await page.goto("/mail/INBOX")
    await page.keyboard.press("/")  # the reading helper's shortcut; focus it ourselves too
    box = page.locator("#search-q")
    await box.click()
    await box.fill("invoice")
    await shot(page, "typed")
    await box.press("Enter")
    await page.wait_for_url(re.compile(r"/search\?"))
    results = page.get_by_role("list", name="Results").get_by_role("listitem")
    await expect(results).to_have_count(1)
    await expect(page.locator("#result-count")).to_have_text("1–1 of 1 in Inbox")
    marks = page.locator("#rows mark")
    await expect(marks.first).to_have_text(re.compile("^invoice$", re.I))
    assert await marks.count() >= 2  # in the subject and in the snippet
    await expect(page.locator("#rows .snippet")).to_contain_text("<b>Thanks</b>")
    await shot(page, "results-folder")

    await page.get_by_label("Search where").select_option("all")
    await page.get_by_role("button", name="Search", exact=True).click()
    await expect(page.locator("#result-count")).to_have_text("1–2 of 2 in all folders")
    await expect(page.locator(".result-folder")).to_have_text(["Inbox", "Archive"])
    await page.get_by_text("Advanced search").click()
    await expect(page.get_by_label("Since")).to_be_visible()
    await shot(page, "results-all-folders-advanced")
    await page.get_by_text("Advanced search").click()

    await page.locator("#rows a").first.click()  # opens beside the results
    await page.wait_for_url(re.compile(r"/message/INBOX/2"))
    await expect(page.locator("h1.subject")).to_have_text("Invoice 4471 for May")
    await expect(page.locator("#result-count")).to_have_text("1–2 of 2 in all folders")
    await expect(page.locator("#message-pane .plain")).to_contain_text(
        "Please find the invoice attached.")
    await shot(page, "opened")


async def test_print_view_prints_from_its_button(
        page: Page, store: Store, account: AccountInfo, shot: Shot) -> None:
    await deliver(store, await inbox_id(store, account), [
        make_message("Minutes", "Present: Ann, Bob.\n> earlier words\n",
                     cc="Carol <carol@example.net>")])
    errors: list[str] = []
    page.context.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await page.goto("/message/INBOX/1")
    async with page.context.expect_page() as opened:
        await page.get_by_role("link", name="Print").click()
    printing = await opened.value
    await printing.wait_for_load_state()
    await expect(printing.locator("h1")).to_have_text("Minutes")
    await expect(printing.locator(".print-headers")).to_contain_text("carol@example.net")
    await printing.evaluate("window.print = () => { window.printed = true; }")
    await printing.get_by_role("button", name="Print").click()
    assert await printing.evaluate("window.printed === true")
    await shot(printing, "print-view")
    await printing.emulate_media(media="print")
    await expect(printing.get_by_role("button", name="Print")).to_be_hidden()
    await shot(printing, "print-media")
    assert not [e for e in errors if "Content Security Policy" in e]


async def test_bad_date_in_advanced_search_is_shown_next_to_the_field(
        page: Page, account: AccountInfo, shot: Shot) -> None:
    await page.goto("/search?q=x&since=yesterday")
    await expect(page.locator("#search-since-error")).to_have_text(
        "“yesterday” is not a date; use the form 2024-05-17")
    await expect(page.get_by_label("Since")).to_be_visible()  # the panel opened itself
    await shot(page, "date-error")


async def remote_loaded(page: Page) -> int:
    frame = page.frame_locator("iframe.body-frame")
    logo = frame.locator("img[alt=logo]")
    await expect(logo).to_have_js_property("naturalWidth", 30)  # cid: always shows
    return await frame.locator("img[alt=remote]").evaluate("img => img.naturalWidth")


async def test_remote_images_blocked_then_shown_then_always_for_the_sender(
        page: Page, store: Store, account: AccountInfo, pictures: ImageServer,
        shot: Shot) -> None:
    inbox = await inbox_id(store, account)
    await deliver(store, inbox, [
        newsletter("News 1", f"{pictures.url}/one.png"),
        newsletter("News 2", f"{pictures.url}/two.png"),
    ])
    await page.goto("/message/INBOX/1")
    notice = page.locator("#images-notice")
    await expect(notice).to_contain_text("1 remote image was blocked")
    assert await remote_loaded(page) == 0
    assert pictures.requests == []
    await shot(page, "blocked")

    await notice.get_by_role("link", name="Show images").click()
    await expect(notice).to_contain_text("Images are shown for this message.")
    remote = page.frame_locator("iframe.body-frame").locator("img[alt=remote]")
    await expect(remote).to_have_js_property("naturalWidth", 60)
    assert pictures.requests == ["/one.png"]
    await shot(page, "shown-for-message")

    await notice.get_by_role("button",
                             name="Always show images from bob@example.org").click()
    await expect(notice).to_contain_text("Images from bob@example.org are always shown.")
    await page.goto("/message/INBOX/2")
    await expect(notice).to_contain_text("Images from bob@example.org are always shown.")
    await expect(remote).to_have_js_property("naturalWidth", 60)
    assert "/two.png" in pictures.requests
    await shot(page, "always-for-sender")

    await notice.get_by_role("button", name="Stop showing them automatically").click()
    await expect(notice).to_contain_text("1 remote image was blocked")
    assert await remote_loaded(page) == 0
    await shot(page, "taken-back")


async def test_search_on_a_phone_sized_screen(
        browser: Browser, live: LiveServer, store: Store, account: AccountInfo,
        shot: Shot) -> None:
    await deliver(store, await inbox_id(store, account), [
        make_message("Ferry times", "The ferry leaves at nine."),
        make_message("Bus times", "No ferry today.")])
    page = await new_page(browser, live, phone=True)
    await sign_in(page)
    box = page.locator("#search-q")
    await expect(box).to_be_visible()
    assert (await box.bounding_box())["width"] > 200  # a whole row of its own
    await box.fill("ferry")
    await box.press("Enter")
    await expect(page.locator("#result-count")).to_have_text("1–2 of 2 in Inbox")
    await shot(page, "phone-results")
    await page.locator("#rows a").first.click()
    await expect(page.locator("h1.subject")).to_have_text("Bus times")
    await shot(page, "phone-opened")
