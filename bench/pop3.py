"""bench/pop3: RETR+DELE of 5,000 messages of 10 KB in one POP3 session, then QUIT.

The POP3 server runs in this process's event loop on a fresh store (SQLite in a temporary
folder, then PostgreSQL on a fresh database when one is reachable). The client is a minimal
socket reader in a thread that only looks for the end of each answer, so the figures are
the server's. Two clients: one command at a time (what fetchmail and Outlook do), and
pipelined (RFC 2449 PIPELINING: 64 RETR+DELE pairs in flight). QUIT expunges every message
in one store transaction; its time is printed on its own and counted in messages/s.
Target: thousands of messages/s.
    .venv/bin/python bench/pop3.py [--messages 5000] [--size 10240] [--no-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import tempfile
import time
from pathlib import Path

from common import pg_create, pg_drop, run

from mailstore.messages import prepare
from mailstore.store import Store
from mailstore.values import NewMessage
from protocols.pop3.server import Pop3Server
from tidings.migrate import upgrade

PASSWORD = "bench-password"
WINDOW = 64


def message(i: int, size: int) -> bytes:
    head = (f"From: Bench <bench@example.org>\r\nTo: ann@example.com\r\nSubject: bench {i}\r\n"
            f"Message-ID: <pop3-bench-{i}@example.org>\r\n"
            "Date: Fri, 17 May 2024 09:30:00 +0000\r\n\r\n").encode()
    line = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n"
    dotted = b".a line that starts with a dot, stuffed on the wire\r\n"
    body = (line * 9 + dotted) * (size // (len(line) * 9 + len(dotted)) + 1)
    return head + body[:size - len(head) - 2] + b"\r\n"


async def fill(store: Store, total: int, size: int) -> tuple[str, int]:
    await store.accounts.add_domain("example.com")
    account = await store.accounts.create("ann@example.com", PASSWORD)
    folder = await store.folders.get(account.id, "INBOX")
    for start in range(0, total, 500):
        items = [prepare(NewMessage(message(i, size), frozenset(), None))
                 for i in range(start, min(total, start + 500))]
        await store.messages.append_prepared(folder.id, items)
    return account.address, folder.id


class Client:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.received = 0
        self.line()  # greeting

    def _more(self) -> None:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.received += len(chunk)
        self.buffer += chunk

    def line(self) -> bytes:
        while (at := self.buffer.find(b"\r\n")) < 0:
            self._more()
        line, self.buffer = self.buffer[:at], self.buffer[at + 2:]
        if not line.startswith(b"+OK"):
            raise RuntimeError(line[:200])
        return line

    def body(self) -> None:
        """Skip a multi-line body up to its CRLF.CRLF (the status line was read)."""
        start = 0
        while (at := self.buffer.find(b"\r\n.\r\n", start)) < 0 and not (
                self.buffer.startswith(b".\r\n")):
            start = max(0, len(self.buffer) - 4)
            self._more()
        end = 3 if at < 0 else at + 5
        self.buffer = self.buffer[end:]

    def command(self, text: str) -> bytes:
        self.sock.sendall(text.encode() + b"\r\n")
        return self.line()


def session(port: int, user: str, total: int, pipelined: bool) -> tuple[float, float, int]:
    """(RETR+DELE seconds, QUIT seconds, octets received) for one whole session."""
    client = Client(port)
    client.command(f"USER {user}")
    client.command(f"PASS {PASSWORD}")
    start = time.perf_counter()
    if pipelined:
        for first in range(1, total + 1, WINDOW):
            numbers = range(first, min(total, first + WINDOW - 1) + 1)
            client.sock.sendall(b"".join(f"RETR {n}\r\nDELE {n}\r\n".encode() for n in numbers))
            for _ in numbers:
                client.line()
                client.body()
                client.line()
    else:
        for n in range(1, total + 1):
            client.command(f"RETR {n}")
            client.body()
            client.command(f"DELE {n}")
    transfer = time.perf_counter() - start
    start = time.perf_counter()
    client.command("QUIT")
    quit_time = time.perf_counter() - start
    client.sock.close()
    return transfer, quit_time, client.received


async def measure(url: str, blobs: Path, label: str, total: int, size: int) -> None:
    await upgrade(url)
    store = Store(url, blobs)
    server = Pop3Server(store, "bench", None)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    await server.start(sock)
    port = sock.getsockname()[1]
    try:
        user, folder_id = await fill(store, 2 * total, size)
        print(f"-- {label}: {total} messages of {size} octets per session")
        for pipelined in (False, True):
            transfer, quit_time, octets = await asyncio.to_thread(
                session, port, user, total, pipelined)
            while server.sessions:  # the blob clean-up after QUIT, before the next round
                await asyncio.sleep(0.05)
            left = await store.messages.count(folder_id)
            assert left == total * (0 if pipelined else 1), left
            name = "pipelined      " if pipelined else "one at a time  "
            print(f"{name} RETR+DELE {total / transfer:8.0f} messages/s "
                  f"({octets / 1e6 / transfer:6.1f} MB/s)   QUIT (expunge {total}) "
                  f"{quit_time * 1000:7.1f} ms   overall {total / (transfer + quit_time):8.0f}"
                  " messages/s")
    finally:
        await server.close()
        await store.close()


async def main(total: int, size: int, postgres: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-pop3-") as tmp:
        await measure(f"sqlite+aiosqlite:///{tmp}/tidings.db", Path(tmp) / "blobs",
                      "SQLite", total, size)
        if not postgres:
            return
        created = await pg_create()
        if created is None:
            print("PostgreSQL: skipped (no server reachable)")
            return
        name, url = created
        try:
            await measure(url, Path(tmp) / "pg-blobs", "PostgreSQL", total, size)
        finally:
            await pg_drop(name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--size", type=int, default=10 * 1024)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    run(main(args.messages, args.size, not args.no_postgres))
