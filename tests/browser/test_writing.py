"""Writing mail in a real browser: reply to a colleague, compose with an attachment."""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import Browser, Page, expect

from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.browser.conftest import Shot, new_page, sign_in
from tests.web.conftest import PASSWORD, LiveServer, make_message


async def _inbox_subjects(store: Store, account_id: int) -> list[str]:
    inbox = await store.folders.get(account_id, "INBOX")
    return [m.subject for m in await store.messages.page(inbox.id, 0, 50)]


async def _wait_for(store: Store, account_id: int, subject: str) -> None:
    for _ in range(100):
        if subject in await _inbox_subjects(store, account_id):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{subject!r} did not arrive")


async def test_reply_to_a_message_and_see_it_arrive_for_the_other_local_user(
        browser: Browser, live: LiveServer, store: Store, account: AccountInfo,
        shot: Shot) -> None:
    live.app.state.undo_seconds = 2
    bob = await store.accounts.create("bob@example.com", PASSWORD)
    inbox = await store.folders.get(account.id, "INBOX")
    await store.messages.append(inbox.id, make_message(
        "Team lunch", "Shall we go to Luigi's on Friday?\n",
        sender="Bob <bob@example.com>"))
    ann = await new_page(browser, live)
    await sign_in(ann)
    await ann.get_by_text("Team lunch").first.click()
    await expect(ann.get_by_text("Shall we go to Luigi's on Friday?")).to_be_visible()
    await ann.goto("/compose/reply/INBOX/1")
    form = ann.locator("main.compose")  # the top bar's search box has a "To" field too
    await expect(form.get_by_label("To", exact=True)).to_have_value("Bob <bob@example.com>")
    await expect(form.get_by_label("Subject")).to_have_value("Re: Team lunch")
    editor = ann.get_by_role("textbox", name="Message")
    await expect(editor).to_be_visible()
    await expect(editor.locator("blockquote")).to_contain_text("Luigi's")
    await editor.click(position={"x": 20, "y": 12})
    await ann.keyboard.press("Control+Home")
    await ann.keyboard.type("Friday works for me.")
    await ann.get_by_role("button", name="Bold").click()
    await ann.keyboard.type(" See you there!")
    await shot(ann, "reply-written")
    await ann.keyboard.press("Control+Enter")  # sends, as in other mail programs
    await expect(ann.get_by_role("button", name="Undo")).to_be_visible()
    await shot(ann, "sending-with-undo")
    await _wait_for(store, bob.id, "Re: Team lunch")

    bob_page = await new_page(browser, live)
    await sign_in(bob_page, "bob@example.com")
    await bob_page.get_by_text("Re: Team lunch").first.click()
    body = bob_page.frame_locator("iframe").first
    await expect(body.get_by_text("Friday works for me.")).to_be_visible()
    await expect(body.locator("b, strong")).to_have_text("See you there!")
    await expect(body.locator("blockquote")).to_contain_text("Luigi's")
    await shot(bob_page, "arrived-for-bob")
    sent = await store.folders.get(account.id, "Sent")
    assert [m.subject for m in await store.messages.page(sent.id, 0, 10)] == ["Re: Team lunch"]


async def _send_with_attachment(page: Page, shot: Shot) -> None:
    await page.goto("/compose")
    to = page.locator("main.compose").get_by_label("To", exact=True)
    await to.press_sequentially("bo")
    suggestions = page.get_by_role("listbox", name="Suggestions").get_by_role("option")
    await expect(suggestions).to_have_count(1)
    await shot(page, "autocomplete")
    await suggestions.first.click()
    await expect(to).to_have_value("Bob Builder <bob@example.com>, ")
    await page.locator("main.compose").get_by_label("Subject").fill("Figures for Q3")
    await page.get_by_role("textbox", name="Message").click(position={"x": 20, "y": 12})
    await page.keyboard.type("The figures are attached.")
    await expect(page.get_by_text("up to 25 MB in total", exact=False)).to_be_visible()
    await page.set_input_files("#files", files=[
        {"name": "q3.csv", "mimeType": "text/csv", "buffer": b"month,total\njul,12\n"},
        {"name": "chart.png", "mimeType": "image/png", "buffer": b"\x89PNG\r\n" + bytes(4000)},
    ])
    attachments = page.locator("#attachment-list li")
    await expect(attachments).to_have_count(2)
    await expect(attachments.first).to_contain_text("q3.csv")
    await expect(page.locator("#save-status")).to_contain_text("Draft saved")
    await shot(page, "attached")
    await page.get_by_role("button", name="Send", exact=True).click()
    await expect(page.get_by_text("Message sent.")).to_be_visible()
    await shot(page, "sent")


async def test_compose_with_an_attachment(
        browser: Browser, live: LiveServer, store: Store, page: Page, account: AccountInfo,
        shot: Shot) -> None:
    live.app.state.undo_seconds = 0
    bob = await store.accounts.create("bob@example.com", PASSWORD)
    await store.contacts.save(account.id, "bob@example.com", "Bob Builder")
    await _send_with_attachment(page, shot)
    inbox = await store.folders.get(bob.id, "INBOX")
    [message] = await store.messages.page(inbox.id, 0, 10)
    assert message.subject == "Figures for Q3" and message.has_attachments
    drafts = await store.folders.get(account.id, "Drafts")
    assert await store.messages.page(drafts.id, 0, 10) == []


async def test_a_file_over_the_limit_is_refused_before_it_is_uploaded(
        browser: Browser, live: LiveServer, page: Page, account: AccountInfo,
        shot: Shot) -> None:
    live.app.state.max_message_size = 10_000
    await page.goto("/compose")
    await expect(page.get_by_text(re.compile("Up to 9.8 KB in total"))).to_be_visible()
    await page.set_input_files("#files", files=[
        {"name": "big.bin", "mimeType": "application/octet-stream", "buffer": bytes(20_000)}])
    await expect(page.locator("#upload-error")).to_have_text(
        "big.bin is too big: 20 KB; a message may be at most 9.8 KB in total")
    await expect(page.locator("#attachment-list li")).to_have_count(0)
    await shot(page, "too-big")


async def test_choosing_another_from_address_swaps_the_signature(
        browser: Browser, live: LiveServer, store: Store, page: Page, account: AccountInfo,
        shot: Shot) -> None:
    await store.accounts.add_alias("sales@example.com", "ann@example.com")
    await store.identities.save(account.id, "ann@example.com", signature="Ann")
    await store.identities.save(account.id, "sales@example.com", display_name="Sales",
                                signature="<b>The sales team</b>", signature_is_html=True)
    await page.goto("/compose")
    signature = page.get_by_role("textbox", name="Message").locator(".signature")
    await expect(signature).to_have_text("-- Ann")
    await page.locator("main.compose").get_by_label("From").select_option("sales@example.com")
    await expect(signature).to_have_text("-- The sales team")
    await expect(signature.locator("b")).to_have_count(1)
    await shot(page, "sales-signature")
