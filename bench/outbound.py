"""bench/outbound: delivered messages/s from the outbound queue to a local sink server.

Queues 10,000 messages of 10 KB (SQLite in a temporary folder, or PostgreSQL with
--postgres), then starts the queue runner with a smart host that is a minimal SMTP sink in
another process, and times until the queue is empty. Every answer is committed before the
connection sends the next message, as in production.
Target (this 2-core machine): at least 300 messages/s.
    .venv/bin/python bench/outbound.py [--messages 10000] [--connections 4] [--postgres]
                                       [--dkim]   (sign each message with an RSA 2048 key)
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, pg_create, pg_drop
from sqlalchemy import Connection

from mailstore.outbound import enqueue_row
from mailstore.store import Store
from protocols.delivery.prepare import Preparer
from protocols.delivery.runner import QueueRunner
from protocols.delivery.settings import DeliverySettings, SmartHost
from protocols.smtp.senderauth.resolver import make_resolver
from tidings.migrate import upgrade

BODY = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n" * 138


def message(n: int) -> bytes:
    return (f"From: ann@example.com\r\nTo: bob@remote.test\r\nSubject: bench {n}\r\n"
            f"Message-ID: <bench.{n}@example.com>\r\n\r\n").encode() + BODY


class Sink(asyncio.Protocol):
    """Just enough SMTP to accept mail as fast as a client can send it."""

    count = 0

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport, self.buffer, self.in_data = transport, b"", False
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    return
                self.buffer, self.in_data = self.buffer[end + 5:], False
                Sink.count += 1
                self.transport.write(b"250 2.0.0 ok\r\n")
                continue
            line, sep, rest = self.buffer.partition(b"\r\n")
            if not sep:
                return
            self.buffer = rest
            verb = line[:4].upper()
            if verb == b"EHLO":
                self.transport.write(b"250-sink\r\n250-PIPELINING\r\n250-SIZE 100000000\r\n"
                                     b"250 8BITMIME\r\n")
            elif verb == b"DATA":
                self.in_data = True
                self.buffer = b"\r\n" + self.buffer  # so a message ending at once is found
                self.transport.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                self.transport.write(b"221 bye\r\n")
                self.transport.close()
            else:
                self.transport.write(b"250 ok\r\n")


async def sink(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Sink, "127.0.0.1", port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


async def fill(store: Store, count: int) -> None:
    for start in range(0, count, 500):
        def batch(conn: Connection, start: int = start) -> None:
            for n in range(start, min(count, start + 500)):
                enqueue_row(conn, mail_from="ann@example.com", recipients=["bob@remote.test"],
                            message=message(n), origin="submission")

        await store.db.write_sync(batch)


async def measure(url: str, blobs: Path, count: int, connections: int, dkim: bool) -> None:
    await upgrade(url)
    store = Store(url, blobs)
    port = 20000 + (time.time_ns() // 1000) % 20000
    sink_proc = subprocess.Popen([sys.executable, __file__, "--sink", str(port)],
                                 stdout=subprocess.PIPE, text=True, cwd=REPO)
    assert sink_proc.stdout.readline().strip() == "ready"
    try:
        await fill(store, count)
        settings = DeliverySettings(
            "bench.example.com", default_via=("sink",),
            smarthosts={"sink": SmartHost("sink", "127.0.0.1", port, "none")},
            connections_per_destination=connections)
        prepare = None
        if dkim:
            await store.accounts.add_domain("example.com")
            await store.dkim.generate("example.com")
            prepare = Preparer(store, b"bench secret", "bench.example.com")
        runner = QueueRunner(store, settings, make_resolver(["127.0.0.1"]), node="bench",
                             prepare=prepare)
        started = time.perf_counter()
        await runner.start()
        while await store.outbound.count():
            await asyncio.sleep(0.1)
        elapsed = time.perf_counter() - started
        await runner.stop()
        engine = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        print(f"outbound {engine}: {count} messages of {len(message(0)) // 1024} KB in "
              f"{elapsed:.1f} s = {count / elapsed:.0f} messages/s "
              f"({connections} connections{', DKIM-signed' if dkim else ''})")
    finally:
        sink_proc.terminate()
        await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--dkim", action="store_true")
    parser.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        await sink(args.sink)
        return
    with tempfile.TemporaryDirectory() as tmp:
        if args.postgres:
            created = await pg_create()
            if created is None:
                sys.exit("no PostgreSQL reachable")
            name, url = created
            try:
                await measure(url, Path(tmp) / "blobs", args.messages, args.connections,
                              args.dkim)
            finally:
                await pg_drop(name)
        else:
            url = f"sqlite+aiosqlite:///{tmp}/bench.db"
            await measure(url, Path(tmp) / "blobs", args.messages, args.connections,
                              args.dkim)


if __name__ == "__main__":
    asyncio.run(main())
