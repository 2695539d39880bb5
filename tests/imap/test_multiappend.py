"""MULTIAPPEND (RFC 3502): several messages in one APPEND, stored all or none, with
APPENDUID sets (RFC 4315), APPENDLIMIT per message and a limit for the whole command; and
RFC 6855 §4 ``UTF8 (literal8)`` APPEND data."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from imapclient import IMAPClient

from mailstore.store import Store
from tests.imap.conftest import (
    PASSWORD,
    LiveImap,
    client_thread,
    corpus_sample,
    inbox,
    simple_message,
    start_imap,
)
from tests.imap.test_robustness import Raw

LOGIN = f'a LOGIN ann@example.com "{PASSWORD}"\r\n'.encode()


async def test_imapclient_multiappend_stores_corpus_messages_with_flags_dates_and_uids(
        imap: LiveImap, store: Store, account) -> None:
    sent = await store.folders.get(account.id, "Sent")
    raws = corpus_sample(6)
    when = datetime(2024, 5, 17, 9, 30, tzinfo=UTC)

    def scenario():
        with IMAPClient("127.0.0.1", imap.port, ssl=False, timeout=20) as client:
            client.login("ann@example.com", PASSWORD)
            assert b"MULTIAPPEND" in client.capabilities()
            return client.multiappend("Sent", [
                raws[0], {"msg": raws[1], "flags": [b"\\Seen", b"$Work"]},
                {"msg": raws[2], "date": when}, *raws[3:]])

    answer = await client_thread(scenario)
    assert answer == ("OK", [f"[APPENDUID {sent.uidvalidity} 1:6] APPEND completed".encode()])
    assert await store.messages.uids(sent.id) == [1, 2, 3, 4, 5, 6]
    for uid, raw in enumerate(raws, 1):
        message = await store.messages.get(sent.id, uid)
        assert store.messages.read_raw(message.sha256) == raw
    second = await store.messages.get(sent.id, 2)
    assert second.flags == 1 and second.keywords == "$Work"
    assert (await store.messages.get(sent.id, 3)).internal_date == int(when.timestamp())


async def test_multiappend_over_quota_stores_none_of_the_messages(
        imap: LiveImap, store: Store) -> None:
    # Each message fits the quota alone; all three together do not.
    tiny = await store.accounts.create("tiny@example.com", PASSWORD, quota_bytes=2500)
    folder = await store.folders.get(tiny.id, "INBOX")
    messages = [simple_message(f"m{i}", "x" * 900) for i in range(3)]

    def scenario():
        with IMAPClient("127.0.0.1", imap.port, ssl=False, timeout=20) as client:
            client.login("tiny@example.com", PASSWORD)
            refused = client.multiappend("INBOX", messages)
            one = client.multiappend("INBOX", messages[:1])
            return refused, one

    refused, one = await client_thread(scenario)
    assert refused[0] == "NO" and refused[1][0].startswith(b"[OVERQUOTA]")
    assert one[1][0].startswith(f"[APPENDUID {folder.uidvalidity} 1]".encode())
    assert await store.messages.uids(folder.id) == [1]  # the refused three left nothing
    assert (await store.accounts.get_by_id(tiny.id)).used_bytes == len(messages[0])


async def test_a_literal_over_appendlimit_or_over_the_total_refuses_the_whole_append(
        store: Store, account, tls_dir: Path) -> None:
    live = await start_imap(store, tls_dir, append_limit=1000, append_total_limit=2500)
    folder = await inbox(store, account)
    try:
        def scenario() -> list[list[bytes]]:
            raw = Raw(live.port)
            raw.send(LOGIN)
            raw.until_tagged(b"a")
            out = []
            # Per message: the second literal is over APPENDLIMIT; refused before it is sent.
            raw.send(b"b APPEND INBOX {600}\r\n")
            assert raw.line().startswith(b"+ ")
            raw.send(b"x" * 600 + b" (\\Seen) {1001}\r\n")
            out.append([raw.line()])
            # The total: three literals of 900 are each allowed, not together.
            raw.send(b"c APPEND INBOX {900+}\r\n" + b"y" * 900 + b" {900+}\r\n" + b"y" * 900
                     + b" {900}\r\n")
            out.append([raw.line()])
            # The session goes on; a MULTIAPPEND within the limits with both literal kinds.
            msg = simple_message("ok")
            raw.send(f"d APPEND INBOX {{{len(msg)}+}}\r\n".encode() + msg
                     + f" (\\Flagged) {{{len(msg)}}}\r\n".encode())
            assert raw.line().startswith(b"+ ")
            raw.send(msg + b"\r\n")
            out.append(raw.until_tagged(b"d"))
            raw.close()
            return out

        too_big, too_much, fine = await client_thread(scenario)
    finally:
        await live.server.close()
    assert too_big[0] == b"b BAD [TOOBIG] message too big: 1001 bytes, the limit is 1000\r\n"
    assert too_much[0].startswith(b"c BAD [TOOBIG] messages too big together")
    assert fine[-1].startswith(b"d OK [APPENDUID ") and b" 1:2] " in fine[-1]
    assert await store.messages.uids(folder) == [1, 2]
    assert (await store.messages.get(folder, 2)).flags == 4  # \Flagged


async def test_an_empty_message_or_a_missing_folder_refuses_every_message(
        imap: LiveImap, store: Store, account) -> None:
    folder = await inbox(store, account)
    msg = simple_message("kept out")

    def scenario() -> list[bytes]:
        raw = Raw(imap.port)
        raw.send(LOGIN)
        raw.until_tagged(b"a")
        raw.send(f"b APPEND INBOX {{{len(msg)}+}}\r\n".encode() + msg + b" {0+}\r\n\r\n")
        empty = raw.until_tagged(b"b")[-1]
        raw.send(f"c APPEND Nowhere {{{len(msg)}+}}\r\n".encode() + msg
                 + f" {{{len(msg)}+}}\r\n".encode() + msg + b"\r\n")
        missing = raw.until_tagged(b"c")[-1]
        raw.close()
        return [empty, missing]

    empty, missing = await client_thread(scenario)
    assert empty.startswith(b"b NO ")
    assert missing.startswith(b"c NO [TRYCREATE]")
    assert await store.messages.uids(folder) == []


async def test_utf8_append_data_needs_enable_utf8_accept_and_keeps_the_bytes(
        imap: LiveImap, store: Store, account) -> None:
    folder = await inbox(store, account)
    msg = simple_message("Grüße aus Köln", "Schöne Grüße\r\n", "Jörg <jörg@example.org>")

    def scenario() -> list[bytes]:
        raw = Raw(imap.port)
        raw.send(LOGIN)
        raw.until_tagged(b"a")
        append = f"UTF8 (~{{{len(msg)}+}}\r\n".encode() + msg + b")\r\n"
        raw.send(b"b APPEND INBOX " + append)
        refused = raw.until_tagged(b"b")[-1]
        raw.send(b"c ENABLE UTF8=ACCEPT\r\n")
        raw.until_tagged(b"c")
        raw.send(b"d APPEND INBOX (\\Seen) " + append)
        stored = raw.until_tagged(b"d")[-1]
        raw.close()
        return [refused, stored]

    refused, stored = await client_thread(scenario)
    assert refused.startswith(b"b BAD ")
    assert stored.startswith(b"d OK [APPENDUID ")
    message = await store.messages.get(folder, 1)
    assert store.messages.read_raw(message.sha256) == msg
    assert "Köln" in message.subject
