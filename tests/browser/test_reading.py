"""Reading mail in a real browser: sign in, open a message, the phone-sized layout."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.browser.conftest import Shot, new_page, sign_in
from tests.web.conftest import LiveServer, make_message


async def test_a_wrong_password_shows_an_error_and_keeps_the_user_out(
        browser: Browser, live: LiveServer, account: AccountInfo, shot: Shot) -> None:
    page = await new_page(browser, live)
    await page.goto("/login")
    await page.get_by_label("Email address").fill("ann@example.com")
    await page.get_by_label("Password").fill("wrong")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_be_visible()
    await shot(page, "wrong-password")
    await page.goto("/mail")
    await expect(page).to_have_url(re.compile(r"/login"))


async def test_signing_in_shows_the_inbox_and_a_message_opens_in_the_reading_pane(
        browser: Browser, live: LiveServer, store: Store, account: AccountInfo,
        shot: Shot) -> None:
    inbox = await store.folders.get(account.id, "INBOX")
    await store.messages.append(inbox.id, make_message("Quarterly figures",
                                                       "The numbers are in.\n"))
    page = await new_page(browser, live)
    await sign_in(page)
    await shot(page, "inbox")
    await page.get_by_text("Quarterly figures").first.click()
    await expect(page.get_by_text("Quarterly figures").last).to_be_visible()
    pane = page.get_by_role("main", name="Reading pane")
    await expect(pane.get_by_text("The numbers are in.")).to_be_visible()
    await shot(page, "message")


async def test_a_phone_sized_screen_shows_the_list_then_the_message(
        browser: Browser, live: LiveServer, store: Store, account: AccountInfo,
        shot: Shot) -> None:
    inbox = await store.folders.get(account.id, "INBOX")
    await store.messages.append(inbox.id, make_message("Lunch?", "At noon.\n"))
    page = await new_page(browser, live, phone=True)
    await sign_in(page)
    await expect(page.get_by_text("Lunch?").first).to_be_visible()
    await shot(page, "phone-list")
    await page.get_by_text("Lunch?").first.click()
    await expect(page.locator("#message-pane").get_by_text("At noon.")).to_be_visible()
    await shot(page, "phone-message")
