"""The admin's queue and message trace in Chromium: tick entries and retry them, delete
others (confirming the question), delete one from its own page; search the trace and open
a message's story. No Content-Security-Policy violation on the way."""

from __future__ import annotations

import re
import time

import pytest
from playwright.async_api import Browser, Page, expect

from mailstore.outbound import SENT, outbound_trace
from mailstore.store import Store
from mailstore.trace import RecipientVerdict, TraceRecord
from mailstore.values import AccountInfo
from tests.admin.test_queue import defer, queue
from tests.browser.conftest import Shot, new_page, sign_in
from tests.web.conftest import PASSWORD, LiveServer


@pytest.fixture
async def admin_page(browser: Browser, live: LiveServer, store: Store,
                     account: AccountInfo) -> Page:
    """Chromium signed in as root@example.com, an administrator; CSP violations collected
    in ``page.csp``."""
    await store.accounts.create("root@example.com", PASSWORD, is_admin=True)
    page = await new_page(browser, live)
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text)
            if "Content Security Policy" in m.text else None)
    page.csp = violations  # type: ignore[attr-defined]
    await sign_in(page, "root@example.com")
    return page


async def test_retry_and_delete_queue_entries(admin_page: Page, store: Store,
                                              shot: Shot) -> None:
    page = admin_page
    a = await queue(store, recipients=("bob@faraway.example",))
    b = await queue(store, recipients=("carl@faraway.example",))
    c = await queue(store, recipients=("dora@faraway.example",))
    await defer(store, a, "421 4.4.2 mx.faraway.example: connection timed out", later=7200)
    page.on("dialog", lambda dialog: dialog.accept())

    await page.goto("/admin/queue")
    await expect(page.locator("#queue-counts")).to_contain_text("3 messages in the queue")
    await page.get_by_label(f"Select queue entry {a}", exact=True).check()
    await page.get_by_role("button", name="Retry now").click()
    await expect(page.locator(".admin-notice")).to_contain_text(
        f"Queue entry #{a} will be tried again now")
    assert (await store.outbound.get(a)).next_attempt_at <= time.time()

    await page.get_by_label(f"Select queue entry {b}", exact=True).check()
    await page.get_by_label(f"Select queue entry {c}", exact=True).check()
    await shot(page, "ticked")
    await page.get_by_role("button", name="Delete").click()
    await expect(page.locator(".admin-notice")).to_contain_text("deleted without sending")
    await expect(page.locator(f"#entry-{b}")).to_have_count(0)
    assert [e.id for e in await store.outbound.list()] == [a]

    await page.get_by_role("link", name=f"#{a}", exact=True).click()
    await expect(page.locator("#history")).to_contain_text("connection timed out")
    await shot(page, "entry")
    await page.get_by_role("button", name="Delete").click()
    await page.wait_for_url(re.compile(r"/admin/queue\?done="))
    await expect(page.get_by_text("The queue is empty")).to_be_visible()
    assert await store.outbound.list() == []
    assert sorted(x.action for x in await store.audit.recent()) == [
        "queue.delete", "queue.delete", "queue.delete", "queue.retry"]
    assert page.csp == []  # type: ignore[attr-defined]


async def test_find_a_message_in_the_trace(admin_page: Page, store: Store,
                                           shot: Shot) -> None:
    page = admin_page
    message_id = "<plans-77@faraway.example>"
    raw = (f"From: bob@faraway.example\r\nTo: ann@example.com\r\nSubject: Plans\r\n"
           f"Message-ID: {message_id}\r\n\r\nHi\r\n").encode()
    now = int(time.time())
    await store.traces.record(TraceRecord(
        at=now - 60, listener="smtp", client_ip="203.0.113.5", verdict="accepted",
        helo="mail.faraway.example", tls="using TLSv1.3", mail_from="bob@faraway.example",
        size=len(raw), message_id=message_id, recipients=[
            RecipientVerdict("ann@example.com", "accepted", "", "ann@example.com/INBOX"),
            RecipientVerdict("ann@home.example", "accepted", "",
                             "outbound queue for ann@home.example")]))
    for n in range(5):  # other mail around it
        await store.traces.record(TraceRecord(
            at=now - n, listener="smtp", client_ip="198.51.100.1", verdict="rejected",
            mail_from=f"offer{n}@bulk.example", reply="554 5.7.1 listed",
            recipients=[RecipientVerdict("ann@example.com", "rejected", "554 5.7.1")]))
    entry_id = await queue(store, "bob@faraway.example", ("ann@home.example",))
    entry = await store.outbound.get(entry_id)
    entry.message = raw
    entry.recipients[0].state, entry.recipients[0].reply = SENT, "250 2.0.0 OK id=42"
    await store.traces.record(outbound_trace(entry, entry.recipients, verdict="sent",
                                             remote_ip="192.0.2.80", remote_host="mx.home",
                                             now=now))

    await page.goto("/admin")
    await page.get_by_role("link", name="Message trace").click()
    await page.get_by_label("Sender").fill("bob@faraway")
    await page.get_by_label("Client IP").fill("203.0.113.5")
    await page.get_by_role("button", name="Search").click()
    rows = page.locator("#trace-results tbody tr")
    await expect(rows).to_have_count(1)
    await shot(page, "results")
    await rows.get_by_role("link", name="Story").click()
    story = page.locator("#trace-story")
    await expect(story).to_contain_text("ann@example.com/INBOX")
    await expect(story).to_contain_text("Delivery attempt to another mail server")
    await expect(story).to_contain_text("250 2.0.0 OK id=42")
    await shot(page, "story")

    await page.goto("/admin/trace")
    await page.get_by_label("Client IP").fill("203.0.113.999")
    await page.get_by_role("button", name="Search").click()
    await expect(page.locator("#client_ip-error")).to_contain_text("one IP address")
    await expect(page.get_by_label("Client IP")).to_have_value("203.0.113.999")
    assert page.csp == []  # type: ignore[attr-defined]
