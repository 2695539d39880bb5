"""Bulk import of mbox files and Maildirs into an account.

A three-stage pipeline, so that the one SQLite writer (whose FTS5 trigram indexing is the
slowest step, ~0.7 ms a message of the real-mail corpus) never waits for the others:
- parsing (pure CPU) runs in a pool of worker processes; workers send back the parse but
  not the raw bytes, which this process still holds (half the pickling);
- the blobs of batch N+1 are written and flushed in a thread while batch N's transaction
  runs in the database thread;
- each batch is one transaction, and a batch's rows are committed only after its blobs are
  durable (the durability rule).
Batches are large: FTS5 flushes and merges its index once per statement, and a batch's
contents are one multi-row INSERT (``mailstore/bulk.py``). Progress is reported only for
committed batches, so a count the user saw is a count that survives a crash.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.context import BaseContext
from pathlib import Path

from mailstore.errors import AlreadyExists
from mailstore.flags import join_flags
from mailstore.mailboxes import Skipped, SourceMessage, read_mailbox, write_maildir
from mailstore.messages import Prepared, prepare
from mailstore.names import normalise_folder
from mailstore.store import Store
from mailstore.values import NewMessage

BATCH = 1000
# Small first batches (100, 200, 400, 800) get the database writer started sooner.
FIRST_BATCH = 100


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
    """Runs in a worker: the parse without the raw bytes (the importer still has them)."""
    return [dataclasses.replace(prepare(message), raw=b"") for message in batch]


def _with_raw(prepared: list[Prepared], batch: list[NewMessage]) -> list[Prepared]:
    return [dataclasses.replace(p, raw=m.raw) if not p.raw else p
            for p, m in zip(prepared, batch, strict=True)]


async def import_mailbox(
    store: Store, account_id: int, path: Path, folder: str = "INBOX",
    progress: Callable[[ImportReport], None] | None = None, workers: int | None = None,
    mp_context: BaseContext | None = None,
) -> ImportReport:
    """Import every message under ``path``; returns what was imported and skipped.

    ``mp_context``: how parsing workers start; a server with threads running passes
    ``spawn`` (a fork could copy a lock another thread holds)."""
    report = ImportReport()
    loop = asyncio.get_running_loop()
    nworkers = workers if workers is not None else min(4, os.cpu_count() or 1)
    executor: Executor | None = ProcessPoolExecutor(
        nworkers, mp_context=mp_context, initializer=_exit_with_parent,
        initargs=(os.getpid(),)) \
        if nworkers > 1 else None
    writer = _Writer(store, account_id, report, progress)
    pending: list[tuple[str, list[NewMessage], asyncio.Future[list[Prepared]]]] = []
    batches = _batches(read_mailbox(path, normalise_folder(folder)), report)
    try:
        # The files are read in a thread: the event loop must stay free to start the
        # writer's next transaction the moment the last one ends.
        while (item := await asyncio.to_thread(next, batches, None)) is not None:
            batch_folder, batch = item
            future = (loop.run_in_executor(executor, _prepare_batch, batch) if executor
                      else _done(loop, _prepare_batch(batch)))
            pending.append((batch_folder, batch, future))
            # Keep the pool busy while this process writes the previous batches, but hand
            # the writer a parsed batch as soon as it is free.
            while len(pending) > nworkers + 1 or (
                    pending[0][2].done() and writer.idle()):
                await writer.add(*pending.pop(0))
        while pending:
            await writer.add(*pending.pop(0))
        await writer.finish()
    finally:
        await writer.abandon()
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
    limit = FIRST_BATCH
    for item in items:
        if isinstance(item, Skipped):
            report.skipped[item.reason] += 1
            continue
        if item.folder != current or len(batch) >= limit:
            if batch:
                yield current, batch
                limit = min(BATCH, limit * 2)
            current, batch = item.folder, []
        date = int(item.internal_date.timestamp()) if item.internal_date else None
        batch.append(NewMessage(item.raw, item.flags | item.keywords, date))
    if batch:
        yield current, batch


class _Writer:
    """Writes parsed batches in order: blobs of one batch while the previous one commits."""

    def __init__(self, store: Store, account_id: int, report: ImportReport,
                 progress: Callable[[ImportReport], None] | None) -> None:
        self.store = store
        self.account_id = account_id
        self.report = report
        self.progress = progress
        self.folder_ids: dict[str, int] = {}
        self.committing: asyncio.Task[None] | None = None

    async def add(self, folder: str, batch: list[NewMessage],
                  future: asyncio.Future[list[Prepared]]) -> None:
        prepared = _with_raw(await future, batch)
        await asyncio.to_thread(self.store.blobs.put_many,
                                [(p.sha256, p.raw) for p in prepared])
        await self._wait()
        folder_id = await self._folder_id(folder)
        self.committing = asyncio.create_task(self._commit(folder, folder_id, prepared))

    def idle(self) -> bool:
        """No transaction is running: the database writer waits for work."""
        return self.committing is None or self.committing.done()

    async def finish(self) -> None:
        await self._wait()

    async def abandon(self) -> None:
        """On an error elsewhere: let a transaction in flight end (commit or roll back)."""
        if self.committing is not None:
            await asyncio.gather(self.committing, return_exceptions=True)
            self.committing = None

    async def _wait(self) -> None:
        if self.committing is not None:
            task, self.committing = self.committing, None
            await task

    async def _folder_id(self, folder: str) -> int:
        folder_id = self.folder_ids.get(folder)
        if folder_id is None:
            folders = self.store.folders
            try:
                folder_id = (await folders.create(self.account_id, folder)).id
            except AlreadyExists:
                folder_id = (await folders.get(self.account_id, folder)).id
            self.folder_ids[folder] = folder_id
        return folder_id

    async def _commit(self, folder: str, folder_id: int, prepared: list[Prepared]) -> None:
        # The blobs are durable (``add`` flushed them), so only the rows remain.
        messages = self.store.messages
        await self.store.db.write_sync(
            lambda conn: messages.append_rows(conn, folder_id, prepared))
        messages.events.notify(folder_id)
        self.report.imported += len(prepared)
        self.report.folders.add(folder)
        if self.progress is not None:
            self.progress(self.report)


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
