"""What a POP3 session does to the store: byte-exact RETR, UIDLs, DELE only at QUIT."""

from __future__ import annotations

import asyncio
import imaplib
import poplib
import re
import socket

from mailstore.store import Store
from mailstore.values import AccountInfo
from protocols.imap.server import ImapServer
from tests.corpus import message_files
from tests.imap.conftest import client_thread, deliver, inbox, simple_message
from tests.imap.conftest import listen as imap_listen
from tests.pop3.conftest import PASSWORD, LivePop3


def crlf(raw: bytes) -> bytes:
    """A message as SMTP stores it: every line ends in CRLF."""
    return re.sub(rb"\r?\n", b"\r\n", raw)


def dotted_corpus_messages(n: int = 6) -> list[bytes]:
    """Real messages with lines that start with a dot, one of them bigger than a chunk."""
    small, big = [], []
    for path in message_files("real-mail"):
        raw = path.read_bytes()
        if b"\n." not in raw:
            continue
        if len(raw) > 300_000 and not big:
            big.append(raw)
        elif len(small) < n and len(raw) < 100_000:
            small.append(raw)
        if big and len(small) >= n:
            break
    return [crlf(r) for r in small + big]


def read_retr(sock_file, number: int, sock: socket.socket) -> tuple[bytes, bytes]:
    """RETR over a raw socket: the status line and the unstuffed body, byte for byte.

    Unstuffing is written out here (not the server's ``unstuff``), as a client does it."""
    sock.sendall(f"RETR {number}\r\n".encode())
    status = sock_file.readline()
    out = []
    while True:
        line = sock_file.readline()
        assert line.endswith(b"\r\n"), line
        if line == b".\r\n":
            break
        out.append(line[1:] if line.startswith(b".") else line)
    return status, b"".join(out)


async def test_retr_sends_real_messages_byte_for_byte_with_dot_lines(
        pop3: LivePop3, store: Store, account: AccountInfo) -> None:
    raws = dotted_corpus_messages()
    assert any(len(r) > 300_000 for r in raws)
    await deliver(store, await inbox(store, account), raws)

    def scenario() -> list[tuple[bytes, bytes]]:
        with socket.create_connection(("127.0.0.1", pop3.port), timeout=20) as sock:
            f = sock.makefile("rb")
            f.readline()
            sock.sendall(f"USER ann@example.com\r\nPASS {PASSWORD}\r\n".encode())
            f.readline()
            assert f.readline().startswith(b"+OK")
            results = [read_retr(f, n, sock) for n in range(1, len(raws) + 1)]
            sock.sendall(b"QUIT\r\n")
            f.readline()
            return results

    results = await client_thread(scenario)
    for raw, (status, body) in zip(raws, results, strict=True):
        assert status == f"+OK {len(raw)} octets\r\n".encode()
        assert body == raw


async def test_a_message_stored_with_bare_lf_is_sent_with_crlf(
        pop3: LivePop3, store: Store, account: AccountInfo) -> None:
    raw = b"From: a@example.org\nSubject: lf\n\n.dot\nend\n"
    await deliver(store, await inbox(store, account), [raw])

    def scenario() -> bytes:
        with socket.create_connection(("127.0.0.1", pop3.port), timeout=20) as sock:
            f = sock.makefile("rb")
            f.readline()
            sock.sendall(f"USER ann@example.com\r\nPASS {PASSWORD}\r\nRETR 1\r\n".encode())
            f.readline()
            f.readline()
            f.readline()
            wire = b""
            while not wire.endswith(b"\r\n.\r\n"):
                wire += f.readline()
            return wire

    assert await client_thread(scenario) == (
        b"From: a@example.org\r\nSubject: lf\r\n\r\n..dot\r\nend\r\n.\r\n")


