"""bench/search: p50/p99 of searches over a 100,000-message mailbox.

The mailbox is the real-mail corpus repeated with varied headers (each copy gets its own
Message-ID and subject suffix, so every blob differs). The built store is kept in
.cache/bench-search/ for later runs. Each query is timed as IMAP SEARCH (every UID), as the
webmail's first page (50 newest) and as its count. Target (SQLite, folder-wide body
search): p50 < 20 ms, p99 < 100 ms.
    .venv/bin/python bench/search.py [--messages 100000] [--postgres]
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from common import REPO, message_files, percentiles, pg_create, pg_drop, run

from mailstore import search as S
from mailstore.messages import Prepared, prepare
from mailstore.mime import parse_message
from mailstore.store import Store
from mailstore.values import NewMessage
from tidings.migrate import upgrade

QUERIES: list[tuple[str, S.Criterion]] = [
    ("body rare word", S.Text("body", "xylophone")),
    ("body common word", S.Text("body", "the")),
    ("body word fragment", S.Text("body", "nterrup")),
    ("body phrase", S.Text("body", "device tree")),
    ("subject substring", S.Text("subject", "PATCH v2")),
    ("subject rare", S.Text("subject", "jailhouse")),
    ("sender substring", S.Text("from", "@gmail")),
    ("sender name", S.Text("from", "Michael")),
    ("combined from+body", S.And((S.Text("from", "intel"), S.Text("body", "kernel")))),
    ("combined body+unseen", S.And((S.Text("body", "firmware"), S.Flag("\\Seen", False)))),
    ("short needle (2 chars)", S.Text("subject", "v3")),
]


def copies(total: int) -> list[Prepared]:
    """Parse the corpus once; make ``total`` distinct messages from it."""
    base = []
    for path in message_files("real-mail"):
        raw = path.read_bytes()
        base.append((raw, parse_message(raw)))
    rng = random.Random(1)
    out = []
    for n in range(total):
        raw, parsed = base[n % len(base)]
        if n >= len(base):
            copy = n // len(base)
            raw = f"X-Bench-Copy: {copy}\n".encode() + raw
            parsed = dataclasses.replace(parsed, subject=f"{parsed.subject} #{copy}",
                                         message_id=f"<copy{copy}.{parsed.message_id[1:]}")
        flags = frozenset({"\\Seen"}) if rng.random() < 0.8 else frozenset()
        out.append(prepare(NewMessage(raw, flags, 1_600_000_000 + n), parsed))
    return out


async def build(url: str, blobs: Path, total: int) -> tuple[Store, int]:
    await upgrade(url)
    store = Store(url, blobs)
    accounts = await store.accounts.list()
    if accounts:
        folder = await store.folders.get(accounts[0].id, "INBOX")
        if folder.messages == total:
            await store.search_index.tidy()
            return store, folder.id
        raise SystemExit(f"stale bench store with {folder.messages} messages; remove it")
    await store.accounts.add_domain("example.com")
    account = await store.accounts.create("bench@example.com", "bench-password")
    folder = await store.folders.get(account.id, "INBOX")
    start = time.perf_counter()
    items = copies(total)
    for i in range(0, total, 500):
        await store.messages.append_prepared(folder.id, items[i:i + 500])
    print(f"built {total} messages in {time.perf_counter() - start:.0f} s")
    start = time.perf_counter()
    steps = await store.search_index.tidy()  # what a quiet server does (SearchIndex)
    print(f"tidied the search index in {steps} steps, {time.perf_counter() - start:.1f} s")
    return store, folder.id


async def timed(call: Callable[[], Awaitable[object]], runs: int) -> tuple[object, str]:
    await call()  # warm-up
    samples = []
    result: object = None
    for _ in range(runs):
        start = time.perf_counter()
        result = await call()
        samples.append((time.perf_counter() - start) * 1000)
    return result, percentiles(samples)


async def measure(store: Store, folder_id: int, label: str, runs: int) -> None:
    """Each query three ways: IMAP SEARCH (every matching UID), the webmail's first page
    (50 newest) and its result count."""
    print(f"-- {label}")
    search = store.search
    for name, criterion in QUERIES:
        hits, imap = await timed(lambda c=criterion: search.folder(folder_id, c), runs)
        _, page = await timed(lambda c=criterion: search.page(folder_id, c), runs)
        _, count = await timed(lambda c=criterion: search.count(folder_id, c), runs)
        print(f"{name:24s} {len(hits):6d} hits  IMAP all UIDs: {imap}")
        print(f"{'':37s}webmail page:  {page}")
        print(f"{'':37s}webmail count: {count}")


async def bench_stores(total: int, postgres: bool
                       ) -> AsyncIterator[tuple[str, Store, int]]:
    """The 100k bench folder on SQLite (kept in .cache) and, if asked, on a fresh PostgreSQL
    database: (engine, store, folder id), each store closed and dropped after its turn."""
    cache = REPO / ".cache" / f"bench-search-{total}"
    cache.mkdir(parents=True, exist_ok=True)
    store, folder_id = await build(f"sqlite+aiosqlite:///{cache / 'tidings.db'}",
                                   cache / "blobs", total)
    try:
        yield "SQLite", store, folder_id
    finally:
        await store.close()
    if not postgres:
        return
    created = await pg_create()
    if created is None:
        print("PostgreSQL: skipped (no server reachable)")
        return
    name, url = created
    blobs = cache / "pg-blobs"
    try:
        store, folder_id = await build(url, blobs, total)
        try:
            yield "PostgreSQL", store, folder_id
        finally:
            await store.close()
    finally:
        await pg_drop(name)
        shutil.rmtree(blobs, ignore_errors=True)


async def main(total: int, postgres: bool, runs: int) -> None:
    index = {"SQLite": "SQLite FTS5 trigram", "PostgreSQL": "PostgreSQL pg_trgm"}
    async for engine, store, folder_id in bench_stores(total, postgres):
        await measure(store, folder_id, f"{index[engine]}, {total} messages", runs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    run(main(args.messages, args.postgres, args.runs))
