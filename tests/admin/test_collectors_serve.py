"""The collector pages on a real ``tidings serve`` (in a subprocess): "test connection" runs
in the server through its control, and "run now" written by another node (a second Store on
the same database) is noticed by the server's scheduler."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from mailstore.audit import Actor
from tests.admin.test_collectors import fields, stages
from tests.admin.test_live_settings import store_for
from tests.cli import start_serve, use_free_ports
from tests.collector.conftest import corpus, inbox
from tests.collector.conftest import dovecot as dovecot  # noqa: F401  (fixture)
from tests.collector.isp import DovecotIsp
from tests.web.conftest import csrf_token

PASSWORD = "admin password 42"


async def test_test_connection_and_run_now_on_a_running_server(
        data: Path, db_env: dict[str, str], database_url: str,
        dovecot: DovecotIsp) -> None:  # noqa: F811
    ports = use_free_ports(data)
    store = store_for(data, database_url)
    await store.accounts.set_password("admin@example.com", PASSWORD)
    user, password = dovecot.new_mailbox()
    proc, _ = await asyncio.to_thread(start_serve, data, db_env, "imaps listening")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports['web']}",
                                     timeout=30) as web:
            token = csrf_token((await web.get("/login")).text)
            signed_in = await web.post("/login", data={
                "address": "admin@example.com", "password": PASSWORD, "csrf_token": token})
            assert signed_in.status_code == 303
            token = csrf_token((await web.get("/admin/collectors/new")).text)
            form = fields(port=str(dovecot.ports["pop3"]), tls="starttls", verify_tls="",
                          username=user, password=password, recipient="admin@example.com",
                          interval="60")
            tested = await web.post("/admin/collectors/new",
                                    data={**form, "action": "test", "csrf_token": token})
            assert "All stages passed" in tested.text, tested.text
            assert stages(tested.text)["mailbox"] == ("ok", "0 message(s) waiting")
            added = await web.post("/admin/collectors/new", data={**form, "csrf_token": token})
            assert added.status_code == 303, added.text

        account = await store.collectors.get("office")
        await _wait(lambda: store.collectors.runs(account.id), 1)
        messages = corpus(2)
        for raw in messages:
            dovecot.put(user, raw)
        # Another node asks for a run: this server's scheduler notices within its tick.
        await store.collectors.run_now("office", Actor("admin@example.com"))
        await _wait(lambda: store.collectors.runs(account.id), 2)
        assert sorted(await inbox(store, "admin@example.com")) == sorted(messages)
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 30)
        await store.close()


async def _wait(count: object, n: int) -> None:
    deadline = time.monotonic() + 30
    while len(await count()) < n:  # type: ignore[operator]
        assert time.monotonic() < deadline, "the server's scheduler did not run the collector"
        await asyncio.sleep(0.2)
