"""Fixtures for the webmail tests: the real app under uvicorn on a real socket.

The server runs in the test's own event loop (port 0, pre-bound socket), so the tests
talk to it with httpx over TCP exactly as a browser would, while still sharing the
``store`` fixture (SQLite and PostgreSQL) with the test body.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import httpx
import pytest
import uvicorn

from mailstore.messages import prepare
from mailstore.store import Store
from mailstore.values import AccountInfo, NewMessage
from webapp import create_app
from webapp.admin.control import ServerControl
from webapp.app import close_streams

PASSWORD = "correct horse battery"
SECRET = "test-secret-key-that-is-long-enough"
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


class LiveServer:
    """uvicorn serving the webmail on 127.0.0.1:<random port>."""

    def __init__(self, store: Store, messages_per_page: int = 50,
                 control: ServerControl | None = None) -> None:
        self.app = create_app(store, SECRET, messages_per_page=messages_per_page,
                              control=control)
        # proto must be IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted connections only
        # then, and without it every response waits ~40 ms for a delayed ACK.
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(self.app, lifespan="off", log_level="warning",
                                access_log=False)
        self.server = uvicorn.Server(config)
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        deadline = time.monotonic() + 10
        while not self.server.started:
            if self.task.done():
                self.task.result()  # raises what stopped it
            if time.monotonic() > deadline:
                raise TimeoutError("uvicorn did not start within 10 s")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        close_streams(self.app)
        self.server.should_exit = True
        if self.task is not None:
            await self.task
        self.sock.close()

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, follow_redirects=False, timeout=30)


@pytest.fixture
async def server(store: Store) -> AsyncIterator[LiveServer]:
    live = LiveServer(store)
    await live.start()
    yield live
    await live.stop()


@pytest.fixture
async def client(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with server.client() as c:
        yield c


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


async def login(client: httpx.AsyncClient, address: str = "ann@example.com",
                password: str = PASSWORD) -> httpx.Response:
    page = await client.get("/login")
    return await client.post("/login", data={
        "address": address, "password": password, "csrf_token": csrf_token(page.text)})


@pytest.fixture
async def ann(client: httpx.AsyncClient, account: AccountInfo) -> httpx.AsyncClient:
    """A client signed in as ann@example.com."""
    response = await login(client)
    assert response.status_code == 303, response.text
    return client


def make_message(
    subject: str = "Hello", body: str = "Hi Ann,\nhow are you?\n", *,
    sender: str = "Bob Example <bob@example.org>", to: str = "Ann <ann@example.com>",
    cc: str | None = None, html: str | None = None,
    attachments: Iterable[tuple[str, str, bytes]] = (), date: datetime | None = None,
) -> bytes:
    """A well-formed message; attachments are (filename, content type, bytes)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or datetime(2024, 5, 17, 9, 30, tzinfo=UTC))
    msg["Message-ID"] = make_msgid(domain="example.org")
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for filename, content_type, data in attachments:
        maintype, subtype = content_type.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


async def inbox_id(store: Store, account: AccountInfo) -> int:
    return (await store.folders.get(account.id, "INBOX")).id


async def deliver(store: Store, folder_id: int, raws: Iterable[bytes],
                  first_date: int = 1_700_000_000) -> None:
    """Append messages in one transaction, each one minute newer than the previous."""
    items = [prepare(NewMessage(raw, frozenset(), first_date + 60 * i))
             for i, raw in enumerate(raws)]
    await store.messages.append_prepared(folder_id, items)
