"""bench/imap: SELECT and whole-folder FETCHes of a 100,000-message folder over a real socket.

The folder is the one bench/search.py builds (the real-mail corpus repeated with varied
headers), kept in .cache/bench-search-<n>/ and shared with that bench; this bench only
reads it (EXAMINE, BODY is never fetched, so no flag changes). The IMAP server runs in this
process's event loop; the client is a minimal socket reader in a thread that only counts
bytes until the tagged answer, so the figures are the server's.
Targets: SELECT under 100 ms; `UID FETCH 1:* (UID FLAGS)` under 1 s.
    .venv/bin/python bench/imap.py [--messages 100000] [--runs 5] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import time

from common import run
from search import bench_stores

from protocols.imap.server import ImapServer

PASSWORD = "bench-password"


class Client:
    """Sends one command at a time and reads until its tagged answer; counts bytes."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.counter = 0
        self.sock.recv(65536)  # greeting

    def command(self, text: str) -> tuple[float, int, bytes]:
        self.counter += 1
        tag = f"B{self.counter:04d}".encode()
        marker = b"\r\n" + tag + b" "
        start = time.perf_counter()
        self.sock.sendall(tag + b" " + text.encode() + b"\r\n")
        total = 0
        tail = b"\r\n"  # the answer may start at the first byte
        while True:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("server closed the connection")
            total += len(chunk)
            window = tail + chunk
            at = window.find(marker)
            if at >= 0 and window.endswith(b"\r\n"):
                status = window[at + len(marker):].split(b" ", 1)[0]
                if status != b"OK":
                    raise RuntimeError(f"{text}: {window[at:][:200]!r}")
                return time.perf_counter() - start, total, status
            tail = window[-256:]


async def measure(store, runs: int, label: str) -> None:
    server = ImapServer(store, "bench", None)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    await server.start(sock)
    port = sock.getsockname()[1]
    account = (await store.accounts.list())[0]

    def scenario() -> dict[str, list[tuple[float, int]]]:
        client = Client(port)
        client.command(f'LOGIN {account.address} "{PASSWORD}"')
        out: dict[str, list[tuple[float, int]]] = {"select": [], "flags": [], "envelope": []}
        for _ in range(runs):
            seconds, size, _ = client.command("EXAMINE INBOX")
            out["select"].append((seconds, size))
            seconds, size, _ = client.command("UID FETCH 1:* (UID FLAGS)")
            out["flags"].append((seconds, size))
        for _ in range(max(1, runs // 2)):
            seconds, size, _ = client.command("FETCH 1:* (ENVELOPE BODYSTRUCTURE RFC822.SIZE)")
            out["envelope"].append((seconds, size))
        client.command("LOGOUT")
        return out

    results = await asyncio.to_thread(scenario)
    await server.close()
    folder = (await store.folders.get(account.id, "INBOX"))
    print(f"-- {label}: {folder.messages} messages")
    select = statistics.median(s for s, _ in results["select"]) * 1000
    print(f"SELECT (EXAMINE) INBOX                          {select:8.1f} ms")
    for key, name in (("flags", "UID FETCH 1:* (UID FLAGS)"),
                      ("envelope", "FETCH 1:* (ENVELOPE BODYSTRUCTURE RFC822.SIZE)")):
        seconds = statistics.median(s for s, _ in results[key])
        size = results[key][0][1]
        print(f"{name:47s} {seconds:8.2f} s  {size / 1e6:7.1f} MB  "
              f"{size / 1e6 / seconds:6.1f} MB/s  (n={len(results[key])})")


async def main(total: int, runs: int, postgres: bool) -> None:
    async for engine, store, _ in bench_stores(total, postgres):
        await measure(store, runs, engine)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    run(main(args.messages, args.runs, args.postgres))
