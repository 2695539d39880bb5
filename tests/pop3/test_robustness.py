"""Malformed input, over-long lines, pipelining and idle clients never hurt the server."""

from __future__ import annotations

import asyncio
import socket

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailstore.store import Store
from mailstore.values import AccountInfo
from protocols.pop3.session import MAX_LINE
from tests.imap.conftest import client_thread, deliver, inbox, simple_message
from tests.pop3.conftest import PASSWORD, LivePop3, start_pop3


async def test_junk_and_over_long_lines_get_err_and_the_session_goes_on(
        pop3: LivePop3) -> None:
    def scenario() -> list[bytes]:
        raw = pop3.raw()
        answers = [
            raw.command(b"\x00\xff\xfe garbage"),
            raw.command(b"X" * (MAX_LINE * 3)),
            raw.command(b"USER " + b"a" * 300),
            raw.command(b"LIST 1 2 3"),
            raw.command(b"CAPA"),
        ]
        raw.multiline()
        raw.close()
        return answers

    answers = await client_thread(scenario)
    assert answers[0].startswith(b"-ERR")
    assert answers[1] == f"-ERR line too long (limit {MAX_LINE} octets)\r\n".encode()
    assert answers[2] == b"-ERR USER argument too long\r\n"
    assert answers[3].startswith(b"-ERR")
    assert answers[4].startswith(b"+OK")


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=80), min_size=1, max_size=8))
async def test_random_bytes_never_kill_the_server(pop3: LivePop3, junk: list[bytes]) -> None:
    def scenario() -> bytes:
        with socket.create_connection(("127.0.0.1", pop3.port), timeout=20) as sock:
            sock.recv(1024)
            for piece in junk:
                sock.sendall(piece.replace(b"\n", b"") + b"\r\n")
            sock.sendall(b"QUIT\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
            return data

    data = await client_thread(scenario)
    assert b"signing off" in data or b"+ \r\n" in data or b"Logged in" in data
    assert b"Traceback" not in data
    # And a fresh client is still served.
    assert (await client_thread(lambda: pop3.raw().greeting)).startswith(b"+OK")


async def test_pipelined_commands_are_all_answered_in_order(
        pop3: LivePop3, store: Store, account: AccountInfo) -> None:
    await deliver(store, await inbox(store, account),
                  [simple_message(f"P{i}") for i in range(3)])

    def scenario() -> bytes:
        with socket.create_connection(("127.0.0.1", pop3.port), timeout=20) as sock:
            sock.recv(1024)
            sock.sendall(f"USER ann@example.com\r\nPASS {PASSWORD}\r\nSTAT\r\nRETR 1\r\n"
                         "DELE 1\r\nRETR 2\r\nRSET\r\nNOOP\r\nQUIT\r\n".encode())
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
            return data

    data = await client_thread(scenario)
    statuses = [line for line in data.split(b"\r\n") if line.startswith((b"+OK", b"-ERR"))]
    assert [s.split(b" ")[0] for s in statuses] == [b"+OK"] * 9
    assert statuses[2] == b"+OK 3 " + str(sum(
        len(simple_message(f"P{i}")) for i in range(3))).encode()
    assert b"Subject: P0" in data and b"Subject: P1" in data


async def test_idle_client_is_logged_out_and_its_deletions_are_dropped(
        store: Store, account: AccountInfo, tls_dir) -> None:
    folder_id = await inbox(store, account)
    await deliver(store, folder_id, [simple_message("Idle")])
    live = await start_pop3(store, tls_dir, idle_timeout=0.5)
    try:
        def scenario() -> bytes:
            raw = live.raw()
            raw.command(b"USER ann@example.com")
            raw.command(b"PASS " + PASSWORD.encode())
            raw.command(b"DELE 1")
            return raw.line() + raw.line()  # the autologout, then the end of the stream

        assert await client_thread(scenario) == b"-ERR Autologout; idle for too long\r\n"
        await asyncio.sleep(0.1)
        assert await store.messages.uids(folder_id) == [1]
    finally:
        await live.server.close()


async def test_server_close_ends_sessions_without_deleting(
        store: Store, account: AccountInfo, tls_dir) -> None:
    folder_id = await inbox(store, account)
    await deliver(store, folder_id, [simple_message("Kept")])
    live = await start_pop3(store, tls_dir)
    raw = await client_thread(live.raw)
    await client_thread(lambda: raw.command(b"USER ann@example.com"))
    await client_thread(lambda: raw.command(b"PASS " + PASSWORD.encode()))
    await client_thread(lambda: raw.command(b"DELE 1"))
    await live.server.close()
    last = await client_thread(raw.line)
    raw.close()
    assert last.startswith(b"-ERR [SYS/TEMP] server shutting down")
    assert await store.messages.uids(folder_id) == [1]
