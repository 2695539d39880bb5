"""Fixtures for the outbound tests: an office that sends, the loopback internet, a runner."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import dns.asyncresolver
import pytest

from mailstore.store import Store
from protocols.delivery.runner import QueueRunner
from protocols.delivery.settings import DeliverySettings
from tests.cli import free_port
from tests.dnszone import Zone
from tests.outbound.internet import ACCEPT, Remote, start_remote
from tests.smtp.conftest import office  # noqa: F401  (example.com: ann, bob)
from tidings.tls import create_self_signed, server_context

HOSTNAME = "mail.example.com"
# Short RFC 5321 timeouts, so that a silent server costs a test seconds, not minutes.
TEST_TIMEOUTS = {"connect": 3.0, "command": 3.0, "data_start": 3.0, "data_end": 3.0}


class Clock:
    """The runner's idea of now: the wall clock (entries are queued by it), which tests move
    forward to reach retries, delay notices and expiry."""

    def __init__(self) -> None:
        self.offset = 0.0

    @property
    def now(self) -> float:
        return time.time() + self.offset

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@dataclasses.dataclass
class Internet:
    zone: Zone
    port: int
    tls_dir: Path
    remotes: list[Remote] = dataclasses.field(default_factory=list)
    _next: int = 2

    async def mail_server(self, domain: str | None, mode: str = ACCEPT, *,
                          preference: int = 10, tls: bool = False) -> Remote:
        """A mail server on a fresh 127.0.0.N, named mx<N>.net, MX of ``domain``."""
        address = f"127.0.0.{self._next}"
        name = f"mx{self._next}.net"
        self._next += 1
        context = server_context(self.tls_dir) if tls else None
        remote = await start_remote(address, self.port, mode, tls=context)
        self.zone.a(name, address)
        if domain is not None:
            self.zone.mx(domain, name, preference)
        self.remotes.append(remote)
        return remote

    def dead_host(self, domain: str, preference: int = 5) -> str:
        """An MX whose address has nobody listening."""
        address = f"127.0.0.{self._next}"
        name = f"dead{self._next}.net"
        self._next += 1
        self.zone.a(name, address)
        self.zone.mx(domain, name, preference)
        return address


@pytest.fixture
async def internet(zone: Zone, tmp_path: Path) -> AsyncIterator[Internet]:
    create_self_signed(tmp_path / "remote-tls", "mx.test")
    net = Internet(zone, free_port(), tmp_path / "remote-tls")
    yield net
    for remote in net.remotes:
        await remote.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def make_runner(office: Store, internet: Internet,  # noqa: F811
                      resolver: dns.asyncresolver.Resolver,
                      clock: Clock) -> AsyncIterator[Callable[..., QueueRunner]]:
    """A runner for the office that reaches the loopback internet (keyword overrides of
    DeliverySettings)."""
    runners: list[QueueRunner] = []

    def make(store: Store | None = None, node: str = "node-a", **overrides) -> QueueRunner:
        settings = DeliverySettings(HOSTNAME, mx_port=internet.port,
                                    timeouts=dict(TEST_TIMEOUTS), **overrides)
        runner = QueueRunner(store or office, settings, resolver, node=node, clock=clock)
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        await runner.stop()
