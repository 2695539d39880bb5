"""Extensions in scripted sessions: client lines in, expected server lines out."""

from __future__ import annotations

import re

from mailstore.store import Store
from tests.imap.conftest import PASSWORD, LiveImap, client_thread, deliver, inbox, simple_message
from tests.imap.test_robustness import Raw


def transcript(port: int, lines: list[bytes]) -> dict[bytes, list[bytes]]:
    """Send each tagged line, collect every response line up to its tagged answer."""
    raw = Raw(port)
    out: dict[bytes, list[bytes]] = {}
    for line in lines:
        tag = line.split(b" ", 1)[0]
        raw.send(line + b"\r\n")
        out[tag] = raw.until_tagged(tag)
    raw.close()
    return out


async def test_id_namespace_enable_and_utf8_mailbox_names(
        imap: LiveImap, store: Store, account) -> None:
    await store.folders.create(account.id, "Entwürfe")
    out = await client_thread(lambda: transcript(imap.port, [
        f'a LOGIN ann@example.com "{PASSWORD}"'.encode(),
        b'b ID ("name" "test")',
        b"c NAMESPACE",
        b'd LIST "" "Entw*"',
        b"e ENABLE UTF8=ACCEPT CONDSTORE X-UNKNOWN",
        b'f LIST "" "Entw*"',
        "g STATUS \"Entwürfe\" (MESSAGES)".encode(),
        b'h LIST "" ""',
    ]))
    assert out[b"b"][0].startswith(b'* ID ("name" "Tidings"')
    assert out[b"c"][0] == \
        b'* NAMESPACE (("" "/")) (("Other Users/" "/")) (("Shared Folders/" "/"))\r\n'
    assert out[b"d"][0] == b'* LIST (\\HasNoChildren) "/" "Entw&APw-rfe"\r\n'
    assert out[b"e"][0] == b"* ENABLED UTF8=ACCEPT CONDSTORE\r\n"
    assert out[b"f"][0] == '* LIST (\\HasNoChildren) "/" "Entwürfe"\r\n'.encode()
    assert out[b"g"][0] == '* STATUS "Entwürfe" (MESSAGES 0)\r\n'.encode()
    assert out[b"h"][0] == b'* LIST (\\Noselect) "/" ""\r\n'


async def test_condstore_changedsince_modseq_search_and_searchres(
        imap: LiveImap, store: Store, account) -> None:
    folder = await inbox(store, account)
    await deliver(store, folder, [simple_message(f"m{i}") for i in range(4)])
    base = (await store.folders.get_by_id(folder)).highestmodseq
    await store.messages.store_flags(folder, [3], ["\\Flagged"])
    out = await client_thread(lambda: transcript(imap.port, [
        f'a LOGIN ann@example.com "{PASSWORD}"'.encode(),
        b"b SELECT INBOX (CONDSTORE)",
        f"c FETCH 1:* (FLAGS) (CHANGEDSINCE {base})".encode(),
        f"d SEARCH MODSEQ {base + 1}".encode(),
        b"e UID SEARCH RETURN (SAVE) FLAGGED",
        b"f UID FETCH $ (UID)",
        b"g FETCH 1 (FLAGS)",
    ]))
    assert any(line.startswith(f"* OK [HIGHESTMODSEQ {base + 1}]".encode())
               for line in out[b"b"])
    assert out[b"c"][:-1] == [
        f"* 3 FETCH (FLAGS (\\Flagged \\Recent) MODSEQ ({base + 1}))\r\n".encode()]
    assert out[b"d"][0] == f"* SEARCH 3 (MODSEQ {base + 1})\r\n".encode()
    assert out[b"e"] == [out[b"e"][-1]] and out[b"e"][-1].startswith(b"e OK")
    assert out[b"f"][0].startswith(b"* 3 FETCH (UID 3")
    assert re.match(rb"\* 1 FETCH \(FLAGS \(\\Recent\) MODSEQ \(\d+\)\)", out[b"g"][0])


async def test_imap4rev2_search_answers_with_esearch(
        imap: LiveImap, store: Store, account) -> None:
    folder = await inbox(store, account)
    await deliver(store, folder, [simple_message(f"m{i}") for i in range(3)])
    out = await client_thread(lambda: transcript(imap.port, [
        f'a LOGIN ann@example.com "{PASSWORD}"'.encode(),
        b"b ENABLE IMAP4rev2",
        b"c SELECT INBOX",
        b"d SEARCH ALL",
    ]))
    assert not any(b"RECENT" in line for line in out[b"c"])
    assert out[b"d"][0] == b'* ESEARCH (TAG "d") ALL 1:3\r\n'


async def test_select_lists_the_mailbox_with_the_attributes_list_gives_it(
        imap: LiveImap, store: Store, account) -> None:
    """Seen in mbsync's transcript: SELECT answered ``* LIST () "/" "Drafts"``."""
    await store.folders.create(account.id, "lists")
    await store.folders.create(account.id, "lists/kernel")
    out = await client_thread(lambda: transcript(imap.port, [
        f'a LOGIN ann@example.com "{PASSWORD}"'.encode(),
        b"b ENABLE IMAP4rev2",
        b"c SELECT Drafts",
        b"d EXAMINE lists",
        b"e SELECT lists/kernel",
        b'f LIST "" (Drafts lists lists/kernel)',
    ]))
    selected = [line for tag in (b"c", b"d", b"e") for line in out[tag]
                if line.startswith(b"* LIST ")]
    # RFC 9051 §6.3.2: "The list of mailbox attributes MUST be accurate."
    assert selected == [b'* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"\r\n',
                        b'* LIST (\\HasChildren) "/" "lists"\r\n',
                        b'* LIST (\\HasNoChildren) "/" "lists/kernel"\r\n']
    assert selected == out[b"f"][:-1]


async def test_rev1_select_names_the_first_unseen_message_and_rev2_does_not(
        imap: LiveImap, store: Store, account) -> None:
    folder = (await store.folders.get(account.id, "INBOX")).id
    for n in range(3):
        await store.messages.append(folder, simple_message(f"m{n}"),
                                    flags=["\\Seen"] if n == 0 else [])
    login = f'a LOGIN ann@example.com "{PASSWORD}"'.encode()
    rev1 = await client_thread(lambda: transcript(imap.port, [login, b"b SELECT INBOX"]))
    rev2 = await client_thread(lambda: transcript(imap.port, [
        login, b"b ENABLE IMAP4rev2", b"c SELECT INBOX"]))
    # RFC 3501 §6.3.1: the sequence number of the first unseen message.
    assert b"* OK [UNSEEN 2] First unseen\r\n" in rev1[b"b"]
    assert not any(line.startswith(b"* LIST") for line in rev1[b"b"])
    assert not any(b"UNSEEN" in line for line in rev2[b"c"])
