"""bench/ingest: import the real-mail corpus into an empty store; messages/s and MB/s.

Runs the same path as `tidings import` (parse in worker processes, blobs fsynced, one
transaction per batch) on SQLite and, when reachable, PostgreSQL.
    .venv/bin/python bench/ingest.py [--limit N]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from common import message_files, pg_create, pg_drop, run

from mailstore.importer import import_mailbox
from mailstore.store import Store
from tidings.migrate import upgrade


def make_maildir(root: Path, limit: int | None) -> tuple[int, int]:
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    count = size = 0
    for n, path in enumerate(message_files("real-mail")):
        if limit is not None and n >= limit:
            break
        os.link(path, root / "cur" / f"{1600000000 + n}.M{n}.bench:2,S")
        count += 1
        size += path.stat().st_size
    return count, size


async def ingest(url: str, work: Path, maildir: Path, count: int, size: int,
                 label: str) -> None:
    await upgrade(url)
    store = Store(url, work / "blobs")
    await store.accounts.add_domain("example.com")
    account = await store.accounts.create("bench@example.com", "bench-password")
    cpu_start = _cpu_seconds()
    start = time.perf_counter()
    report = await import_mailbox(store, account.id, maildir)
    elapsed = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu_start
    await store.close()
    assert report.imported == count, report
    print(f"ingest {label:10s}: {count} messages, {size / 1e6:.1f} MB in {elapsed:.1f} s "
          f"= {count / elapsed:7.0f} messages/s, {size / 1e6 / elapsed:5.1f} MB/s "
          f"({os.cpu_count()} cores); CPU {cpu:.1f} s in this process and its workers, "
          f"load average {os.getloadavg()[0]:.1f}")


def _cpu_seconds() -> float:
    """CPU time of this process and its reaped workers: on a shared machine, wall time
    says how busy the neighbours were; this says what the import itself cost."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


async def main(limit: int | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        maildir = Path(tmp) / "Maildir"
        count, size = make_maildir(maildir, limit)
        sqlite_dir = Path(tmp) / "sqlite"
        sqlite_dir.mkdir()
        await ingest(f"sqlite+aiosqlite:///{sqlite_dir / 'tidings.db'}", sqlite_dir, maildir,
                     count, size, "SQLite")
        created = await pg_create()
        if created is None:
            print("ingest PostgreSQL: skipped (no server reachable)")
            return
        name, url = created
        pg_dir = Path(tmp) / "pg"
        pg_dir.mkdir()
        try:
            await ingest(url, pg_dir, maildir, count, size, "PostgreSQL")
        finally:
            await pg_drop(name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int)
    run(main(parser.parse_args().limit))
