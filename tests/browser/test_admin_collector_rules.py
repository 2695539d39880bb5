"""The administrator, in Chromium, edits a collector's download rules: a wrong line is
refused with the error beside the field naming the line, then the corrected rules are saved
in order and shown again."""

from __future__ import annotations

from playwright.async_api import Page, expect

from mailstore.collectors import CollectorSettings, Rule
from mailstore.store import Store
from tests.admin.conftest import admin_account as admin_account  # noqa: F401  (fixture)
from tests.admin.conftest import control as control  # noqa: F401  (fixture)
from tests.browser.conftest import Shot
from tests.browser.test_admin_collect import admin_live as admin_live  # noqa: F401
from tests.browser.test_admin_collect import admin_page as admin_page  # noqa: F401


async def test_edit_download_rules_with_an_error_beside_the_field(
        admin_page: Page, store: Store, shot: Shot) -> None:  # noqa: F811
    page = admin_page
    account = await store.collectors.add(CollectorSettings(
        name="office", protocol="pop3", host="127.0.0.1", username="office@isp.example",
        password="isp-secret", recipient="ann@example.com", tls="none", enabled=False,
        rules=(Rule("skip", "size", str(10 * 1024 * 1024)),)))
    await page.goto(f"/admin/collectors/{account.id}")
    rules = page.get_by_label("Rules, one per line, in order")
    await expect(rules).to_have_value("skip size 10MB")
    await expect(page.locator(".collector-form")).to_contain_text(
        "the first rule that matches decides")

    await rules.fill("delete from *@spam.example\nskip size 10\nskip size 10MB")
    await page.get_by_role("button", name="Save changes").click()
    error = page.locator("#rules-error")
    await expect(error).to_contain_text("line 2 ('skip size 10'): add a unit")
    await expect(rules).to_have_attribute("aria-describedby", "rules-error")
    await expect(rules).to_have_value("delete from *@spam.example\nskip size 10\nskip size 10MB")
    await shot(page, "refused")

    await rules.fill("delete from *@spam.example\nskip size 10KB\nskip size 10MB")
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.locator(".admin-notice")).to_contain_text("Collector office saved")
    await expect(rules).to_have_value("delete from *@spam.example\nskip size 10KB\n"
                                      "skip size 10MB")
    assert (await store.collectors.get("office")).rules == (
        Rule("delete", "from", "*@spam.example"), Rule("skip", "size", "10240"),
        Rule("skip", "size", str(10 * 1024 * 1024)))
    await shot(page, "saved")
