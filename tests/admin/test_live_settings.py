"""Settings changed in the admin are checked with the file's own parser, stored in the
database, and used by a running server without a restart (also one on another node,
which notices within a few seconds)."""

from __future__ import annotations

import asyncio
import smtplib
import time
from pathlib import Path

from mailstore.audit import Actor
from mailstore.store import Store
from tests.cli import start_serve, use_free_ports
from tidings.config import load
from tidings.live import LiveConfig

ROOT = Actor("admin@example.com", "127.0.0.1")


def store_for(data: Path, database_url: str) -> Store:
    url = f"sqlite+aiosqlite:///{data / 'tidings.db'}" if database_url.startswith("sqlite") \
        else database_url
    return Store(url, data / "blobs")


async def test_each_change_is_checked_by_the_files_parser(data: Path, database_url: str) -> None:
    store = store_for(data, database_url)
    try:
        live = LiveConfig(data, store, load(data))
        assert live.check({"smtp.max_message_size": "10M", "ports.imap": 2143}) == {}
        problems = live.check({"smtp.max_message_size": "lots", "ports.imap": 70000,
                               "web.secret_key": "x" * 40})
        assert "is not a size" in problems["smtp.max_message_size"]
        assert "not a port number" in problems["ports.imap"]
        assert problems["web.secret_key"] == "can only be changed in tidings.toml"
        # Fine one by one, wrong together: the problem is still reported.
        clash = live.check({"ports.imap": 3000, "ports.pop3": 3000})
        assert "both use port 3000" in next(iter(clash.values()))
    finally:
        await store.close()


async def test_a_change_is_audited_and_applied_to_the_parsed_config(
        data: Path, database_url: str) -> None:
    store = store_for(data, database_url)
    try:
        live = LiveConfig(data, store, load(data))
        await live.load()
        assert live.config.smtp.max_message_size == 25 * 1024 * 1024
        await store.server_settings.change(ROOT, {"smtp.max_message_size": "1M"})
        assert live.config.smtp.max_message_size == 1024 * 1024  # applied at once
        assert live.value("smtp.max_message_size") == "1M"
        assert live.file_value("smtp.max_message_size") == "25M"
        await store.server_settings.change(ROOT, {}, removed=("smtp.max_message_size",))
        assert live.config.smtp.max_message_size == 25 * 1024 * 1024
        entries = await store.audit.recent()
        assert [(e.action, e.target, e.old_value, e.new_value) for e in entries] == [
            ("setting reset", "smtp.max_message_size", "1M", None),
            ("setting", "smtp.max_message_size", None, "1M")]
        assert entries[0].actor == "admin@example.com"
        assert entries[0].client_ip == "127.0.0.1"
    finally:
        await store.close()


def advertised_size(port: int) -> int:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo("client.example.org")
        return int(client.esmtp_features["size"])


def test_a_running_server_enforces_a_new_size_limit_without_a_restart(
        data: Path, db_env: dict[str, str], database_url: str) -> None:
    ports = use_free_ports(data)
    proc, _ = start_serve(data, db_env, until="imaps listening")
    message = b"Subject: big\r\n\r\n" + b"x" * 78 + b"\r\n" + (b"y" * 78 + b"\r\n") * 400
    try:
        with smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=10) as client:
            client.sendmail("bob@example.org", ["admin@example.com"], message)

        async def change() -> None:
            store = store_for(data, database_url)  # as another node would
            try:
                await store.server_settings.change(ROOT, {"smtp.max_message_size": "20K"})
            finally:
                await store.close()

        asyncio.run(change())
        deadline = time.monotonic() + 20
        while advertised_size(ports["smtp"]) != 20 * 1024:
            assert time.monotonic() < deadline, "the server kept the old limit"
            time.sleep(0.5)
        with smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=10) as client:
            client.ehlo("client.example.org")
            client.mail("bob@example.org")  # no SIZE=: refused at the end of DATA
            client.rcpt("admin@example.com")
            code, reply = client.data(message)
        assert code == 552
        assert b"limit is 20480" in reply
    finally:
        proc.terminate()
        proc.wait(timeout=30)
