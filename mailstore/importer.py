"""Bulk import of mbox files and Maildirs into an account.

Parsing is the expensive part (pure CPU), so it runs in a pool of worker processes while
this process writes blobs and rows; each batch is one transaction. Progress is reported
only for committed batches, so a count the user saw is a count that survives a crash.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mailstore.errors import AlreadyExists
from mailstore.flags import join_flags
from mailstore.mailboxes import Skipped, SourceMessage, read_mailbox, write_maildir
from mailstore.messages import Prepared, prepare
from mailstore.names import normalise_folder
from mailstore.store import Store
from mailstore.values import NewMessage

BATCH = 200


@dataclass
class ImportReport:
    imported: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    folders: set[str] = field(default_factory=set)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())


def _exit_with_parent(parent: int) -> None:
    """Runs in each parsing worker: a worker whose importer died (kill -9) would otherwise
    wait on its queue forever."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _prepare_batch(batch: list[NewMessage]) -> list[Prepared]:
    return [prepare(message) for message in batch]


async def import_mailbox(
    store: Store, account_id: int, path: Path, folder: str = "INBOX",
    progress: Callable[[ImportReport], None] | None = None, workers: int | None = None,
) -> ImportReport:
    """Import every message under ``path``; returns what was imported and skipped."""
    report = ImportReport()
    folder_ids: dict[str, int] = {}
    loop = asyncio.get_running_loop()
    nworkers = workers if workers is not None else min(4, os.cpu_count() or 1)
    executor: Executor | None = ProcessPoolExecutor(
        nworkers, initializer=_exit_with_parent, initargs=(os.getpid(),)) \
        if nworkers > 1 else None
    pending: list[asyncio.Future[list[Prepared]]] = []
    try:
        for batch_folder, batch in _batches(read_mailbox(path, normalise_folder(folder)),
                                            report):
            future = (loop.run_in_executor(executor, _prepare_batch, batch) if executor
                      else _done(loop, _prepare_batch(batch)))
            pending.append((batch_folder, future))
            # Keep the pool busy while this process writes the previous batch.
            while len(pending) > nworkers + 1:
                await _write(store, account_id, folder_ids, report, *pending.pop(0), progress)
        while pending:
            await _write(store, account_id, folder_ids, report, *pending.pop(0), progress)
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)
    return report


def _done(loop: asyncio.AbstractEventLoop, value: list[Prepared]) -> asyncio.Future:
    future = loop.create_future()
    future.set_result(value)
    return future


def _batches(
    items: Iterator[SourceMessage | Skipped], report: ImportReport
) -> Iterator[tuple[str, list[NewMessage]]]:
    """Group consecutive messages of one folder into batches."""
    current: str | None = None
    batch: list[NewMessage] = []
    for item in items:
        if isinstance(item, Skipped):
            report.skipped[item.reason] += 1
            continue
        if item.folder != current or len(batch) >= BATCH:
            if batch:
                yield current, batch
            current, batch = item.folder, []
        date = int(item.internal_date.timestamp()) if item.internal_date else None
        batch.append(NewMessage(item.raw, item.flags | item.keywords, date))
    if batch:
        yield current, batch


async def _write(
    store: Store, account_id: int, folder_ids: dict[str, int], report: ImportReport,
    folder: str, future: asyncio.Future[list[Prepared]],
    progress: Callable[[ImportReport], None] | None,
) -> None:
    prepared = await future
    folder_id = folder_ids.get(folder)
    if folder_id is None:
        try:
            folder_id = (await store.folders.create(account_id, folder)).id
        except AlreadyExists:
            folder_id = (await store.folders.get(account_id, folder)).id
        folder_ids[folder] = folder_id
    await store.messages.append_prepared(folder_id, prepared)
    report.imported += len(prepared)
    report.folders.add(folder)
    if progress is not None:
        progress(report)


async def export_maildir(store: Store, account_id: int, dest: Path) -> int:
    """Write every folder of the account into a Maildir++ tree; returns the message count."""
    count = 0
    for folder in await store.folders.list(account_id):
        for uid, sha256, flags, keywords, internal_date in await store.messages.blob_refs(
                folder.id):
            write_maildir(
                dest, folder.name, store.messages.read_raw(sha256),
                join_flags(flags, keywords), datetime.fromtimestamp(internal_date, UTC),
                f"{folder.uidvalidity}-{uid}",
            )
            count += 1
    return count
