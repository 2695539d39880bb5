"""The address book in a real browser: add a message's sender to the contacts, find them
on the Contacts page and in the compose autocomplete."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.browser.conftest import Shot
from tests.web.conftest import make_message


async def test_add_a_sender_to_contacts_then_find_them_on_the_page_and_in_compose(
        page: Page, store: Store, account: AccountInfo, shot: Shot) -> None:
    inbox = await store.folders.get(account.id, "INBOX")
    await store.messages.append(inbox.id, make_message(
        "Garden plans", "The tomatoes are in.\n", sender="Dora Gardener <dora@plants.example>"))
    await page.goto("/mail/INBOX")
    await page.get_by_text("Garden plans").first.click()
    pane = page.locator("#message-pane")
    await expect(pane.get_by_text("Dora Gardener")).to_be_visible()
    await shot(page, "message-with-add-to-contacts")
    await pane.get_by_role("button", name="Add to contacts").click()
    await expect(page).to_have_url(re.compile(r"/message/INBOX/1"))
    await expect(page.locator("#message-pane .in-contacts")).to_be_visible()
    await expect(page.get_by_role("button", name="Add to contacts")).to_have_count(0)

    await page.get_by_role("link", name="Contacts", exact=True).click()
    await expect(page).to_have_url(re.compile(r"/contacts$"))
    contacts = page.get_by_role("list", name="Contacts", exact=True)
    await expect(contacts.locator("li.contact")).to_have_count(1)
    await expect(contacts).to_contain_text("Dora Gardener")
    await expect(contacts).to_contain_text("dora@plants.example")
    await page.get_by_label("Filter by name or address").fill("garden")
    await page.get_by_role("button", name="Filter").click()
    await expect(contacts.locator("li.contact")).to_have_count(1)
    await shot(page, "contacts-page")

    await page.goto("/compose")
    to = page.locator("main.compose").get_by_label("To", exact=True)
    await to.press_sequentially("dor")
    suggestions = page.get_by_role("listbox", name="Suggestions").get_by_role("option")
    await expect(suggestions).to_have_count(1)
    await expect(suggestions.first).to_contain_text("Dora Gardener")
    await shot(page, "compose-suggests-the-contact")
    await suggestions.first.click()
    await expect(to).to_have_value("Dora Gardener <dora@plants.example>, ")
