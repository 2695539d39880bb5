"""Tidings's own POP3 server as the "ISP" of the collector tests (the ``Isp`` shape).

It runs a store of its own (SQLite in a temporary folder) and a ``Pop3Server`` on loopback
in a thread with its own event loop, so that the shape's plain methods (``put``,
``count``) can be called from the tests' event loop.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import TypeVar

from mailstore.delivery import Delivery
from mailstore.store import Store
from protocols.pop3.server import Pop3Server
from tidings.migrate import upgrade_sync
from tidings.tls import create_self_signed, server_context

T = TypeVar("T")
DOMAIN = "isp.test"


class TidingsIsp:
    host = "127.0.0.1"
    protocols = ("pop3",)

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        url = f"sqlite+aiosqlite:///{root / 'isp.db'}"
        upgrade_sync(url)
        create_self_signed(root / "tls", "pop.isp.test")
        self._tls = server_context(root / "tls")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.store: Store = self._call(self._open(url, root / "blobs"))
        self.ports: dict[str, int] = {}
        self.server = Pop3Server(self.store, "pop.isp.test", self._tls, failure_delay=0)
        for name, implicit in (("pop3", False), ("pop3s", True)):
            sock = socket.socket()
            sock.bind((self.host, 0))
            sock.listen(16)
            sock.setblocking(False)
            self.ports[name] = sock.getsockname()[1]
            self._call(self.server.start(sock, implicit_tls=implicit))

    def _call(self, coro: Coroutine[object, object, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(60)

    @staticmethod
    async def _open(url: str, blobs: Path) -> Store:
        store = Store(url, blobs)
        await store.accounts.add_domain(DOMAIN)
        return store

    def new_mailbox(self) -> tuple[str, str]:
        user, password = f"u{secrets.token_hex(4)}@{DOMAIN}", secrets.token_urlsafe(12)
        self._call(self.store.accounts.create(user, password))
        return user, password

    def put(self, user: str, raw: bytes) -> None:
        async def deliver() -> None:
            route = await self.store.router.resolve(user)
            await self.store.delivery.deliver(Delivery(raw, "", route.local))
        self._call(deliver())

    def count(self, user: str) -> int:
        async def count() -> int:
            account = await self.store.accounts.get(user)
            return (await self.store.folders.get(account.id, "INBOX")).messages
        return self._call(count())

    def stop(self) -> None:
        self._call(self.server.close())
        self._call(self.store.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
