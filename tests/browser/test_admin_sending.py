"""The Sending and DKIM pages in Chromium: an administrator adds a smart host (a mistake
first, shown next to its field) and makes a DKIM key, then copies its DNS record."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, expect

from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.admin.conftest import ADMIN
from tests.admin.conftest import admin_account as admin_account  # noqa: F401  (fixtures)
from tests.admin.conftest import control as control  # noqa: F401
from tests.browser.conftest import Shot, new_page, sign_in
from tests.web.conftest import LiveServer
from tidings.control import Control


@pytest.fixture
async def admin_live(store: Store, control: Control) -> AsyncIterator[LiveServer]:  # noqa: F811
    server = LiveServer(store, control=control)
    await server.start()
    yield server
    await server.stop()


async def test_add_a_smart_host_and_make_a_dkim_key(
        browser: Browser, admin_live: LiveServer, admin_account: AccountInfo,  # noqa: F811
        control: Control, store: Store, shot: Shot) -> None:  # noqa: F811
    page = await new_page(browser, admin_live)
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await sign_in(page, ADMIN)
    await page.goto("/admin")
    await page.get_by_role("link", name="Sending").click()
    await expect(page.get_by_role("heading", name="Sending", exact=True)).to_be_visible()
    await page.get_by_role("link", name="Add a smart host").click()
    await page.get_by_label("Name", exact=True).fill("isp")
    await page.get_by_label("Server", exact=True).fill("smtp.isp.example")
    await page.get_by_label("Port", exact=True).fill("70000")
    await page.get_by_label("User name").fill("office@isp.example")
    await page.get_by_label("Password", exact=True).fill("not-shown-again")
    await page.get_by_role("button", name="Add smart host").click()
    port = page.get_by_label("Port", exact=True)
    await expect(port).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#port-error")).to_contain_text("from 1 to 65535")
    await expect(page.get_by_label("Server", exact=True)).to_have_value("smtp.isp.example")
    await shot(page, "smart-host-error")
    await port.fill("587")
    await page.get_by_label("Password", exact=True).fill("not-shown-again")
    await page.get_by_role("button", name="Add smart host").click()
    await expect(page).to_have_url(re.compile(r"/admin/sending\?done="))
    await expect(page.locator(".admin-notice")).to_contain_text("Smart host isp added")
    await expect(page.locator("#smarthosts")).to_contain_text("smtp.isp.example:587")
    assert "not-shown-again" not in await page.content()
    assert control.live.config.delivery.smarthosts["isp"].password == "not-shown-again"
    await shot(page, "smart-host-added")

    await page.get_by_role("link", name="DKIM keys").click()
    await page.get_by_label("Selector").fill("office")
    await page.get_by_role("button", name="Make key").click()
    await expect(page.locator(".admin-notice")).to_contain_text("Key office made for "
                                                                "example.com")
    name = page.get_by_label("DNS name (TXT record)")
    await expect(name).to_have_value("office._domainkey.example.com")
    value = page.get_by_label("Value", exact=True)
    await expect(value).to_have_value(re.compile(r"^v=DKIM1; k=rsa; p=MII"))
    [key] = await store.dkim.list()
    assert await value.input_value() == key.txt_record
    copy = page.locator('button[data-copy="value-example.com-office"]')
    await copy.click()
    await expect(copy).to_have_text("Copied")
    assert await page.evaluate("navigator.clipboard.readText()") == key.txt_record
    await shot(page, "dkim-key")
