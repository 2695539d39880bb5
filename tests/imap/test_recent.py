"""\\Recent (RFC 3501 §2.3.2) as Dovecot keeps it: a message is recent to exactly one session,
the first to select its folder read-write after it arrived; EXAMINE looks without taking."""

from __future__ import annotations

import asyncio
import imaplib

from aioimaplib import aioimaplib

from mailstore.store import Store
from tests.imap.conftest import PASSWORD, LiveImap, client_thread, deliver, inbox, simple_message
from tests.imap.test_extensions import transcript

LOGIN = f'a LOGIN ann@example.com "{PASSWORD}"'.encode()


def flags_of(client: imaplib.IMAP4) -> list[bytes]:
    typ, data = client.fetch("1:*", "(FLAGS)")
    assert typ == "OK"
    return [line for line in data if isinstance(line, bytes)]


async def test_the_first_select_takes_recent_and_a_later_session_sees_none(
        imap: LiveImap, store: Store, account) -> None:
    folder = await inbox(store, account)
    await deliver(store, folder, [simple_message(f"m{i}") for i in range(3)])

    def scenario():
        first, second = imap.login(), imap.login()
        first.select("INBOX")
        recent_first = first.response("RECENT")
        first.store("1", "+FLAGS", "(\\Seen)")
        searches = {key: first.search(None, key)[1][0]
                    for key in ("RECENT", "NEW", "OLD", "NOT RECENT SEEN")}
        flags_first = flags_of(first)
        second.select("INBOX")
        recent_second = second.response("RECENT")
        flags_second = flags_of(second)
        status = second.status("INBOX", "(RECENT MESSAGES)")
        first.logout()
        second.logout()
        return recent_first, searches, flags_first, recent_second, flags_second, status

    recent_first, searches, flags_first, recent_second, flags_second, status = \
        await client_thread(scenario)
    assert recent_first == ("RECENT", [b"3"])
    # RFC 3501 §6.4.4: NEW is RECENT UNSEEN, OLD is NOT RECENT.
    assert searches == {"RECENT": b"1 2 3", "NEW": b"2 3", "OLD": b"", "NOT RECENT SEEN": b""}
    assert flags_first == [b"1 (FLAGS (\\Seen \\Recent))", b"2 (FLAGS (\\Recent))",
                           b"3 (FLAGS (\\Recent))"]
    assert recent_second == ("RECENT", [b"0"])
    assert flags_second == [b"1 (FLAGS (\\Seen))", b"2 (FLAGS ())", b"3 (FLAGS ())"]
    assert status == ("OK", [b'"INBOX" (RECENT 0 MESSAGES 3)'])


async def test_examine_shows_recent_without_taking_it(
        imap: LiveImap, store: Store, account) -> None:
    folder = await inbox(store, account)
    await deliver(store, folder, [simple_message(f"m{i}") for i in range(2)])
    out = await client_thread(lambda: transcript(imap.port, [
        LOGIN,
        b"b STATUS INBOX (RECENT)",
        b"c EXAMINE INBOX",
        b"d FETCH 1:* (FLAGS)",
        b"e SELECT INBOX",
        b"f SEARCH RECENT",
        b"g STATUS INBOX (RECENT)",
        b"h EXAMINE INBOX",
    ]))
    assert out[b"b"][0] == b'* STATUS "INBOX" (RECENT 2)\r\n'
    assert b"* 2 RECENT\r\n" in out[b"c"]
    assert out[b"d"][:-1] == [b"* 1 FETCH (FLAGS (\\Recent))\r\n",
                              b"* 2 FETCH (FLAGS (\\Recent))\r\n"]
    assert b"* 2 RECENT\r\n" in out[b"e"]  # EXAMINE left them recent for this SELECT
    assert out[b"f"][0] == b"* SEARCH 1 2\r\n"
    assert out[b"g"][0] == b'* STATUS "INBOX" (RECENT 0)\r\n'
    assert b"* 0 RECENT\r\n" in out[b"h"]


async def test_mail_arriving_while_selected_is_recent_to_that_session_only(
        imap: LiveImap, store: Store, account) -> None:
    folder = await inbox(store, account)
    await deliver(store, folder, [simple_message("old")])
    client = aioimaplib.IMAP4(host="127.0.0.1", port=imap.port, timeout=20)
    await client.wait_hello_from_server()
    await client.login("ann@example.com", PASSWORD)
    selected = await client.select("INBOX")
    assert b"1 RECENT" in selected.lines
    await client.uid("store", "1", "+FLAGS.SILENT", "(\\Seen)")
    idle = await client.idle_start(timeout=5)
    await store.messages.append(folder, simple_message("new one"))
    pushed: list[bytes] = []
    while b"2 RECENT" not in pushed:
        pushed += await asyncio.wait_for(client.wait_server_push(), 5)
    client.idle_done()
    await asyncio.wait_for(idle, 5)
    assert b"2 EXISTS" in pushed
    fetched = await client.fetch("1:2", "(FLAGS)")
    assert fetched.lines[:2] == [b"1 FETCH (FLAGS (\\Seen \\Recent))",
                                 b"2 FETCH (FLAGS (\\Recent))"]
    await client.logout()

    later = await client_thread(lambda: transcript(imap.port, [
        LOGIN, b"b SELECT INBOX", b"c SEARCH RECENT"]))
    assert b"* 0 RECENT\r\n" in later[b"b"]
    assert later[b"c"][0] == b"* SEARCH\r\n"


async def test_expunged_recent_messages_leave_the_count_and_rev2_never_sees_recent(
        imap: LiveImap, store: Store, account) -> None:
    folder = await inbox(store, account)
    await deliver(store, folder, [simple_message(f"m{i}") for i in range(3)])
    await store.folders.create(account.id, "Other")
    other = (await store.folders.get(account.id, "Other")).id
    await deliver(store, other, [simple_message("x")])
    out = await client_thread(lambda: transcript(imap.port, [
        LOGIN,
        b"b SELECT INBOX",
        b"c STORE 2 +FLAGS.SILENT (\\Deleted)",
        b"d EXPUNGE",
        b"e SEARCH RECENT",
        b"f ENABLE IMAP4rev2",
        b"g SELECT Other",
        b"h FETCH 1 (FLAGS)",
    ]))
    assert b"* 3 RECENT\r\n" in out[b"b"]
    assert out[b"e"][0] == b"* SEARCH 1 2\r\n"
    # RFC 9051 (IMAP4rev2) has no \Recent: no RECENT response, no flag; still claimed.
    assert not any(b"RECENT" in line for line in out[b"g"])
    assert out[b"h"][0] == b"* 1 FETCH (FLAGS ())\r\n"
    assert await store.folders.recent_count(other) == 0
