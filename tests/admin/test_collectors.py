"""Collector accounts in the web admin: add, edit, remove (audited, the ISP password never
shown back), errors next to their fields, "test connection" naming the stage that failed
(DNS, TCP, TLS, login) against a real POP3 server (Dovecot), and "run now" picked up by a
real collector scheduler."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
import pytest

from mailstore.store import Store
from protocols.collector.scheduler import CollectorScheduler
from tests.cli import free_port
from tests.collector.conftest import corpus, inbox
from tests.collector.conftest import dovecot as dovecot  # noqa: F401  (fixture)
from tests.collector.conftest import lonely_isp as lonely_isp  # noqa: F401  (fixture)
from tests.collector.isp import DovecotIsp
from tests.web.conftest import csrf_token
from tidings.control import Control

ISP_PASSWORD = "isp-secret-Zq81"


def fields(**changes: str) -> dict[str, str]:
    base = {"name": "office", "protocol": "pop3", "host": "127.0.0.1", "port": "",
            "tls": "none", "username": "office@isp.example", "password": ISP_PASSWORD,
            "delivery": "single", "recipient": "ann@example.com", "keep": "leave",
            "delete_after_days": "", "interval": "5", "timeout": "5", "folder": "INBOX",
            "enabled": "1", "verify_tls": "1", "action": "save"}
    return {**base, **changes}


async def post(client: httpx.AsyncClient, path: str, data: dict[str, str],
               page: str | None = None) -> httpx.Response:
    token = csrf_token((await client.get(page or path)).text)
    return await client.post(path, data={**data, "csrf_token": token})


async def add(client: httpx.AsyncClient, **changes: str) -> int:
    response = await post(client, "/admin/collectors/new", fields(**changes))
    assert response.status_code == 303, response.text
    return int(re.search(r"/admin/collectors/(\d+)", response.headers["location"]).group(1))


def error_for(html: str, name: str) -> str:
    match = re.search(rf'id="{name}-error" role="alert">([^<]*)<', html)
    return match.group(1) if match else ""


async def test_the_list_explains_itself_when_empty(admin: httpx.AsyncClient) -> None:
    page = await admin.get("/admin/collectors")
    assert page.status_code == 200
    assert "No collector accounts yet" in page.text
    assert 'href="/admin/collectors/new"' in page.text


async def test_a_refused_form_shows_each_error_beside_its_field_and_keeps_what_was_typed(
        admin: httpx.AsyncClient, store: Store) -> None:
    response = await post(admin, "/admin/collectors/new", fields(
        host="", port="abc", interval="0.01", recipient="nobody@example.com"))
    assert response.status_code == 400
    html = response.text
    assert "not a host name" in error_for(html, "host")
    assert "not a number" in error_for(html, "port")
    assert "10 seconds" in error_for(html, "interval")
    assert 'value="abc"' in html and 'value="office@isp.example"' in html
    assert ISP_PASSWORD not in html  # never sent back, even on a refused form
    assert "again" in error_for(html, "password")
    assert await store.collectors.list() == []
    # The recipient is checked by the store once the rest is right.
    response = await post(admin, "/admin/collectors/new", fields(recipient="nobody@example.com"))
    assert response.status_code == 400
    assert "not deliverable here" in error_for(response.text, "recipient")


async def test_add_edit_and_remove_are_audited_without_the_password(
        admin: httpx.AsyncClient, store: Store) -> None:
    collector_id = await add(admin)
    account = await store.collectors.get("office")
    assert (account.port, account.interval, account.recipient) == (110, 300, "ann@example.com")
    assert (await store.collectors.get("office", secret=True)).password == ISP_PASSWORD
    page = await admin.get(f"/admin/collectors/{collector_id}")
    assert page.status_code == 200 and ISP_PASSWORD not in page.text
    listing = await admin.get("/admin/collectors")
    assert "office@isp.example" in listing.text and "not run yet" in listing.text

    # Edit: an empty password keeps the saved one.
    response = await post(admin, f"/admin/collectors/{collector_id}",
                          fields(password="", interval="15", keep="delete"))
    assert response.status_code == 303, response.text
    account = await store.collectors.get("office", secret=True)
    assert (account.interval, account.leave_on_server) == (900, False)
    assert account.password == ISP_PASSWORD
    # A new password is saved, and audited as "changed".
    response = await post(admin, f"/admin/collectors/{collector_id}",
                          fields(password="new-Secret-77", keep="delete", interval="15"))
    assert response.status_code == 303
    assert (await store.collectors.get("office", secret=True)).password == "new-Secret-77"

    response = await post(admin, f"/admin/collectors/{collector_id}/remove", {},
                          page=f"/admin/collectors/{collector_id}")
    assert response.status_code == 303
    assert await store.collectors.list() == []

    entries = list(reversed(await store.audit.recent()))
    assert [e.action for e in entries] == ["collector.add", "collector.change",
                                          "collector.change", "collector.remove"]
    assert all(e.actor == "root@example.com" and e.target == "collector office"
               for e in entries)
    assert entries[1].old_value == {"interval": 300, "leave_on_server": True}
    assert entries[1].new_value == {"interval": 900, "leave_on_server": False}
    assert entries[2].new_value == {"password": "changed"}
    log = str([(e.old_value, e.new_value) for e in entries])
    assert ISP_PASSWORD not in log and "new-Secret-77" not in log


async def test_two_collectors_on_one_isp_mailbox_are_refused_beside_the_user_name(
        admin: httpx.AsyncClient) -> None:
    await add(admin)
    response = await post(admin, "/admin/collectors/new", fields(name="again"))
    assert response.status_code == 400
    assert "already downloads office@isp.example" in error_for(response.text, "username")


def stages(html: str) -> dict[str, tuple[str, str]]:
    """stage name -> (state shown, detail)"""
    out = {}
    for name, cls, body in re.findall(
            r'<li class="stage-(\w+)" data-stage="(\w+)">(.*?)</li>', html, re.S):
        detail = re.search(r'class="stage-detail">(.*?)</span>', body, re.S)
        out[cls] = (name, detail.group(1) if detail else "")
    return out


async def probe_page(admin: httpx.AsyncClient, **changes: str) -> dict[str, tuple]:
    response = await post(admin, "/admin/collectors/new", fields(action="test", **changes))
    assert response.status_code == 200, response.text
    return stages(response.text)


async def test_test_connection_names_the_dns_stage(admin: httpx.AsyncClient) -> None:
    found = await probe_page(admin, host="pop.nowhere.invalid")
    assert found["dns"][0] == "failed"
    assert "cannot find the ISP server pop.nowhere.invalid" in found["dns"][1]
    assert {found[s][0] for s in ("tcp", "tls", "login")} == {"untried"}


async def test_test_connection_names_the_tcp_stage(admin: httpx.AsyncClient) -> None:
    found = await probe_page(admin, port=str(free_port()))
    assert found["dns"][0] == "ok"
    assert found["tcp"][0] == "failed"
    assert "Connection refused" in found["tcp"][1]
    assert found["login"][0] == "untried"


async def test_test_connection_names_the_tls_stage(admin: httpx.AsyncClient,
                                                  dovecot: DovecotIsp) -> None:
    # TLS required (from the start) against a plain POP3 port.
    found = await probe_page(admin, port=str(dovecot.ports["pop3"]), tls="implicit")
    assert (found["dns"][0], found["tcp"][0]) == ("ok", "ok")
    assert found["tls"][0] == "failed"
    assert "TLS handshake with 127.0.0.1" in found["tls"][1]
    assert found["login"][0] == "untried"


async def test_test_connection_names_the_login_stage_with_the_server_answer(
        admin: httpx.AsyncClient, lonely_isp: DovecotIsp) -> None:
    user, _ = lonely_isp.new_mailbox()
    found = await probe_page(admin, port=str(lonely_isp.ports["pop3s"]), tls="implicit",
                                  verify_tls="", username=user, password="wrong")
    assert found["tls"][0] == "ok" and "certificate NOT checked" in found["tls"][1]
    assert found["login"][0] == "failed"
    assert f"refused the login of {user}: -ERR" in found["login"][1]
    assert "wrong" not in found["login"][1]


async def test_test_connection_passes_every_stage_and_counts_the_waiting_mail(
        admin: httpx.AsyncClient, dovecot: DovecotIsp) -> None:
    user, password = dovecot.new_mailbox()
    for raw in corpus(2):
        dovecot.put(user, raw)
    response = await post(admin, "/admin/collectors/new", fields(
        action="test", port=str(dovecot.ports["pop3"]), tls="starttls", verify_tls="",
        username=user, password=password))
    assert "All stages passed" in response.text
    found = stages(response.text)
    assert [found[s][0] for s in ("dns", "tcp", "tls", "login", "mailbox")] == ["ok"] * 5
    assert "STLS" in found["tls"][1]
    assert found["mailbox"][1] == "2 message(s) waiting"
    assert dovecot.count(user) == 2  # a test takes nothing


async def test_test_connection_on_a_saved_account_uses_the_saved_password(
        admin: httpx.AsyncClient, dovecot: DovecotIsp) -> None:
    user, password = dovecot.new_mailbox()
    collector_id = await add(admin, port=str(dovecot.ports["pop3"]), username=user,
                             password=password)
    response = await post(admin, f"/admin/collectors/{collector_id}",
                          fields(action="test", port=str(dovecot.ports["pop3"]),
                                 username=user, password=""))
    assert "All stages passed" in response.text
    assert password not in response.text


async def test_run_now_is_picked_up_by_the_scheduler_and_recorded_in_the_history(
        admin: httpx.AsyncClient, store: Store, control: Control,
        dovecot: DovecotIsp) -> None:
    user, password = dovecot.new_mailbox()
    messages = corpus(3)
    collector_id = await add(admin, port=str(dovecot.ports["pop3"]), username=user,
                             password=password, enabled="")
    # Switched off: "run now" says so and does nothing.
    response = await post(admin, f"/admin/collectors/{collector_id}/run", {},
                          page=f"/admin/collectors/{collector_id}")
    assert "switched off" in response.headers["location"].replace("+", " ")
    await post(admin, f"/admin/collectors/{collector_id}",
               fields(port=str(dovecot.ports["pop3"]), username=user, password=""))
    scheduler = CollectorScheduler(store, "mail.example.com", tick=3600)  # only when woken
    control.collector = scheduler
    scheduler.start()
    try:
        await asyncio.sleep(0.2)
        await _wait_run(store, "office", runs=1)  # the first run after saving
        for raw in messages:
            dovecot.put(user, raw)
        response = await post(admin, f"/admin/collectors/{collector_id}/run", {},
                              page=f"/admin/collectors/{collector_id}")
        assert response.status_code == 303
        await _wait_run(store, "office", runs=2)
    finally:
        await scheduler.stop()
    assert sorted(await inbox(store, "ann@example.com")) == sorted(messages)
    page = await admin.get(f"/admin/collectors/{collector_id}")
    assert "3 new message(s) delivered" in page.text
    history = page.text.split('id="collector-runs"')[1]
    assert history.count("<tr>") == 3  # header + two runs
    assert "collector.run_now" in [e.action for e in await store.audit.recent()]


async def _wait_run(store: Store, name: str, runs: int) -> None:
    account = await store.collectors.get(name)
    deadline = time.monotonic() + 20
    while len(await store.collectors.runs(account.id)) < runs:
        assert time.monotonic() < deadline, "the scheduler did not run the collector"
        await asyncio.sleep(0.1)


async def test_an_error_run_shows_in_the_list_and_the_history(
        admin: httpx.AsyncClient, store: Store) -> None:
    collector_id = await add(admin, port=str(free_port()))
    from protocols.collector.runner import Collector

    outcome = await Collector(store, "mail.example.com").run(collector_id)
    assert outcome.error and "cannot connect" in outcome.error
    listing = await admin.get("/admin/collectors")
    assert "failed" in listing.text and "cannot connect to 127.0.0.1" in listing.text
    page = await admin.get(f"/admin/collectors/{collector_id}")
    assert page.text.count("cannot connect to 127.0.0.1") >= 2  # last run and history


@pytest.mark.parametrize("path", ["/admin/collectors/999", "/admin/collectors/999/status"])
async def test_an_unknown_collector_is_a_404(admin: httpx.AsyncClient, path: str) -> None:
    assert (await admin.get(path)).status_code == 404
