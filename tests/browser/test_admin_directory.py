"""The admin's directory pages in a real browser: create a domain and an account, then
sign in as that account; add an alias and ask the tester where its mail goes; give a
deleted account's mail to another one."""

from __future__ import annotations

import re

from playwright.async_api import Browser, Page, expect

from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.browser.conftest import Shot, new_page, sign_in
from tests.web.conftest import PASSWORD, LiveServer, make_message

ADMIN = "root@example.com"


async def admin_page(browser: Browser, live: LiveServer, store: Store) -> Page:
    await store.accounts.create(ADMIN, PASSWORD, is_admin=True)
    page = await new_page(browser, live)
    await sign_in(page, ADMIN)
    return page


async def test_create_a_domain_and_an_account_then_sign_in_as_it(
        browser: Browser, live: LiveServer, store: Store, account: AccountInfo,
        shot: Shot) -> None:
    page = await admin_page(browser, live, store)
    await page.goto("/admin")
    await page.get_by_role("link", name="Domains").click()
    await page.get_by_label("Domain name").fill("shop.example")
    await page.get_by_role("button", name="Add domain").click()
    await expect(page.locator(".admin-notice")).to_contain_text("Added the domain shop.example")
    await expect(page.locator("#domains")).to_contain_text("shop.example")
    await shot(page, "domain-added")

    await page.get_by_role("link", name="Accounts", exact=True).click()
    await page.get_by_label("Email address").fill("pat@shop.example")
    await page.get_by_label("Password").fill("short")
    await page.get_by_role("button", name="Create account").click()
    await expect(page.locator("#password-error")).to_have_text("Use at least 10 characters")
    await expect(page.get_by_label("Email address")).to_have_value("pat@shop.example")
    await shot(page, "password-too-short")
    await page.get_by_label("Password").fill("pats own password")
    await page.get_by_label("Quota (MB)").fill("200")
    await page.get_by_role("button", name="Create account").click()
    await expect(page).to_have_url(re.compile(r"/admin/accounts/pat@shop.example"))
    await expect(page.locator(".admin-notice")).to_contain_text("Created pat@shop.example")
    await page.get_by_role("link", name="← All accounts").click()
    await expect(page.locator("#accounts")).to_contain_text("pat@shop.example")
    await expect(page.locator("#accounts")).to_contain_text("200 MB")
    await shot(page, "account-created")

    pat = await new_page(browser, live)
    await sign_in(pat, "pat@shop.example", "pats own password")
    await expect(pat).to_have_url(re.compile(r"/mail/INBOX"))
    assert (await pat.goto("/admin")).status == 403  # type: ignore[union-attr]


async def test_add_an_alias_and_ask_where_its_mail_goes(
        browser: Browser, live: LiveServer, store: Store, account: AccountInfo,
        shot: Shot) -> None:
    page = await admin_page(browser, live, store)
    await page.goto("/admin/aliases")
    await page.locator("#f-address").fill("info@example.com")
    await page.locator("#f-target").fill("nobody@example.com")
    await page.get_by_role("button", name="Add alias").click()
    await expect(page.locator("#target-error")).to_have_text(
        "No account, alias or list is called nobody@example.com")
    await page.locator("#f-target").fill("ann@example.com")
    await page.get_by_role("button", name="Add alias").click()
    await expect(page.locator(".admin-notice")).to_contain_text(
        "Mail for info@example.com now also goes to ann@example.com")
    await expect(page.locator("#aliases")).to_contain_text("info@example.com")

    await page.get_by_label("Address", exact=True).first.fill("info@example.com")
    await page.get_by_role("button", name="Test").click()
    verdict = page.locator("#verdict")
    await expect(verdict).to_contain_text("Delivered.")
    await expect(verdict).to_contain_text("into the mailbox of ann@example.com, folder INBOX")
    await expect(verdict).to_contain_text("info@example.com is an alias for ann@example.com")
    await shot(page, "tester-delivered")

    await page.locator("#f-test-address").fill("nobody@example.com")
    await page.get_by_role("button", name="Test").click()
    await expect(verdict).to_contain_text("Refused:")
    await expect(verdict).to_contain_text("no such address here")
    await shot(page, "tester-refused")


async def test_delete_an_account_giving_its_mail_to_another(
        browser: Browser, live: LiveServer, store: Store, account: AccountInfo,
        shot: Shot) -> None:
    inbox = await store.folders.get(account.id, "INBOX")
    await store.messages.append(inbox.id, make_message("Handover notes"))
    await store.accounts.create("bob@example.com", PASSWORD)
    page = await admin_page(browser, live, store)
    await page.goto("/admin/accounts/ann@example.com")
    await page.get_by_label(re.compile("Give it to another account")).check()
    await page.get_by_label("Account that gets the mail").select_option("bob@example.com")
    await page.get_by_label("Type the address to confirm").fill("ann@example.com")
    await shot(page, "delete-form")
    await page.get_by_role("button", name="Delete ann@example.com").click()
    await expect(page.locator(".admin-notice")).to_contain_text(
        "Its 1 message(s) are now in bob@example.com, folder “From ann@example.com”")
    await expect(page.locator("#accounts")).not_to_contain_text("ann@example.com")

    bob = await new_page(browser, live)
    await sign_in(bob, "bob@example.com")
    await bob.goto("/mail/From ann@example.com/INBOX")
    await expect(bob.get_by_text("Handover notes").first).to_be_visible()
    await shot(bob, "mail-given-to-bob")


async def test_make_a_list_for_members_only_and_test_who_may_post(
        browser: Browser, live: LiveServer, store: Store, account: AccountInfo,
        shot: Shot) -> None:
    page = await admin_page(browser, live, store)
    await page.goto("/admin/lists")
    await page.get_by_label("List address").fill("team@example.com")
    await page.get_by_label("Who may post").select_option("members")
    await page.get_by_label("Subject prefix").fill("[Team]")
    await page.get_by_label("Replies go to the list").check()
    await page.get_by_role("button", name="Create list").click()
    await expect(page).to_have_url(re.compile(r"/admin/lists/team@example.com"))
    await page.get_by_label("Add a member").fill("ann@example.com")
    await page.get_by_role("button", name="Add member").click()
    await expect(page.locator(".admin-notice")).to_contain_text(
        "Added ann@example.com as a member of team@example.com")
    await expect(page.locator("#members")).to_contain_text("ann@example.com")
    await shot(page, "list-with-a-member")

    await page.goto("/admin/aliases?address=team@example.com&sender=stranger@far.example")
    await expect(page.locator("#verdict")).to_contain_text(
        "the sender may not post to this list")
    await page.locator("#f-test-sender").fill("ann@example.com")
    await page.get_by_role("button", name="Test").click()
    await expect(page.locator("#verdict")).to_contain_text(
        "into the mailbox of ann@example.com, folder INBOX")
    await shot(page, "list-tester")
