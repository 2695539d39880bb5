"""Fixtures: the real SMTP server on real sockets, in the test's event loop, on both backends.

Blocking clients (smtplib) run in a thread with ``asyncio.to_thread`` so that the server in
the test's loop keeps serving them.
"""

from __future__ import annotations

import dataclasses
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from mailstore.store import Store
from protocols.smtp.server import SmtpServer
from protocols.smtp.settings import MX, SUBMISSION, SUBMISSIONS, SmtpSettings
from tidings.tls import create_self_signed, server_context

PASSWORD = "correct horse battery"
HOSTNAME = "mx.example.com"


def listening_socket(host: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(100)
    sock.setblocking(False)
    return sock


def lan_address() -> str | None:
    """An address of this machine that is not loopback, to be a 'remote' client from."""
    try:
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.connect(("192.0.2.123", 9))  # no packet is sent for a UDP connect
        address = probe.getsockname()[0]
        probe.close()
    except OSError:
        return None
    return None if address.startswith("127.") else address


@dataclasses.dataclass
class RunningSmtp:
    server: SmtpServer
    store: Store
    ports: dict[str, int]
    host: str
    cert: Path

    def client_context(self) -> ssl.SSLContext:
        """The test certificate is self-signed: encrypt, but do not verify it."""
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context


@pytest.fixture
async def office(store: Store) -> Store:
    await store.accounts.add_domain("example.com")
    for address in ("ann@example.com", "bob@example.com"):
        await store.accounts.create(address, PASSWORD)
    return store


@pytest.fixture
def tls_files(tmp_path: Path) -> Path:
    create_self_signed(tmp_path / "tls", HOSTNAME)
    return tmp_path / "tls"


@pytest.fixture
async def start_smtp(office: Store, tls_files: Path) -> AsyncIterator[Callable]:
    """Starts a server with the given settings (keyword overrides of SmtpSettings)."""
    started: list[SmtpServer] = []

    async def start(host: str = "127.0.0.1", sender_check=None, connect_check=None,
                    **overrides) -> RunningSmtp:
        settings = SmtpSettings(HOSTNAME, **overrides)
        server = SmtpServer(office, settings, server_context(tls_files),
                            sender_check=sender_check, connect_check=connect_check)
        sockets = {name: listening_socket(host) for name in (MX, SUBMISSION, SUBMISSIONS)}
        ports = {name: sock.getsockname()[1] for name, sock in sockets.items()}
        await server.start(sockets)
        started.append(server)
        return RunningSmtp(server, office, ports, host, tls_files / "cert.pem")

    yield start
    for server in started:
        await server.stop()


@pytest.fixture
async def smtp(start_smtp) -> RunningSmtp:
    return await start_smtp()


async def inbox(store: Store, address: str, folder: str = "INBOX") -> list[bytes]:
    """The raw messages in a folder, oldest first."""
    account = await store.accounts.get(address)
    info = await store.folders.get(account.id, folder)
    return [store.messages.read_raw(sha) for _, sha, *_ in
            await store.messages.blob_refs(info.id)]
