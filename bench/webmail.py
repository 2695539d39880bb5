"""Webmail server time on a 100,000-message INBOX (SQLite): list, open, search; and the
CSS and JS bytes of a first visit.

Builds a store (SQLite): about 2,000 real-mail corpus messages, repeated with a fresh
Message-ID and a numbered Subject so that every blob differs, parsed in a process pool
and written with ``append_prepared`` in batches of 500. Then serves the webmail with
uvicorn on 127.0.0.1, signs in over HTTP, and measures the server time (from the ASGI
call to the last body byte) of the message-list page, first page and deep pages, and of
an opened message (the message page, and the HTML body document), and of folder-wide
searches (a rare, a medium, a common and an almost-everywhere word; one all-folders
search). Prints p50/p99 in milliseconds and each search's hit count. Targets (issue 7):
p50 under 30 ms for list and open, under 100 ms for search. Then the CSS and JS that the
login page and the mail page load, each gzip-compressed (level 6, as a typical proxy
would): target under 150 KB in total.

    .venv/bin/python bench/webmail.py [--messages 100000] [--requests 200] [--rebuild]

The built store is kept in .cache/bench/webmail-<messages>/ and reused by later runs
while the store's code (mailstore/, migrations/) is unchanged: building 100,000 messages
takes minutes (the store writes about 120 messages/s on SQLite, FTS5 trigram indexing
included). Building skips fsync (``--fsync`` keeps it): the figures are about reading.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import os
import re
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import httpx
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from mailstore.messages import Prepared, prepare  # noqa: E402
from mailstore.store import Store  # noqa: E402
from mailstore.values import NewMessage  # noqa: E402
from tests.corpus import message_files  # noqa: E402
from tidings.migrate import upgrade_sync  # noqa: E402
from webapp import create_app  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BATCH = 500
BASE_MESSAGES = 2000
PASSWORD = "bench password 123"
_SUBJECT = re.compile(rb"^Subject:", re.M | re.I)
_COUNT = re.compile(r"of ([\d,]+) in ")
_ASSET = re.compile(r'<(?:link rel="stylesheet" href|script src)="(/static/[^"]+)"')
# Words of the corpus by how many of the 100,000 messages hold them (body text).
SEARCH_WORDS = (("invoice", "rare"), ("python", "medium"), ("thanks", "common"),
                ("the", "nearly all"))


def store_code_version() -> str:
    """A digest of the code that decides what a built store looks like on disk."""
    h = hashlib.sha256()
    for folder in ("mailstore", "migrations"):
        for path in sorted((REPO / folder).rglob("*.py")):
            h.update(path.relative_to(REPO).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:16]


def corpus_sample(count: int) -> list[bytes]:
    files = list(message_files("real-mail"))
    step = max(1, len(files) // count)
    return [path.read_bytes() for path in files[::step][:count]]


def variant(raw: bytes, n: int, copy: int) -> bytes:
    """A copy of ``raw`` whose blob is unique: a new Message-ID first (the first
    occurrence of a field wins) and the copy number in the Subject."""
    varied = _SUBJECT.sub(b"Subject: [%d]" % copy, raw, count=1)
    return b"Message-ID: <bench-%d@tidings.invalid>\n" % n + varied


def _prepare(batch: list[NewMessage]) -> list[Prepared]:
    return [prepare(message) for message in batch]


def batches(base: list[bytes], total: int, start_date: int) -> Iterator[list[NewMessage]]:
    batch: list[NewMessage] = []
    for n in range(total):
        raw = variant(base[n % len(base)], n, n // len(base))
        seen = frozenset({"\\Seen"}) if n % 3 else frozenset()
        batch.append(NewMessage(raw, seen, start_date + 30 * n))
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


async def build(store: Store, total: int) -> tuple[int, float]:
    await store.accounts.add_domain("example.com")
    account = await store.accounts.create("ann@example.com", PASSWORD)
    inbox = (await store.folders.get(account.id, "INBOX")).id
    progress = max(BATCH, total // 10)
    base = corpus_sample(BASE_MESSAGES)
    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    workers = max(1, os.cpu_count() or 1)
    pending: list[asyncio.Future[list[Prepared]]] = []
    written = 0
    with ProcessPoolExecutor(workers) as pool:
        for batch in batches(base, total, 1_600_000_000):
            pending.append(loop.run_in_executor(pool, _prepare, batch))
            while len(pending) > workers + 1:
                written += len(await store.messages.append_prepared(inbox, await pending.pop(0)))
                if written % progress == 0:
                    print(f"  {written} messages, {time.perf_counter() - started:.0f} s",
                          flush=True)
        while pending:
            written += len(await store.messages.append_prepared(inbox, await pending.pop(0)))
    return written, time.perf_counter() - started


class Timed:
    """ASGI wrapper recording the server time of each request, by path and query."""

    def __init__(self, app: object) -> None:
        self.app = app
        self.times: dict[str, list[float]] = {}

    async def __call__(self, scope: dict, receive: object, send: object) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed_send(message: dict) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                key = scope["path"] + ("?" + scope["query_string"].decode()
                                       if scope["query_string"] else "")
                self.times.setdefault(key, []).append(time.perf_counter() - started)

        await self.app(scope, receive, timed_send)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


async def measure(store: Store, requests: int, per_page: int, total: int) -> None:
    timed = Timed(create_app(store, "bench-secret-key-0123456789",
                             messages_per_page=per_page))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(timed, lifespan="off", log_level="warning",
                                           access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    pages = max(1, -(-total // per_page))
    urls = {
        "list, first page": "/mail/INBOX",
        f"list, page {pages // 2} of {pages}": f"/mail/INBOX?page={pages // 2}",
        f"list, page {pages} of {pages}": f"/mail/INBOX?page={pages}",
        "message page (opened)": f"/message/INBOX/{total}",
        "message page (opened, older)": f"/message/INBOX/{total // 2}",
        "message body document": f"/body/INBOX/{total // 2}",
        **{f"search folder: {word} ({kind})": f"/search?q={word}&folder=INBOX"
           for word, kind in SEARCH_WORDS},
        "search all folders: python": "/search?q=python&scope=all",
        "search folder: from:+body:": "/search?q=&folder=INBOX&from=linux&body=kernel",
        "list, by sender": "/mail/INBOX?sort=from&order=asc",
        "list, by subject": "/mail/INBOX?sort=subject&order=asc",
        "list, by size": "/mail/INBOX?sort=size",
        "list, conversations": "/mail/INBOX?threads=1",
    }
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}",
                                 timeout=60) as client:
        login = await client.get("/login")
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', login.text).group(1)
        response = await client.post("/login", data={
            "address": "ann@example.com", "password": PASSWORD, "csrf_token": token})
        assert response.status_code == 303, response.text
        for label, url in urls.items():
            for _ in range(10):  # warm caches
                await client.get(url)
            timed.times.clear()
            wall = time.perf_counter()
            for _ in range(requests):
                response = await client.get(url)
                assert response.status_code == 200, (url, response.status_code)
            wall = (time.perf_counter() - wall) / requests
            samples = next(iter(timed.times.values()))
            hits = _COUNT.search(response.text) if url.startswith("/search") else None
            if hits:
                label += f" [{hits.group(1)} hits]"
            print(f"{label:52} p50 {percentile(samples, 0.5) * 1000:6.1f} ms   "
                  f"p99 {percentile(samples, 0.99) * 1000:6.1f} ms   "
                  f"mean {statistics.fmean(samples) * 1000:6.1f} ms   "
                  f"(client wall {wall * 1000:.1f} ms, n={len(samples)})")
        await first_visit_bytes(client)
    server.should_exit = True
    await task


async def first_visit_bytes(client: httpx.AsyncClient) -> None:
    """The stylesheets and scripts a first visit (login page, then the mail page) loads,
    each counted once, raw and gzip-compressed."""
    assets: list[str] = []
    for page in ("/login", "/mail/INBOX"):
        html = (await client.get(page)).text
        for url in _ASSET.findall(html):
            if url not in assets:
                assets.append(url)
    raw_total = packed_total = 0
    for url in assets:
        body = (await client.get(url)).content
        packed = len(gzip.compress(body, compresslevel=6))
        raw_total += len(body)
        packed_total += packed
        print(f"  {url:40} {len(body):8,} bytes   gzip {packed:7,} bytes")
    print(f"first visit CSS+JS: {raw_total:,} bytes, gzip {packed_total:,} bytes "
          f"({packed_total / 1024:.1f} KB; target under 150 KB)")


async def main_async(
    url: str, data: Path, args: argparse.Namespace, fresh: bool, version: str
) -> None:
    store = Store(url, data / "blobs")
    try:
        if fresh:
            count, seconds = await build(store, args.messages)
            print(f"built INBOX: {count} messages in {seconds:.0f} s "
                  f"({count / seconds:.0f} messages/s)")
            (data / "built").write_text(f"{count} {version}")
        else:
            count = int((data / "built").read_text().split()[0])
            print(f"reusing {data} ({count} messages; --rebuild to build it again)")
        await measure(store, args.requests, args.per_page, count)
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--per-page", type=int, default=50)
    parser.add_argument("--fsync", action="store_true", help="keep fsync while building")
    parser.add_argument("--rebuild", action="store_true", help="build the store again")
    parser.add_argument("--temporary", action="store_true",
                        help="build in a temporary folder and remove it afterwards")
    args = parser.parse_args()
    if not args.fsync:
        os.fsync = lambda fd: None  # building only; see the module docstring
    with tempfile.TemporaryDirectory(prefix="tidings-bench-") as tmp:
        data = Path(tmp) if args.temporary else REPO / ".cache" / "bench" / (
            f"webmail-{args.messages}")
        version = store_code_version()
        marker = data / "built"
        fresh = (args.temporary or args.rebuild or not marker.exists()
                 or marker.read_text().split()[-1] != version)
        if fresh and data.exists() and not args.temporary:
            shutil.rmtree(data)
        data.mkdir(parents=True, exist_ok=True)
        url = f"sqlite+aiosqlite:///{data / 'tidings.db'}"
        upgrade_sync(url)
        asyncio.run(main_async(url, data, args, fresh, version))


if __name__ == "__main__":
    main()
