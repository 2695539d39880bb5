"""Triage in a real browser: drag and drop onto a folder, the keyboard, several selected
messages, the phone layout with its back button, and new mail arriving while the page is
open (server-sent events)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from playwright.async_api import Browser, Page, expect

from mailstore.preferences import Preferences
from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.browser.conftest import Shot, new_page, sign_in
from tests.web.conftest import LiveServer, deliver, make_message


async def _inbox(store: Store, account: AccountInfo, *subjects: str) -> int:
    inbox = (await store.folders.get(account.id, "INBOX")).id
    await deliver(store, inbox, [
        make_message(s, f"Body of {s}.\n", date=datetime(2024, 5, 17, 9, i, tzinfo=UTC))
        for i, s in enumerate(subjects)])
    return inbox


async def ready(page: Page) -> None:
    """Wait until mail.js has wired the page up (keys pressed earlier would be lost)."""
    await expect(page.locator("html[data-mail-ready]")).to_have_count(1)


def row(page: Page, subject: str):  # noqa: ANN201 - a Playwright locator
    return page.locator("#rows li.item", has_text=subject)


async def test_dragging_messages_onto_a_folder_moves_them(
        page: Page, store: Store, account: AccountInfo, shot: Shot) -> None:
    inbox = await _inbox(store, account, "Invoice 1", "Invoice 2", "Keep me")
    await store.folders.create(account.id, "Bills")
    await page.goto("/mail/INBOX")
    await ready(page)
    await row(page, "Invoice 1").get_by_role("checkbox").check()
    await row(page, "Invoice 2").get_by_role("checkbox").check()
    await expect(row(page, "Invoice 2")).to_have_attribute("aria-selected", "true")
    await shot(page, "selected")
    bills = page.locator('.folders a.folder[data-folder="Bills"]')
    await row(page, "Invoice 2").drag_to(bills)
    await expect(page.locator("#rows")).not_to_contain_text("Invoice")
    await expect(row(page, "Keep me")).to_be_visible()
    await shot(page, "moved")
    assert await store.messages.uids(inbox) == [3]
    assert (await store.folders.get(account.id, "Bills")).messages == 2
    await bills.click()
    await expect(page.locator("#rows")).to_contain_text("Invoice 1")
    await expect(page.locator("#rows")).to_contain_text("Invoice 2")
    await page.get_by_role("link", name="Manage folders").click()
    await expect(page.get_by_role("heading", name=re.compile("^Bills"))).to_contain_text(
        "2 messages")
    await shot(page, "folders")


async def test_shift_click_selects_a_range_and_the_toolbar_acts_on_it(
        page: Page, store: Store, account: AccountInfo, shot: Shot) -> None:
    inbox = await _inbox(store, account, "one", "two", "three", "four")
    await page.goto("/mail/INBOX")
    await ready(page)
    await row(page, "four").get_by_role("checkbox").click()
    await row(page, "two").get_by_role("checkbox").click(modifiers=["Shift"])
    await expect(page.locator("#rows li.item.checked")).to_have_count(3)
    await page.get_by_role("button", name="Archive").first.click()
    await expect(page.locator("#rows li.item")).to_have_count(1)
    await shot(page, "archived")
    assert await store.messages.uids(inbox) == [1]


async def test_the_keyboard_moves_opens_flags_archives_and_shows_the_shortcuts(
        page: Page, store: Store, account: AccountInfo, shot: Shot) -> None:
    inbox = await _inbox(store, account, "oldest", "middle", "newest")
    await page.goto("/mail/INBOX")
    await ready(page)
    await page.keyboard.press("j")
    await expect(row(page, "newest")).to_have_class(re.compile(r"\bcursor\b"))
    await page.keyboard.press("j")
    await expect(row(page, "middle")).to_have_class(re.compile(r"\bcursor\b"))
    await page.keyboard.press("k")
    await page.keyboard.press("j")
    await page.keyboard.press("o")
    await expect(page.locator("#message-pane")).to_contain_text("Body of middle.")
    await expect(page).to_have_url(re.compile(r"/message/INBOX/2"))
    await shot(page, "opened")
    await page.keyboard.press("s")  # flag the open message
    await expect(page.locator("#message-pane").get_by_role("button", name="Unflag")).to_be_visible()
    assert (await store.messages.get(inbox, 2)).flags & 4
    await ready(page)
    await page.keyboard.press("u")
    await expect(page).to_have_url(re.compile(r"/mail/INBOX$"))
    await ready(page)
    await page.keyboard.press("?")
    await expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    await shot(page, "shortcuts")
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("dialog")).to_be_hidden()
    await page.keyboard.press("j")
    await page.keyboard.press("e")  # archive the message under the cursor
    await expect(page.locator("#rows")).not_to_contain_text("newest")
    assert await store.messages.uids(inbox) == [1, 2]
    await ready(page)
    await page.keyboard.press("j")
    await page.keyboard.press("#")
    await expect(page.locator("#rows")).not_to_contain_text("middle")
    assert (await store.folders.get(account.id, "Trash")).messages == 1
    await ready(page)
    await page.keyboard.press("c")
    await expect(page).to_have_url(re.compile(r"/compose$"))


async def test_a_phone_shows_the_list_then_the_message_with_a_back_button(
        browser: Browser, live: LiveServer, store: Store, account: AccountInfo,
        shot: Shot) -> None:
    await _inbox(store, account, "Lunch?", "Dinner?")
    page = await new_page(browser, live, phone=True)
    await sign_in(page)
    await expect(row(page, "Lunch?")).to_be_visible()
    await expect(page.locator("#message-pane")).to_be_hidden()
    await shot(page, "phone-list")
    await page.get_by_text("Lunch?").first.click()
    await expect(page.locator("#message-pane").get_by_text("Body of Lunch?.")).to_be_visible()
    await expect(page.locator("#list")).to_be_hidden()
    await shot(page, "phone-message")
    await page.get_by_role("link", name="← Back").click()
    await expect(row(page, "Dinner?")).to_be_visible()
    await shot(page, "phone-back")


async def test_new_mail_appears_in_the_list_and_the_title_without_a_reload(
        page: Page, store: Store, account: AccountInfo, shot: Shot) -> None:
    inbox = await _inbox(store, account, "already here")
    await page.goto("/mail/INBOX")
    await ready(page)
    await expect(page).to_have_title("(1) Inbox · Tidings")
    await page.evaluate("window.notReloaded = true")
    await shot(page, "before")
    await store.messages.append(inbox, make_message("Fresh news", "Just arrived.\n"))
    await expect(row(page, "Fresh news")).to_be_visible()
    await expect(page).to_have_title("(2) Inbox · Tidings")
    await expect(page.locator('.folders a[data-folder="INBOX"] .count')).to_have_text("2")
    assert await page.evaluate("window.notReloaded") is True
    await shot(page, "after")
    await page.emulate_media(color_scheme="dark")
    await shot(page, "after-dark")


async def test_the_reading_pane_follows_the_preferences(
        page: Page, store: Store, account: AccountInfo, shot: Shot) -> None:
    await _inbox(store, account, "Placement")
    await store.preferences.save(account.id, Preferences(reading_pane="bottom",
                                                         density="compact"))
    await page.goto("/message/INBOX/1")
    await expect(page.locator("#message-pane")).to_contain_text("Body of Placement.")
    listed = await page.locator("#list").bounding_box()
    pane = await page.locator("#message-pane").bounding_box()
    assert listed and pane and pane["y"] >= listed["y"] + listed["height"] - 1
    await shot(page, "bottom-compact")
    await store.preferences.save(account.id, Preferences(reading_pane="off"))
    await page.goto("/mail/INBOX")
    await expect(page.locator("#message-pane")).to_be_hidden()
    await page.get_by_text("Placement").first.click()
    await expect(page.locator("#message-pane")).to_contain_text("Body of Placement.")
    await expect(page.locator("#list")).to_be_hidden()
    await shot(page, "off-reading")
