"""The administrator, in Chromium: adds a collector account against a real POP3 server
(Dovecot), tests the connection, sees the mail arrive, runs it again with "Run now", and sees
"test connection" name the stage that fails (DNS, TCP, TLS, login); then imports an mbox
file with the upload and import progress bars."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from mailstore.store import Store
from mailstore.values import AccountInfo
from protocols.collector.scheduler import CollectorScheduler
from tests.admin.conftest import ADMIN
from tests.admin.conftest import admin_account as admin_account  # noqa: F401  (fixture)
from tests.admin.conftest import control as control  # noqa: F401  (fixture)
from tests.admin.test_import import mbox
from tests.browser.conftest import Shot, new_page, sign_in
from tests.cli import free_port
from tests.collector.conftest import corpus, inbox
from tests.collector.conftest import dovecot as dovecot  # noqa: F401  (fixture)
from tests.collector.conftest import lonely_isp as lonely_isp  # noqa: F401  (fixture)
from tests.collector.isp import DovecotIsp
from tests.web.conftest import LiveServer
from tidings.control import Control


@pytest.fixture
async def admin_live(store: Store, control: Control) -> AsyncIterator[LiveServer]:  # noqa: F811
    """The web app with a server control whose collector scheduler really runs."""
    scheduler = CollectorScheduler(store, "mail.example.com", tick=0.5)
    control.collector = scheduler
    server = LiveServer(store, control=control)
    await server.start()
    scheduler.start()
    yield server
    await scheduler.stop()
    await server.stop()


@pytest.fixture
async def admin_page(browser: Browser, admin_live: LiveServer,
                     admin_account: AccountInfo) -> Page:  # noqa: F811
    opened = await new_page(browser, admin_live)
    await sign_in(opened, ADMIN)
    return opened


async def fill_collector(page: Page, host: str, port: int, tls: str, user: str,
                         password: str, check_certificate: bool = False) -> None:
    await page.get_by_label("Server", exact=True).fill(host)
    await page.get_by_label("Encryption").select_option(tls)
    await page.get_by_label("Port").fill(str(port))
    await page.get_by_label("Check the server's certificate").set_checked(check_certificate)
    await page.get_by_label("User name at the ISP").fill(user)
    await page.get_by_label("Password at the ISP").fill(password)


async def connection_verdict(page: Page) -> str:
    """Press "Test connection" and wait for ITS result (the previous one is replaced)."""
    previous = await page.query_selector("#test-verdict")
    await page.get_by_role("button", name="Test connection").click()
    if previous is not None:
        await previous.wait_for_element_state("hidden", timeout=20_000)
    verdict = page.locator("#test-verdict")
    await expect(verdict).to_be_visible(timeout=20_000)
    return await verdict.inner_text()


async def test_add_a_collector_test_it_and_see_the_mail_arrive(
        admin_page: Page, admin_live: LiveServer, store: Store, dovecot: DovecotIsp,  # noqa: F811
        shot: Shot) -> None:
    page = admin_page
    user, password = dovecot.new_mailbox()
    first, later = corpus(3), corpus(2, start=3)
    for raw in first:
        dovecot.put(user, raw)

    await page.goto("/admin")
    await page.get_by_role("link", name="Collector accounts").click()
    await page.get_by_role("link", name="Add a collector account").click()
    await page.get_by_label("Name", exact=True).fill("office")
    await fill_collector(page, "127.0.0.1", dovecot.ports["pop3"], "starttls", user, password)
    await page.get_by_label("Deliver to").fill("ann@example.com")
    await page.get_by_label("Check every (minutes)").fill("60")

    # The test swaps its result in place: what was typed (the password too) stays.
    assert (await connection_verdict(page)).startswith("All stages passed")
    await expect(page.locator('[data-stage="mailbox"]')).to_contain_text("3 message(s) waiting")
    await expect(page.get_by_label("Password at the ISP")).to_have_value(password)
    await shot(page, "tested")
    await page.get_by_role("button", name="Add collector account").click()
    await page.wait_for_url(re.compile(r"/admin/collectors/\d+"))
    await expect(page.locator("#last-result")).to_contain_text(
        "3 new message(s) delivered", timeout=20_000)
    assert sorted(await inbox(store, "ann@example.com")) == sorted(first)
    await shot(page, "collected")

    # "Run now" picks up what arrived since.
    for raw in later:
        dovecot.put(user, raw)
    await page.get_by_role("button", name="Run now").click()
    await expect(page.locator(".admin-notice")).to_contain_text("will run within a few seconds")
    await expect(page.locator("#last-result")).to_contain_text(
        "2 new message(s) delivered", timeout=20_000)
    await expect(page.locator("#collector-runs tbody tr")).to_have_count(2)
    assert len(await inbox(store, "ann@example.com")) == 5
    await page.get_by_role("link", name="Back to the collector accounts").click()
    await expect(page.locator("#collectors")).to_contain_text("2 new message(s) delivered")
    await shot(page, "list")

    # Ann sees the mail in her webmail.
    ann = await new_page(page.context.browser, admin_live)
    await sign_in(ann)
    await expect(ann.locator("#rows li.item")).to_have_count(5)


async def test_test_connection_says_which_stage_failed(
        admin_page: Page, dovecot: DovecotIsp, lonely_isp: DovecotIsp,  # noqa: F811
        shot: Shot) -> None:
    page = admin_page
    await page.goto("/admin/collectors/new")
    await page.get_by_label("Name", exact=True).fill("probe")
    user, password = dovecot.new_mailbox()

    await fill_collector(page, "pop.nowhere.invalid", 110, "none", user, password)
    assert await connection_verdict(page) == "Failed at: DNS lookup"
    await expect(page.locator('[data-stage="dns"]')).to_contain_text("cannot find the ISP server")

    await fill_collector(page, "127.0.0.1", free_port(), "none", user, password)
    assert await connection_verdict(page) == "Failed at: TCP connect"
    await expect(page.locator('[data-stage="tcp"]')).to_contain_text("Connection refused")

    # TLS required ("from the start") against the plain POP3 port.
    await fill_collector(page, "127.0.0.1", dovecot.ports["pop3"], "implicit", user, password)
    assert await connection_verdict(page) == "Failed at: TLS handshake"
    await expect(page.locator('[data-stage="tcp"]')).to_contain_text("ok")

    # A self-signed certificate is refused while it is checked.
    await fill_collector(page, "127.0.0.1", dovecot.ports["pop3s"], "implicit", user, password,
                         check_certificate=True)
    assert await connection_verdict(page) == "Failed at: TLS handshake"
    await expect(page.locator('[data-stage="tls"]')).to_contain_text("certificate verify failed")

    lonely_user, _ = lonely_isp.new_mailbox()
    await fill_collector(page, "127.0.0.1", lonely_isp.ports["pop3s"], "implicit", lonely_user,
                         "wrong password")
    assert await connection_verdict(page) == "Failed at: Login"
    login = page.locator('[data-stage="login"]')
    await expect(login).to_contain_text(f"refused the login of {lonely_user}: -ERR")
    await shot(page, "login-failed")


async def test_import_an_mbox_with_progress(admin_page: Page, store: Store, tmp_path: Path,
                                            shot: Shot) -> None:
    page = admin_page
    messages = corpus(20)
    path = tmp_path / "old.mbox"
    path.write_bytes(mbox(messages))
    await page.goto("/admin")
    await page.get_by_role("link", name="Import mail").click()
    await page.get_by_label("Into the account").select_option("ann@example.com")
    await page.get_by_label("Folder").fill("Old mail")
    await page.get_by_label("File").set_input_files(str(path))
    await page.get_by_role("button", name="Upload and import").click()
    await page.wait_for_url(re.compile(r"/admin/import/[\w-]+"))
    await expect(page.locator("#import-done")).to_contain_text(
        "imported 20 message(s) into 1 folder(s); skipped 0", timeout=30_000)
    await expect(page.locator("#import-bar")).to_have_attribute("value", "100")
    assert len(await inbox(store, "ann@example.com", "Old mail")) == 20
    await shot(page, "imported")

    # Not a mailbox: the refusal is shown beside the file field.
    text = tmp_path / "notes.txt"
    text.write_text("just some notes\n")
    await page.goto("/admin/import")
    await page.get_by_label("Into the account").select_option("ann@example.com")
    await page.get_by_label("File").set_input_files(str(text))
    await page.get_by_role("button", name="Upload and import").click()
    await expect(page.locator("#file-error")).to_contain_text(
        "This file is neither an mbox file nor a zip of a Maildir")
    await shot(page, "refused")
