"""Fixtures for the IMAP tests: the real server on real sockets, real clients.

The server runs in the test's event loop on pre-bound port-0 sockets (plain with STARTTLS,
and implicit TLS), sharing the ``store`` fixture (SQLite and PostgreSQL) with the test.
imaplib and imapclient are blocking, so the client side of a test is a plain function run
in a thread (``client_thread``) while the loop keeps serving.
"""

from __future__ import annotations

import asyncio
import imaplib
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from mailstore.messages import prepare
from mailstore.store import Store
from mailstore.values import AccountInfo, NewMessage
from protocols.imap.server import ImapServer
from tests.corpus import message_files
from tidings.tls import create_self_signed, server_context

PASSWORD = "correct horse battery"
T = TypeVar("T")


def listen() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.setblocking(False)
    return sock


@dataclass
class LiveImap:
    server: ImapServer
    port: int
    tls_port: int

    def client(self) -> imaplib.IMAP4:
        return imaplib.IMAP4("127.0.0.1", self.port, timeout=20)

    def login(self, user: str = "ann@example.com") -> imaplib.IMAP4:
        imap = self.client()
        imap.login(user, PASSWORD)
        return imap


def client_tls() -> ssl.SSLContext:
    """The test server's certificate is self-signed: clients do not verify it."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@pytest.fixture(scope="session")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tls")
    create_self_signed(directory, "localhost")
    return directory


async def start_imap(store: Store, tls_dir: Path, **options: object) -> LiveImap:
    server = ImapServer(store, "imap.test", server_context(tls_dir), failure_delay=0, **options)
    plain, implicit = listen(), listen()
    await server.start(plain)
    await server.start(implicit, implicit_tls=True)
    return LiveImap(server, plain.getsockname()[1], implicit.getsockname()[1])


@pytest.fixture
async def imap(store: Store, account: AccountInfo, tls_dir: Path) -> AsyncIterator[LiveImap]:
    live = await start_imap(store, tls_dir)
    yield live
    await live.server.close()


async def client_thread(fn: Callable[[], T], timeout: float = 60) -> T:
    """Run a blocking client scenario in a thread while the loop serves it."""
    return await asyncio.wait_for(asyncio.to_thread(fn), timeout)


def corpus_sample(n: int = 24) -> list[bytes]:
    """Real messages spread over the corpus (every list, plain and multipart)."""
    files = list(message_files("real-mail"))
    step = max(1, len(files) // n)
    return [files[i].read_bytes() for i in range(0, step * n, step)]


async def deliver(store: Store, folder_id: int, raws: list[bytes],
                  first_date: int = 1_700_000_000) -> None:
    items = [prepare(NewMessage(raw, frozenset(), first_date + 60 * i))
             for i, raw in enumerate(raws)]
    await store.messages.append_prepared(folder_id, items)


async def inbox(store: Store, account: AccountInfo) -> int:
    return (await store.folders.get(account.id, "INBOX")).id


def simple_message(subject: str = "Hello", body: str = "Hi Ann\r\n",
                   sender: str = "Bob <bob@example.org>") -> bytes:
    return (f"From: {sender}\r\nTo: Ann <ann@example.com>\r\nSubject: {subject}\r\n"
            f"Date: Fri, 17 May 2024 09:30:00 +0000\r\nMessage-ID: <{abs(hash(subject))}@x>\r\n"
            f"\r\n{body}").encode()
