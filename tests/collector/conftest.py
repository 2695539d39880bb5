"""Fixtures: a real ISP (Dovecot, once per test run), a fresh mailbox there per test, and a
local store with people to deliver to (on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailstore.collectors import CollectorAccount, CollectorSettings, Rule
from mailstore.store import Store
from protocols.collector.runner import Collector, RunOutcome
from tests.collector.isp import DovecotIsp, Isp, start_dovecot
from tests.corpus import message_files

PORT_OF = {("pop3", "none"): "pop3", ("pop3", "starttls"): "pop3",
           ("pop3", "implicit"): "pop3s", ("imap", "none"): "imap",
           ("imap", "starttls"): "imap", ("imap", "implicit"): "imaps"}
MODES = list(PORT_OF)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotIsp]:
    isp = start_dovecot()
    yield isp
    isp.stop()


@pytest.fixture
def lonely_isp() -> Iterator[DovecotIsp]:
    """A Dovecot of its own, for tests that log in wrongly: Dovecot delays every later login
    from an address that failed (up to 15 s), which would slow the tests that follow."""
    isp = start_dovecot()
    yield isp
    isp.stop()


@pytest.fixture
def isp(dovecot: DovecotIsp) -> Isp:
    """The ISP the tests collect from (the shape another POP3 server can fill)."""
    return dovecot


@pytest.fixture
async def local(store: Store) -> Store:
    """example.com with ann, bob and carol, and admin@example.com as the administrator."""
    await store.accounts.add_domain("example.com")
    for name in ("ann", "bob", "carol"):
        await store.accounts.create(f"{name}@example.com", "correct horse battery")
    await store.accounts.create("admin@example.com", "correct horse battery", is_admin=True)
    return store


async def add_collector(store: Store, isp: Isp, mailbox: tuple[str, str], protocol: str,
                        tls: str = "none", name: str = "isp", recipient: str = "ann@example.com",
                        rules: tuple[Rule, ...] = (), **options: object) -> CollectorAccount:
    user, password = mailbox
    settings = {"port": isp.ports[PORT_OF[protocol, tls]], "verify_tls": False, "timeout": 5,
                **options}
    return await store.collectors.add(CollectorSettings(
        name=name, protocol=protocol, host=isp.host, tls=tls, username=user,
        password=password, recipient=recipient, rules=rules, **settings))


async def collect(store: Store, account: CollectorAccount, now: float | None = None
                  ) -> RunOutcome:
    return await Collector(store, "mail.example.com").run(account.id, now=now)


async def inbox(store: Store, address: str, folder: str = "INBOX") -> list[bytes]:
    """The raw messages in a folder, oldest first."""
    account = await store.accounts.get(address)
    info = await store.folders.get(account.id, folder)
    return [store.messages.read_raw(sha) for _, sha, *_ in
            await store.messages.blob_refs(info.id)]


def corpus(count: int, start: int = 0) -> list[bytes]:
    """Real messages, each with a distinct Message-ID (the corpus has a few repeats)."""
    out: list[bytes] = []
    ids: set[bytes] = set()
    for path in message_files("real-mail"):
        # CRLF, as the ISP hands them out: then the bytes collected equal the bytes put
        raw = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        mid = next((line for line in raw.split(b"\n", 200)
                    if line.lower().startswith(b"message-id:")), None)
        if mid is None or mid in ids:
            continue
        ids.add(mid)
        if len(ids) > start:
            out.append(raw)
        if len(out) == count:
            return out
    raise AssertionError("the corpus is too small")
