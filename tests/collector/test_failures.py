"""What goes wrong at an ISP: each failure has its own line, nothing is lost or duplicated,
and the administrator hears about repeated failures once."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest

from mailstore.store import Store
from tests.cli import free_port
from tests.collector.conftest import PORT_OF, add_collector, collect, corpus, inbox
from tests.collector.isp import Isp


@dataclasses.dataclass
class CuttingProxy:
    """Forwards to the ISP and hangs up after ``limit`` bytes from the server."""

    target: int
    limit: int | None
    port: int = 0
    server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        limit = self.limit

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                       counted: bool) -> None:
            sent = 0
            try:
                while data := await src.read(4096):
                    if counted and limit is not None and sent + len(data) >= limit:
                        dst.write(data[:limit - sent])
                        await dst.drain()
                        break
                    sent += len(data)
                    dst.write(data)
                    await dst.drain()
            except ConnectionError:
                pass
            finally:
                for w in (writer, up_writer):
                    w.close()

        await asyncio.gather(pump(reader, up_writer, False), pump(up_reader, writer, True))


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A listener that accepts connections and never says a word."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        held.append(w)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for w in held:
        w.close()
    server.close()


@pytest.mark.parametrize("protocol", ["pop3", "imap"])
async def test_connection_dropped_mid_download_loses_and_duplicates_nothing(
        local: Store, isp: Isp, protocol: str) -> None:
    mailbox = isp.new_mailbox()
    messages = corpus(30)
    for raw in messages:
        isp.put(mailbox[0], raw)
    total = sum(len(m) for m in messages)
    proxy = CuttingProxy(isp.ports[PORT_OF[protocol, "none"]], limit=total // 2)
    await proxy.start()
    account = await add_collector(local, isp, mailbox, protocol, leave_on_server=False)
    await local.collectors.remove("isp")
    account = await add_collector(local, isp, mailbox, protocol, leave_on_server=False,
                                  port=proxy.port)
    first = await collect(local, account)
    assert first.error is not None and "closed the connection" in first.error
    got = len(await inbox(local, "ann@example.com"))
    assert 0 < got < 30 if protocol == "pop3" else got < 30
    assert isp.count(mailbox[0]) == 30  # nothing deleted at the ISP without QUIT
    proxy.limit = None
    second = await collect(local, account)
    assert second.error is None
    assert second.report.delivered == 30 - got
    assert sorted(await inbox(local, "ann@example.com")) == sorted(messages)
    assert isp.count(mailbox[0]) == 0
    proxy.server.close()


@pytest.mark.parametrize("protocol", ["pop3", "imap"])
async def test_wrong_isp_password_is_a_clear_error(local: Store, lonely_isp: Isp,
                                                   protocol: str) -> None:
    isp = lonely_isp
    user, _ = isp.new_mailbox()
    account = await add_collector(local, isp, (user, "wrong password"), protocol)
    outcome = await collect(local, account)
    assert outcome.error.startswith(f"the ISP {isp.host} refused the login of {user}:")
    assert "wrong password" not in outcome.error
    listed = await local.collectors.get("isp")
    assert listed.last_error == outcome.error and listed.failures == 1


@pytest.mark.parametrize("protocol,tls", [("pop3", "implicit"), ("imap", "starttls")])
async def test_self_signed_isp_certificate_is_refused_unless_allowed(
        local: Store, isp: Isp, protocol: str, tls: str) -> None:
    mailbox = isp.new_mailbox()
    isp.put(mailbox[0], corpus(1)[0])
    account = await add_collector(local, isp, mailbox, protocol, tls, verify_tls=True)
    outcome = await collect(local, account)
    assert outcome.error.startswith(f"TLS handshake with {isp.host}:")
    assert "certificate verify failed: self-signed certificate" in outcome.error
    assert "--insecure-tls" in outcome.error
    assert await inbox(local, "ann@example.com") == []


@pytest.mark.parametrize("protocol", ["pop3", "imap"])
async def test_a_server_that_never_answers_times_out(local: Store, isp: Isp, protocol: str,
                                                     silent_server: int) -> None:
    account = await add_collector(local, isp, isp.new_mailbox(), protocol, port=silent_server,
                                  timeout=1)
    outcome = await asyncio.wait_for(collect(local, account), 20)
    assert outcome.error == (f"127.0.0.1:{silent_server} did not answer within 1 s "
                             "(waiting for the greeting)")


async def test_unknown_host_and_refused_port_have_their_own_errors(local: Store,
                                                                   isp: Isp) -> None:
    account = await add_collector(local, isp, isp.new_mailbox(), "pop3", port=free_port())
    outcome = await collect(local, account)
    assert outcome.error.startswith("cannot connect to 127.0.0.1:")
    assert "refused" in outcome.error.lower()
    await local.collectors.remove("isp")
    account = await add_collector(local, isp, isp.new_mailbox(), "pop3")
    account = await local.collectors.add(dataclasses.replace(
        _settings(account), name="nowhere", host="pop.nowhere.invalid", username="x"))
    outcome = await collect(local, account)
    assert outcome.error.startswith("cannot find the ISP server pop.nowhere.invalid")


def _settings(account):
    from mailstore.collectors import CollectorSettings
    return CollectorSettings(name=account.name, protocol=account.protocol, host=account.host,
                             port=account.port, tls=account.tls, username=account.username,
                             password="x", recipient=account.recipient, timeout=3)


async def test_a_server_speaking_another_protocol_is_a_protocol_error(
        local: Store, isp: Isp) -> None:
    account = await add_collector(local, isp, isp.new_mailbox(), "pop3",
                                  port=isp.ports["imap"])
    outcome = await collect(local, account)
    assert outcome.error.startswith("not a POP3 reply: '* OK")


@pytest.mark.parametrize("protocol", ["pop3", "imap"])
async def test_malformed_message_arrives_byte_for_byte(local: Store, isp: Isp,
                                                       protocol: str) -> None:
    broken = (b"From: <<<not an address\r\nSubject: =?x-unknown?q?broken?=\r\n"
              b"this header line has no colon\r\n"
              b"Content-Type: multipart/mixed; boundary=\"never-closed\"\r\n"
              b"Content-Transfer-Encoding: base64\r\n\r\n"
              b"--never-closed\r\nContent-Type: text/plain; charset=bogus\r\n\r\n"
              b"\xff\xfe 8-bit \xc3( invalid utf-8 !!!! ===\r\n.\r\n..two dots\r\n")
    mailbox = isp.new_mailbox()
    isp.put(mailbox[0], broken)
    account = await add_collector(local, isp, mailbox, protocol)
    outcome = await collect(local, account)
    assert outcome.error is None
    assert await inbox(local, "ann@example.com") == [broken]


async def test_admin_is_told_once_after_three_failures_and_again_after_a_recovery(
        local: Store, isp: Isp) -> None:
    account = await add_collector(local, isp, isp.new_mailbox(), "pop3")
    await local.collectors.update("isp", port=free_port())  # the ISP is unreachable
    for _ in range(5):
        await collect(local, account)
    notices = await inbox(local, "admin@example.com")
    assert len(notices) == 1
    assert b"Subject: Collector isp: cannot collect mail from 127.0.0.1" in notices[0]
    assert b"cannot connect to 127.0.0.1:" in notices[0]
    assert b"5 times in a row" not in notices[0] and b"3 times in a row" in notices[0]
    await local.collectors.update("isp", port=isp.ports["pop3"])
    assert (await collect(local, account)).error is None
    state = await local.collectors.get("isp")
    assert (state.failures, state.admin_notified, state.last_error) == (0, False, None)
    await local.collectors.update("isp", port=free_port())
    for _ in range(3):
        await collect(local, account)
    assert len(await inbox(local, "admin@example.com")) == 2
