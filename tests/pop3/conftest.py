"""Fixtures for the POP3 tests: the real server on real sockets, real clients.

The server runs in the test's event loop on pre-bound port-0 sockets (plain with STLS, and
implicit TLS), sharing the ``store`` fixture (SQLite and PostgreSQL) with the test. poplib
is blocking, so the client side of a test is a plain function run in a thread
(``client_thread``, from the IMAP tests) while the loop keeps serving.
"""

from __future__ import annotations

import poplib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailstore.store import Store
from mailstore.values import AccountInfo
from protocols.pop3.server import Pop3Server
from tests.imap.conftest import PASSWORD, client_tls  # noqa: F401
from tidings.tls import create_self_signed, server_context

# The machine's non-loopback address (TEST-NET-1): a client there is not on loopback.
OUTSIDE = "192.0.2.2"


@pytest.fixture(scope="session")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tls")
    create_self_signed(directory, "localhost")
    return directory


def listen(host: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(64)
    sock.setblocking(False)
    return sock


@dataclass
class LivePop3:
    server: Pop3Server
    port: int
    tls_port: int
    host: str = "127.0.0.1"

    def client(self) -> poplib.POP3:
        return poplib.POP3(self.host, self.port, timeout=20)

    def login(self, user: str = "ann@example.com", password: str = PASSWORD) -> poplib.POP3:
        pop = self.client()
        pop.user(user)
        pop.pass_(password)
        return pop

    def raw(self) -> RawClient:
        return RawClient(self.host, self.port)


class RawClient:
    """A socket that speaks POP3 line by line, for what poplib cannot send."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=20)
        self.file = self.sock.makefile("rb")
        self.greeting = self.line()

    def line(self) -> bytes:
        return self.file.readline()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def command(self, text: bytes) -> bytes:
        self.send(text + b"\r\n")
        return self.line()

    def multiline(self) -> list[bytes]:
        lines = []
        while (line := self.line()) != b".\r\n":
            assert line, "connection closed inside a multi-line response"
            lines.append(line)
        return lines

    def close(self) -> None:
        self.file.close()
        self.sock.close()


async def start_pop3(store: Store, tls_dir: Path, host: str = "127.0.0.1",
                     **options: object) -> LivePop3:
    server = Pop3Server(store, "pop3.test", server_context(tls_dir), failure_delay=0,
                        **options)
    plain, implicit = listen(host), listen(host)
    await server.start(plain)
    await server.start(implicit, implicit_tls=True)
    return LivePop3(server, plain.getsockname()[1], implicit.getsockname()[1], host)


@pytest.fixture
async def pop3(store: Store, account: AccountInfo, tls_dir: Path) -> AsyncIterator[LivePop3]:
    live = await start_pop3(store, tls_dir)
    yield live
    await live.server.close()
