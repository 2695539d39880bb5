"""SELECT, LIST, STATUS and FETCH of every data item on real corpus messages."""

from __future__ import annotations

import email
import imaplib
import json
import re

from imapclient import IMAPClient

from mailstore.mime import section_bounds
from mailstore.mime.transfer import decode
from mailstore.store import Store
from tests.imap.conftest import (
    PASSWORD,
    LiveImap,
    client_thread,
    corpus_sample,
    deliver,
    inbox,
)


async def test_list_shows_special_use_children_and_subscriptions(
        imap: LiveImap, store: Store, account) -> None:
    await store.folders.create(account.id, "Projects/2024")
    await store.folders.create(account.id, "Grüße")
    await store.folders.subscribe(account.id, "Projects", False)

    def scenario():
        with IMAPClient("127.0.0.1", imap.port, ssl=False, timeout=20) as client:
            client.login("ann@example.com", PASSWORD)
            folders = client.list_folders()
            subscribed = client.list_sub_folders()
            special = client.find_special_folder(b"\\Sent")
            raw = client._imap
            typ, extended = raw._simple_command("LIST", "(SPECIAL-USE)", '""', "*")
            ext = raw._untagged_response(typ, extended, "LIST")[1]
            typ, status = raw._simple_command(
                "LIST", '""', "%", "RETURN", "(STATUS (MESSAGES UIDNEXT))")
            st = raw._untagged_response(typ, status, "STATUS")[1]
            return folders, subscribed, special, ext, st

    folders, subscribed, special, extended, status = await client_thread(scenario)
    by_name = {name: flags for flags, _delim, name in folders}
    assert by_name["INBOX"] == (b"\\HasNoChildren",)
    assert b"\\Sent" in by_name["Sent"] and b"\\Trash" in by_name["Trash"]
    assert b"\\HasChildren" in by_name["Projects"]
    assert b"\\HasNoChildren" in by_name["Projects/2024"]
    assert "Grüße" in by_name  # imapclient decodes modified UTF-7
    assert "Projects" not in {name for _f, _d, name in subscribed}
    assert special == "Sent"
    assert len(extended) == 5 and all(b"\\HasNoChildren" in line for line in extended)
    assert any(b'"INBOX" (MESSAGES 0 UIDNEXT 1)' in line for line in status)


async def test_select_reports_exists_uidvalidity_uidnext_and_highestmodseq(
        imap: LiveImap, store: Store, account) -> None:
    folder = await inbox(store, account)
    await deliver(store, folder, corpus_sample(5))
    info = await store.folders.get_by_id(folder)

    def scenario():
        with IMAPClient("127.0.0.1", imap.port, ssl=False, timeout=20) as client:
            client.login("ann@example.com", PASSWORD)
            selected = client.select_folder("INBOX")
            examined = client.select_folder("Sent", readonly=True)
            status = client.folder_status("INBOX", ["MESSAGES", "UIDNEXT", "UIDVALIDITY",
                                                    "UNSEEN", "SIZE", "HIGHESTMODSEQ"])
            return selected, examined, status

    selected, examined, status = await client_thread(scenario)
    assert selected[b"EXISTS"] == 5
    assert selected[b"UIDVALIDITY"] == info.uidvalidity
    assert selected[b"UIDNEXT"] == 6
    assert selected[b"HIGHESTMODSEQ"] == info.highestmodseq
    assert selected[b"READ-WRITE"] and b"\\Seen" in selected[b"PERMANENTFLAGS"]
    assert examined[b"READ-ONLY"] and examined[b"EXISTS"] == 0
    assert status[b"MESSAGES"] == 5 and status[b"UNSEEN"] == 5
    assert status[b"SIZE"] == info.size and status[b"UIDNEXT"] == 6


def _literals(data: list) -> dict[str, bytes]:
    """imaplib FETCH data: {item name: literal bytes} for one message."""
    out = {}
    for part in data:
        if isinstance(part, tuple):
            name = re.search(rb"([A-Z0-9.]+(?:\[[^\]]*\])?(?:<\d+>)?) \{\d+\}$", part[0])
            out[name.group(1).decode()] = part[1]
    return out


