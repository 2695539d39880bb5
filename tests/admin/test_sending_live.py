"""A running ``tidings serve`` (a real process) sends through a smart host added in its own
web admin a moment before, without a restart; its password is sealed in the database and
the server decrypts it to log in."""

from __future__ import annotations

import asyncio
import smtplib
from pathlib import Path

import httpx
import pytest

from mailstore.store import Store
from protocols.delivery.client import ConnectFailed
from protocols.delivery.runner import QueueRunner
from protocols.delivery.settings import DeliverySettings
from protocols.smtp.senderauth.resolver import make_resolver
from tests.cli import free_port, run, start_serve, use_free_ports
from tests.outbound.internet import start_remote
from tests.web.conftest import PASSWORD, csrf_token, login
from tidings.tls import create_self_signed, server_context

MESSAGE = (b"From: ann@example.com\r\nTo: bob@remote.test\r\nSubject: via the smart host\r\n"
           b"Message-ID: <smarthost.1@example.com>\r\n\r\nHello\r\n")


def submit(port: int) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.login("ann@example.com", PASSWORD)
        smtp.sendmail("ann@example.com", ["bob@remote.test"], MESSAGE)


async def test_the_running_queue_uses_a_smart_host_added_in_the_admin(
        data: Path, db_env: dict[str, str], tmp_path: Path) -> None:
    create_self_signed(tmp_path / "relay-tls", "relay.test")
    relay = await start_remote("127.0.0.1", free_port(),
                               tls=server_context(tmp_path / "relay-tls"),
                               auth={"office": "relay-pw"})
    ports = use_free_ports(data)
    (data / "tidings.toml").write_text((data / "tidings.toml").read_text() +
                                       '\n[delivery.timeouts]\nconnect = "5s"\ncommand = "5s"'
                                       '\ndata_end = "5s"\n')
    for address, extra in (("ann@example.com", ()), ("boss@example.com", ("--admin",))):
        run("user", "add", address, "--password-stdin", *extra, "--data", str(data),
            env=db_env, stdin=PASSWORD + "\n")
    proc, _ = await asyncio.to_thread(start_serve, data, db_env, "imaps listening")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports['web']}",
                                     timeout=30) as web:
            assert (await login(web, "boss@example.com")).status_code == 303
            token = csrf_token((await web.get("/admin/sending")).text)
            added = await web.post("/admin/sending/smarthost/new", data={
                "csrf_token": token, "name": "isp", "host": "127.0.0.1",
                "port": str(relay.port), "tls": "starttls", "username": "office",
                "password": "relay-pw"})  # self-signed: certificate check off
            assert added.status_code == 303, added.text
            tested = await web.post("/admin/sending/smarthost/isp/test",
                                    data={"csrf_token": token})
            assert "Works:" in tested.text and "accepts the login as office" in tested.text
            general = await web.post("/admin/sending/general", data={
                "csrf_token": token, "via": "isp", "via_fallback": "",
                "delivery.retry": "5m, 15m, 30m, 1h, 2h, 4h",
                "delivery.delay_notice_after": "4h", "delivery.expire_after": "5d"})
            assert general.status_code == 303, general.text
        await asyncio.to_thread(submit, ports["submission"])
        async with asyncio.timeout(30):
            while not relay.received:
                await asyncio.sleep(0.05)
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 30)
        await relay.close()
    [received] = relay.received
    assert received.recipients == ["bob@remote.test"]
    assert received.tls  # STARTTLS, as the smart host's mode requires
    assert received.message["Subject"] == "via the smart host"
    assert (data / "collector.key").exists()
    database = b"".join(p.read_bytes() for p in data.glob("tidings.db*"))
    assert b"relay-pw" not in database


async def test_a_part_waiting_for_a_smart_host_removed_meanwhile_is_retried(
        store: Store) -> None:
    """Parts are grouped by smart host names when claimed; if the admin removes that host
    before the connection opens, the recipients get a temporary failure, not a crash."""
    runner = QueueRunner(store, DeliverySettings("mail.example.com"),
                         make_resolver(["127.0.0.1"]), node="n")
    with pytest.raises(ConnectFailed) as failed:
        await runner._open(("relay", "gone"))
    assert failed.value.reply == "451 4.4.1 smart host gone is no longer configured"
