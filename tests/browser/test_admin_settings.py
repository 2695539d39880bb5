"""The web admin's settings in a real browser against a real ``tidings serve``: change the
message size limit on the Limits page and SMTP enforces it at once, without a restart; a bad
value is refused next to its field."""

from __future__ import annotations

import re
import smtplib
import socket
from dataclasses import dataclass

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.admin.test_settings_live import BOSS
from tests.admin.test_settings_live import running as running  # noqa: F401  (fixture)
from tests.browser.conftest import Shot, new_page, sign_in

MESSAGE = b"Subject: big\r\n\r\n" + (b"y" * 78 + b"\r\n") * 400  # about 32 KB


@dataclass
class Site:
    url: str


def send(port: int) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo("client.example.org")
        client.mail("bob@example.org")  # no SIZE=: judged at the end of DATA
        client.rcpt("boss@example.com")
        return client.data(MESSAGE)


async def test_a_new_message_size_limit_is_enforced_by_smtp_without_a_restart(
        browser: Browser, running: tuple[dict[str, int], httpx.AsyncClient],
        shot: Shot) -> None:
    ports, _ = running
    assert send(ports["smtp"])[0] == 250
    page = await new_page(browser, Site(f"http://127.0.0.1:{ports['web']}"))
    await sign_in(page, BOSS)
    await page.goto("/admin")
    await page.get_by_role("link", name="Limits").click()
    size = page.get_by_label("Largest message")
    await expect(size).to_have_value("25M")

    await size.fill("lots")
    await page.get_by_role("button", name="Save changes").click()
    error = page.locator("#smtp-max_message_size-error")
    await expect(error).to_contain_text("is not a size (for example 500M or 2G)")
    await expect(size).to_have_value("lots")
    await expect(size).to_have_attribute("aria-invalid", "true")
    await shot(page, "size-refused")
    assert send(ports["smtp"])[0] == 250  # nothing changed

    await size.fill("20K")
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.get_by_role("status")).to_contain_text("Saved and in use now")
    await expect(page.get_by_label("Largest message")).to_have_value("20K")
    await shot(page, "size-saved")
    code, reply = send(ports["smtp"])
    assert code == 552
    assert b"limit is 20480" in reply
    with smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=10) as client:
        client.ehlo("client.example.org")
        assert client.esmtp_features["size"] == "20480"

    await page.get_by_role("link", name="Audit log").click()
    row = page.locator("tr", has_text="smtp.max_message_size")
    await expect(row).to_contain_text(BOSS)
    await expect(row).to_contain_text(re.compile(r'"20K"'))


async def test_switching_a_service_off_on_the_server_page_stops_it_at_once(
        browser: Browser, running: tuple[dict[str, int], httpx.AsyncClient],
        shot: Shot) -> None:
    ports, _ = running
    page = await new_page(browser, Site(f"http://127.0.0.1:{ports['web']}"))
    await sign_in(page, BOSS)
    await page.goto("/admin/server")
    await expect(page.get_by_text("can only be changed in tidings.toml")).to_be_visible()
    switch = page.get_by_label("POP3 (STARTTLS) switched on")
    await expect(switch).to_be_checked()
    await switch.uncheck()
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.get_by_role("status")).to_contain_text(
        "Saved and in use now: POP3 (STARTTLS) switched off.")
    row = page.locator("#services tr", has=page.get_by_role("cell", name="pop3", exact=True))
    await expect(row).to_contain_text("switched off")
    await shot(page, "server")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", ports["pop3"]), timeout=5)
    await page.get_by_role("link", name="Dashboard").click()
    await expect(page.locator("#services tr", has=page.get_by_role(
        "cell", name="pop3", exact=True))).to_contain_text("switched off")
    await page.get_by_role("link", name="TLS certificate").click()
    await expect(page.locator("#certificate")).to_contain_text("self-signed")
    await shot(page, "tls")
    await page.get_by_role("link", name="Receiving and access").click()
    await page.get_by_label("Networks that may send without logging in").fill("0.0.0.0/0")
    await page.get_by_role("button", name="Save changes").click()
    await expect(page.locator("#smtp-relay_networks-error")).to_contain_text("open relay")
    await shot(page, "open-relay")
