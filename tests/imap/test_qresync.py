"""QRESYNC (RFC 7162 §3.2) in scripted sessions on both backends."""

from __future__ import annotations

import re

from mailstore.store import Store
from tests.imap.conftest import PASSWORD, LiveImap, client_thread, deliver, inbox, simple_message
from tests.imap.test_extensions import transcript

LOGIN = f'a LOGIN ann@example.com "{PASSWORD}"'.encode()


async def changed_mailbox(store: Store, account) -> tuple[int, int, int]:
    """Six messages; after modseq ``base``: 2 flagged, 3 and 4 expunged, 7 added."""
    folder = await inbox(store, account)
    await deliver(store, folder, [simple_message(f"m{i}") for i in range(6)])
    info = await store.folders.get_by_id(folder)
    base = info.highestmodseq
    await store.messages.store_flags(folder, [2], ["\\Flagged"])
    await store.messages.store_flags(folder, [3, 4], ["\\Deleted"])
    await store.messages.expunge(folder)
    await store.messages.append(folder, simple_message("new"))
    return folder, info.uidvalidity, base


async def test_select_with_qresync_reports_vanished_earlier_and_changed_flags(
        imap: LiveImap, store: Store, account) -> None:
    folder, uidvalidity, base = await changed_mailbox(store, account)
    flagged_modseq = (await store.messages.changes_since(folder, base)).changed[0].modseq
    out = await client_thread(lambda: transcript(imap.port, [
        LOGIN,
        b"b ENABLE QRESYNC",
        f"c SELECT INBOX (QRESYNC ({uidvalidity} {base} 1:10))".encode(),
        f"d EXAMINE INBOX (QRESYNC ({uidvalidity} {base} 1:3 (1:2 1:2)))".encode(),
        f"e SELECT INBOX (QRESYNC ({uidvalidity + 1} {base}))".encode(),
        f"f SELECT INBOX (QRESYNC ({uidvalidity} {base}))".encode(),
    ]))
    assert out[b"b"][0] == b"* ENABLED QRESYNC\r\n"
    c = out[b"c"]
    assert b"* 5 EXISTS\r\n" in c
    vanished = c.index(b"* VANISHED (EARLIER) 3:4\r\n")
    # The first SELECT after delivery: the messages are \Recent to this session.
    fetch = c.index(f"* 2 FETCH (UID 2 FLAGS (\\Flagged \\Recent) MODSEQ ({flagged_modseq}))"
                    "\r\n".encode())
    assert vanished < fetch < len(c) - 1 and c[-1].startswith(b"c OK [READ-WRITE]")
    # Message 7 came after the client's MODSEQ: its flags are news too.
    assert any(line.startswith(b"* 5 FETCH (UID 7 FLAGS (\\Recent) MODSEQ (") for line in c)
    # Known UIDs narrow VANISHED (EARLIER) down; the previous mailbox is CLOSED first.
    d = out[b"d"]
    assert d[0] == b"* OK [CLOSED] Previous mailbox closed\r\n"
    assert b"* VANISHED (EARLIER) 3\r\n" in d
    # Another UIDVALIDITY: the client's cache is void, nothing is resynchronised.
    assert not any(b"VANISHED" in line or b"FETCH" in line for line in out[b"e"])
    assert b"* VANISHED (EARLIER) 3:4\r\n" in out[b"f"]


async def test_qresync_needs_enable_and_vanished_needs_changedsince(
        imap: LiveImap, store: Store, account) -> None:
    folder, uidvalidity, base = await changed_mailbox(store, account)
    out = await client_thread(lambda: transcript(imap.port, [
        LOGIN,
        f"b SELECT INBOX (QRESYNC ({uidvalidity} {base}))".encode(),
        b"c SELECT INBOX",
        f"d UID FETCH 1:* (FLAGS) (CHANGEDSINCE {base} VANISHED)".encode(),
        b"e ENABLE QRESYNC",
        b"f UID FETCH 1:* (FLAGS) (VANISHED)",
        b"g SELECT INBOX (QRESYNC (0 1))",
    ]))
    assert out[b"b"] == [b"b BAD Use ENABLE QRESYNC before SELECT with the QRESYNC "
                         b"parameter\r\n"]
    for tag in (b"d", b"f"):
        assert out[tag] == [tag + b" BAD The VANISHED modifier needs ENABLE QRESYNC and "
                                  b"CHANGEDSINCE\r\n"]
    assert out[b"g"][-1].startswith(b"g BAD ")


