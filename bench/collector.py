"""bench/collector: download N messages from a Dovecot "ISP" over POP3 and IMAP into a fresh
store; prints messages/s for each.

The ISP is the tests' Dovecot (tests/collector/isp.py) on loopback; the messages are real
corpus messages (CRLF, ~10 KB median). Each protocol gets its own ISP mailbox and its own
fresh store (SQLite in a temporary folder; --postgres adds a PostgreSQL run). POP3 pipelines
RETR (Dovecot says PIPELINING); IMAP fetches UID ranges; deliveries are handed to
LocalDelivery concurrently so they group-commit.
    .venv/bin/python bench/collector.py [--messages 5000] [--postgres]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from common import pg_create, pg_drop, run

from mailstore.collectors import CollectorSettings
from mailstore.store import Store
from protocols.collector.runner import Collector
from tests.collector.conftest import corpus
from tests.collector.isp import start_dovecot
from tidings.migrate import upgrade


async def one(label: str, url: str, folder: Path, isp, protocol: str,
              messages: list[bytes]) -> None:
    await upgrade(url)
    store = Store(url, folder / "blobs")
    try:
        await store.accounts.add_domain("example.com")
        await store.accounts.create("ann@example.com", "bench-password")
        user, password = isp.new_mailbox()
        for raw in messages:
            isp.put(user, raw)
        account = await store.collectors.add(CollectorSettings(
            name=protocol, protocol=protocol, host=isp.host, tls="none",
            port=isp.ports[protocol], username=user, password=password,
            recipient="ann@example.com", timeout=120))
        start = time.perf_counter()
        outcome = await Collector(store, "bench").run(account.id)
        seconds = time.perf_counter() - start
        assert outcome.error is None, outcome.error
        n = outcome.report.delivered
        size = sum(len(m) for m in messages) / 1e6
        print(f"{label:10s} {protocol:5s} {n:6d} messages {size:6.1f} MB in {seconds:6.2f} s "
              f"= {n / seconds:7.0f} messages/s ({outcome.report.how})")
    finally:
        await store.close()


async def main(total: int, postgres: bool) -> None:
    messages = corpus(total)
    isp = start_dovecot()
    try:
        for protocol in ("pop3", "imap"):
            with tempfile.TemporaryDirectory() as tmp:
                await one("sqlite", f"sqlite+aiosqlite:///{tmp}/tidings.db", Path(tmp), isp,
                          protocol, messages)
            if postgres:
                created = await pg_create()
                if created is None:
                    print("postgresql: not reachable, skipped")
                    continue
                name, url = created
                try:
                    with tempfile.TemporaryDirectory() as tmp:
                        await one("postgresql", url, Path(tmp), isp, protocol, messages)
                finally:
                    await pg_drop(name)
    finally:
        isp.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    run(main(args.messages, args.postgres))