async def test_dele_then_dropped_connection_deletes_nothing(
        pop3: LivePop3, store: Store, account: AccountInfo) -> None:
    folder_id = await inbox(store, account)
    await deliver(store, folder_id, [simple_message(f"M{i}") for i in range(3)])

    def scenario() -> None:
        pop = pop3.login()
        pop.dele(1)
        pop.dele(2)
        pop.sock.close()  # gone without QUIT

    await client_thread(scenario)
    await asyncio.sleep(0.1)
    assert await store.messages.uids(folder_id) == [1, 2, 3]

    def again() -> int:  # the maildrop lock went with the dropped connection
        pop = pop3.login()
        count = pop.stat()[0]
        pop.quit()
        return count

    assert await client_thread(again) == 3


async def test_dele_and_quit_delete_and_an_idling_imap_client_sees_expunge(
        pop3: LivePop3, store: Store, account: AccountInfo, tls_dir) -> None:
    from tidings.tls import server_context

    folder_id = await inbox(store, account)
    await deliver(store, folder_id, [simple_message(f"M{i}") for i in range(4)])
    imap = ImapServer(store, "imap.test", server_context(tls_dir), failure_delay=0)
    sock = imap_listen()
    await imap.start(sock)
    port = sock.getsockname()[1]
    idling = asyncio.Event()
    loop = asyncio.get_running_loop()

    def imap_scenario() -> list[bytes]:
        client = imaplib.IMAP4("127.0.0.1", port, timeout=20)
        client.login("ann@example.com", PASSWORD)
        client.select("INBOX")
        client.send(b"i1 IDLE\r\n")
        assert client.readline().startswith(b"+")
        loop.call_soon_threadsafe(idling.set)
        seen = [client.readline(), client.readline()]
        client.send(b"DONE\r\n")
        client.readline()
        client.logout()
        return seen

    def pop_scenario() -> tuple[bytes, list[bytes]]:
        pop = pop3.login()
        pop.dele(2)
        pop.dele(3)
        bye = pop.quit()
        again = pop3.login()
        uidls = again.uidl()[1]
        again.quit()
        return bye, uidls

    watcher = asyncio.ensure_future(client_thread(imap_scenario))
    await asyncio.wait_for(idling.wait(), 20)
    bye, uidls_after = await client_thread(pop_scenario)
    seen = await watcher
    await imap.close()
    assert bye.startswith(b"+OK") and b"2 messages deleted" in bye
    assert seen == [b"* 3 EXPUNGE\r\n", b"* 2 EXPUNGE\r\n"]  # IMAP: highest first
    assert await store.messages.uids(folder_id) == [1, 4]
    # UIDLs of the messages that stayed did not change when others were deleted.
    validity = (await store.folders.get(account.id, "INBOX")).uidvalidity
    assert uidls_after == [f"1 {validity}.1".encode(), f"2 {validity}.4".encode()]


async def test_the_maildrop_is_a_snapshot_taken_at_login(
        pop3: LivePop3, store: Store, account: AccountInfo) -> None:
    folder_id = await inbox(store, account)
    await deliver(store, folder_id, [simple_message("Before")])
    loop = asyncio.get_running_loop()

    def scenario() -> tuple[int, int]:
        pop = pop3.login()
        asyncio.run_coroutine_threadsafe(
            deliver(store, folder_id, [simple_message("During")]), loop).result(20)
        during = pop.stat()[0]
        pop.quit()
        pop = pop3.login()
        after = pop.stat()[0]
        pop.quit()
        return during, after

    assert await client_thread(scenario) == (1, 2)


async def test_a_message_expunged_over_imap_meanwhile_gives_an_error_not_a_crash(
        pop3: LivePop3, store: Store, account: AccountInfo) -> None:
    folder_id = await inbox(store, account)
    await deliver(store, folder_id, [simple_message("Gone"), simple_message("Stays")])
    loop = asyncio.get_running_loop()

    def scenario() -> tuple[str, bytes]:
        pop = pop3.login()
        asyncio.run_coroutine_threadsafe(store.messages.delete(folder_id, [1]), loop).result(20)
        try:
            pop.retr(1)
            error = ""
        except poplib.error_proto as exc:
            error = str(exc)
        pop.dele(1)
        return error, pop.quit()

    error, bye = await client_thread(scenario)
    assert "removed by another session" in error
    assert bye.startswith(b"+OK")
    assert await store.messages.uids(folder_id) == [2]