async def test_uid_fetch_changedsince_vanished_and_vanished_instead_of_expunge(
        imap: LiveImap, store: Store, account) -> None:
    folder, uidvalidity, base = await changed_mailbox(store, account)
    out = await client_thread(lambda: transcript(imap.port, [
        LOGIN,
        b"b ENABLE QRESYNC",
        b"c SELECT INBOX",
        f"d UID FETCH 1:* (FLAGS) (CHANGEDSINCE {base} VANISHED)".encode(),
        f"e UID FETCH 4:6 (FLAGS) (CHANGEDSINCE {base} VANISHED)".encode(),
        b"f STORE 1,3 +FLAGS.SILENT (\\Deleted)",
        b"g EXPUNGE",
    ]))
    d = out[b"d"]
    assert d[0] == b"* VANISHED (EARLIER) 3:4\r\n"
    assert re.fullmatch(
        rb"\* 2 FETCH \(FLAGS \(\\Flagged \\Recent\) UID 2 MODSEQ \(\d+\)\)\r\n", d[1])
    assert re.fullmatch(rb"\* 5 FETCH \(FLAGS \(\\Recent\) UID 7 MODSEQ \(\d+\)\)\r\n", d[2])
    assert d[3].startswith(b"d OK")
    assert out[b"e"][0] == b"* VANISHED (EARLIER) 4\r\n"
    assert len(out[b"e"]) == 2  # nothing in 4:6 changed; 5 and 6 are unchanged
    # UIDs 1 and 5 (messages 1 and 3) go: one VANISHED, no EXPUNGE (RFC 7162 §3.2.10).
    assert out[b"g"] == [b"* VANISHED 1,5\r\n", b"g OK EXPUNGE completed\r\n"]


async def test_expunges_by_another_session_arrive_as_vanished(
        imap: LiveImap, store: Store, account) -> None:
    folder = await inbox(store, account)
    await deliver(store, folder, [simple_message(f"m{i}") for i in range(4)])

    def scenario() -> dict[bytes, list[bytes]]:
        from tests.imap.test_robustness import Raw
        raw = Raw(imap.port)
        out: dict[bytes, list[bytes]] = {}
        for line in (LOGIN, b"b ENABLE QRESYNC", b"c SELECT INBOX"):
            raw.send(line + b"\r\n")
            out[line[:1]] = raw.until_tagged(line[:1])
        other = imap.login()
        other.select("INBOX")
        other.store("2:3", "+FLAGS", "\\Deleted")
        other.expunge()
        other.logout()
        raw.send(b"d FETCH 1 (FLAGS)\r\n")
        out[b"d"] = raw.until_tagged(b"d")  # no VANISHED during FETCH
        raw.send(b"e NOOP\r\n")
        out[b"e"] = raw.until_tagged(b"e")
        raw.send(b"f FETCH 2 (UID)\r\n")
        out[b"f"] = raw.until_tagged(b"f")
        raw.close()
        return out

    out = await client_thread(scenario)
    assert not any(b"VANISHED" in line or b"EXPUNGE" in line for line in out[b"d"])
    assert b"* VANISHED 2:3\r\n" in out[b"e"]
    assert not any(b"EXPUNGE" in line for line in out[b"e"])
    assert re.fullmatch(rb"\* 2 FETCH \(UID 4 MODSEQ \(\d+\)\)\r\n", out[b"f"][0])
