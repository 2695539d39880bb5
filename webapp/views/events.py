"""New mail without a reload: GET /events, a server-sent events stream (text/event-stream).

Implementation notes:
- The stream waits on ``store.events`` (the same wake-ups as IMAP IDLE) for every folder of
  the signed-in account, and for the account's folder list: a folder created, renamed or
  deleted elsewhere (an IMAP client) is sent at once, and its mail wakes the stream later.
  A wake-up carries no data: after one, the stream reads the folder counts and sends them
  as one ``mail`` event; the page then fetches the list again.
- Bursts are merged: after a wake-up the stream waits ``SETTLE`` seconds before reading, so
  a delivery of 500 messages is one event, not 500.
- Every stream ends: when the client goes away (Starlette cancels it on http.disconnect,
  and a keep-alive comment every ``KEEPALIVE`` seconds notices a dead socket), after
  ``LIFETIME`` seconds (the browser reconnects by itself after ``retry``), and at once when
  the server stops (``LiveStreams.close``, which ``tidings serve`` calls before uvicorn
  shuts down: uvicorn waits for open responses, so a stream that never ended would hold
  the shutdown forever).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from mailstore.events import Waiter
from mailstore.store import Store
from mailstore.values import FolderInfo
from webapp.auth import login_required

KEEPALIVE = 15.0
LIFETIME = 300.0
SETTLE = 0.2
POLL = 0.25
RETRY_MS = 3000


class LiveStreams:
    """The open event streams of one app; ``close`` ends them all (server shutdown)."""

    def __init__(self) -> None:
        self.closing = asyncio.Event()

    def close(self) -> None:
        self.closing.set()


def _event(name: str, data: object) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def counts(folders: list[FolderInfo]) -> dict[str, object]:
    """What the page needs to update its title and folder badges."""
    inbox = next((f for f in folders if f.name == "INBOX"), None)
    return {"inbox_unseen": inbox.unseen if inbox is not None else 0,
            "folders": {f.name: f.unseen for f in folders}}


async def _first_wake(waiters: list[Waiter], stop: asyncio.Event, timeout: float) -> bool:
    """Wait until any folder changes (True), or timeout/stop (False).

    Polls the waiters' flags every ``POLL`` seconds rather than racing one task per folder:
    cancelling a waiting task clears its flag, which could lose a wake-up.
    """
    loop = asyncio.get_running_loop()
    until = loop.time() + timeout
    while not stop.is_set():
        if any(w.pending for w in waiters):
            return True
        left = until - loop.time()
        if left <= 0:
            return False
        try:
            await asyncio.wait_for(stop.wait(), min(POLL, left))
        except TimeoutError:
            pass
    return False


async def stream(store: Store, account_id: int, streams: LiveStreams) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    # The account waiter first: a folder created while the list is read still wakes us.
    waiters = [store.events.subscribe_account(account_id)]
    ends_at = loop.time() + LIFETIME
    try:
        folders = await store.folders.list(account_id)
        waiters += [store.events.subscribe(f.id) for f in folders]
        # Counts first: whatever changed between the page load and now is not missed.
        yield f"retry: {RETRY_MS}\n" + _event("mail", counts(folders))
        while not streams.closing.is_set():
            left = ends_at - loop.time()
            if left <= 0:
                break
            if not await _first_wake(waiters, streams.closing, min(KEEPALIVE, left)):
                if not streams.closing.is_set():
                    yield ": keep-alive\n\n"
                continue
            await asyncio.sleep(SETTLE)
            for waiter in waiters:
                if waiter.pending:
                    await waiter.wait(0)  # clears the flag; the counts below are newer
            folders = await store.folders.list(account_id)
            present = {f.id for f in folders}
            for gone in [w for w in waiters if not w.account and w.folder_id not in present]:
                gone.close()
                waiters.remove(gone)
            known = {w.folder_id for w in waiters if not w.account}
            waiters += [store.events.subscribe(f.id) for f in folders if f.id not in known]
            yield _event("mail", counts(folders))
    finally:
        for waiter in waiters:
            waiter.close()


@login_required
async def events(request: Request) -> Response:
    store: Store = request.app.state.store
    streams: LiveStreams = request.app.state.live_streams
    return StreamingResponse(
        stream(store, request.state.account.id, streams), media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"})
