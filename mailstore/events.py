"""In-process change notifications per folder: what wakes IMAP IDLE (and later webmail SSE).

Implementation notes:
- Every writer in ``Messages`` and ``Folders`` calls ``notify(folder_id)`` after its
  transaction commits (never before: a woken reader must see the change). So IMAP, webmail,
  SMTP delivery and imports all wake waiters without knowing about them.
- Creating, renaming or deleting a folder also wakes the account's waiters
  (``subscribe_account``): a webmail stream learns of folders made by an IMAP client
  without having subscribed to them beforehand.
- A notification carries no data: the waiter asks the store's change log
  (``Messages.changes_since``) what happened. Lost or merged wake-ups therefore lose nothing.
- Waiters may live in another event loop than the writer (a test, a thread): they are woken
  with ``call_soon_threadsafe`` on their own loop.
- The object is an attribute of the ``Store``; nothing is global. A later issue feeds it from
  PostgreSQL LISTEN/NOTIFY so that other nodes' writes wake this node's waiters too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


class Waiter:
    """One subscriber's wake-up flag for one folder (or, with ``account=True``, for the
    folder list of one account, whose id is then in ``folder_id``); register before
    reading state."""

    def __init__(self, events: FolderEvents, folder_id: int, account: bool = False) -> None:
        self.folder_id = folder_id
        self.account = account
        self._events = events
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()

    def _wake(self) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._event.set()
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._event.set)

    async def wait(self, timeout: float | None = None) -> bool:
        """Wait for a change (True) or the timeout (False); clears the flag either way."""
        try:
            if timeout is None:
                await self._event.wait()
            else:
                await asyncio.wait_for(self._event.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self._event.clear()

    @property
    def pending(self) -> bool:
        return self._event.is_set()

    def close(self) -> None:
        self._events._remove(self)

    def __enter__(self) -> Waiter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FolderEvents:
    """Per-folder wake-ups for sessions waiting on changes."""

    def __init__(self) -> None:
        self._waiters: dict[int, set[Waiter]] = {}
        self._account_waiters: dict[int, set[Waiter]] = {}

    def subscribe(self, folder_id: int) -> Waiter:
        """A waiter for ``folder_id``; must be called inside a running event loop."""
        waiter = Waiter(self, folder_id)
        self._waiters.setdefault(folder_id, set()).add(waiter)
        return waiter

    def subscribe_account(self, account_id: int) -> Waiter:
        """A waiter woken when a folder of ``account_id`` is created, renamed or deleted."""
        waiter = Waiter(self, account_id, account=True)
        self._account_waiters.setdefault(account_id, set()).add(waiter)
        return waiter

    def notify_account(self, account_id: int) -> None:
        """Wake the account's folder-list waiters; call after the change is committed."""
        for waiter in list(self._account_waiters.get(account_id, ())):
            waiter._wake()

    def notify(self, folder_ids: int | Iterable[int]) -> None:
        """Wake every waiter of the folders; call only after the change is committed."""
        ids = [folder_ids] if isinstance(folder_ids, int) else folder_ids
        for folder_id in ids:
            for waiter in list(self._waiters.get(folder_id, ())):
                waiter._wake()

    def _remove(self, waiter: Waiter) -> None:
        table = self._account_waiters if waiter.account else self._waiters
        waiters = table.get(waiter.folder_id)
        if waiters is not None:
            waiters.discard(waiter)
            if not waiters:
                del table[waiter.folder_id]