async def test_fetch_of_every_item_matches_the_stored_message_byte_for_byte(
        imap: LiveImap, store: Store, account) -> None:
    folder = await inbox(store, account)
    raws = corpus_sample(24)
    await deliver(store, folder, raws)
    stored = [await store.messages.get(folder, uid) for uid in range(1, 25)]

    def scenario():
        client = imap.login()
        client.select("INBOX")
        results = []
        for n in range(1, 25):
            typ, data = client.fetch(str(n), "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE "
                                     "BODYSTRUCTURE BODY MODSEQ BODY.PEEK[] "
                                     "BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[1] "
                                     "BODY.PEEK[1.MIME] BODY.PEEK[]<10.20> "
                                     "BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)] "
                                     "BINARY.PEEK[1] BINARY.SIZE[1])")
            assert typ == "OK"
            results.append(data)
        typ, flags_after_peek = client.fetch("1:*", "(FLAGS)")
        typ, rfc822 = client.fetch("1", "(RFC822 RFC822.HEADER RFC822.TEXT)")
        typ, flags_after_read = client.fetch("1:2", "(FLAGS)")
        client.logout()
        return results, flags_after_peek, rfc822, flags_after_read

    results, after_peek, rfc822, after_read = await client_thread(scenario)
    for raw, message, data in zip(raws, stored, results, strict=True):
        head = data[0][0] if isinstance(data[0], tuple) else data[0]
        text = b"".join(p[0] if isinstance(p, tuple) else p for p in data)
        # ENVELOPE and BODYSTRUCTURE are the cached parse, verbatim.
        assert message.envelope.encode() in text or "{" in message.envelope
        assert message.bodystructure.encode() in text or "{" in message.bodystructure
        assert f"RFC822.SIZE {len(raw)}".encode() in head
        assert f"UID {message.uid}".encode() in head
        assert f"MODSEQ ({message.modseq})".encode() in text
        assert b'INTERNALDATE "' in head
        parts = _literals(data)
        sections = json.loads(message.sections)
        assert parts["BODY[]"] == raw
        hs, he = section_bounds(sections, "", "HEADER")
        assert parts["BODY[HEADER]"] == raw[hs:he]
        ts, te = section_bounds(sections, "", "TEXT")
        assert parts["BODY[TEXT]"] == raw[ts:te]
        ps, pe = section_bounds(sections, "1", "")
        assert parts["BODY[1]"] == raw[ps:pe]
        assert parts["BODY[]<10>"] == raw[10:30]
        fields = parts["BODY[HEADER.FIELDS (SUBJECT FROM)]"]
        parsed = email.message_from_bytes(fields)
        original = email.message_from_bytes(raw)
        assert parsed["Subject"] == original["Subject"]
        assert set(k.lower() for k in parsed.keys()) <= {"subject", "from"}
        assert fields.endswith(b"\r\n")
        node_cte = _cte(sections, "1")
        assert parts["BINARY[1]"] == decode(raw[ps:pe], node_cte)
        assert f"BINARY.SIZE[1] {len(parts['BINARY[1]'])}".encode() in text
    assert all(b"\\Seen" not in line for line in after_peek)
    parts = _literals(rfc822)
    assert parts["RFC822"] == raws[0]
    assert raws[0].startswith(parts["RFC822.HEADER"])
    assert raws[0].endswith(parts["RFC822.TEXT"])
    assert b"\\Seen" in after_read[0] and b"\\Seen" not in after_read[1]


def _cte(sections: list, part: str) -> str:
    from mailstore.mime import find_part
    from mailstore.mime.sections import CTE

    return find_part(sections, part)[CTE]


async def test_imapclient_parses_every_envelope_and_bodystructure_of_the_sample(
        imap: LiveImap, store: Store, account) -> None:
    folder = await inbox(store, account)
    raws = corpus_sample(40)
    await deliver(store, folder, raws)

    def scenario():
        with IMAPClient("127.0.0.1", imap.port, ssl=False, timeout=20) as client:
            client.login("ann@example.com", PASSWORD)
            client.select_folder("INBOX")
            return client.fetch(client.search("ALL"),
                                ["ENVELOPE", "BODYSTRUCTURE", "RFC822.SIZE", "FLAGS"])

    fetched = await client_thread(scenario)
    assert len(fetched) == 40
    for uid, raw in zip(sorted(fetched), raws, strict=True):
        data = fetched[uid]
        assert data[b"RFC822.SIZE"] == len(raw)
        original = email.message_from_bytes(raw)
        if original["Message-ID"]:
            assert data[b"ENVELOPE"].message_id.decode().strip() == \
                " ".join(original["Message-ID"].split())
        assert data[b"BODYSTRUCTURE"] is not None


async def test_fetch_of_a_missing_part_is_empty_and_a_bad_sequence_is_bad(
        imap: LiveImap, store: Store, account) -> None:
    folder = await inbox(store, account)
    await deliver(store, folder, corpus_sample(2))

    def scenario():
        client = imap.login()
        client.select("INBOX")
        typ, data = client.fetch("1", "(BODY.PEEK[9.9])")
        try:
            client.fetch("3", "(FLAGS)")
            bad = None
        except imaplib.IMAP4.error as exc:
            bad = str(exc)
        client.logout()
        return data, bad

    data, bad = await client_thread(scenario)
    assert data[0] == b'1 (BODY[9.9] "")' or data[0][1] == b""
    assert bad is not None and "does not exist" in bad


async def test_envelope_and_bodystructure_come_from_the_cache_without_the_blob(
        imap: LiveImap, store: Store, account) -> None:
    folder = await inbox(store, account)
    await deliver(store, folder, corpus_sample(3))
    message = await store.messages.get(folder, 2)
    store.blobs.delete(message.sha256)  # FETCH of the cached items must not need it

    def scenario():
        client = imap.login()
        client.select("INBOX")
        typ, data = client.fetch("2", "(ENVELOPE BODYSTRUCTURE BODY RFC822.SIZE)")
        client.logout()
        return typ, data

    typ, data = await client_thread(scenario)
    text = b"".join(p[0] + p[1] if isinstance(p, tuple) else p for p in data)
    assert typ == "OK"
    assert b"ENVELOPE (" in text and b"BODYSTRUCTURE (" in text
