"""Changing mailboxes: STORE, SEARCH, COPY/MOVE/EXPUNGE (UIDPLUS), APPEND, several sessions."""

from __future__ import annotations

import re

import pytest
from imapclient import IMAPClient

from mailstore.store import Store
from tests.imap.conftest import (
    PASSWORD,
    LiveImap,
    client_thread,
    deliver,
    inbox,
    simple_message,
)


async def test_flags_stored_by_one_session_reach_another_on_noop(
        imap: LiveImap, store: Store, account) -> None:
    folder = await inbox(store, account)
    await deliver(store, folder, [simple_message(f"m{i}") for i in range(3)])

    def scenario():
        with IMAPClient("127.0.0.1", imap.port, ssl=False, timeout=20) as a, \
                IMAPClient("127.0.0.1", imap.port, ssl=False, timeout=20) as b:
            a.login("ann@example.com", PASSWORD)
            b.login("ann@example.com", PASSWORD)
            a.select_folder("INBOX")
            b.select_folder("INBOX")
            stored = a.add_flags([2], [b"\\Flagged", b"$Important"])
            removed = a.remove_flags([2], [b"$Important"])
            _, updates = b.noop()
            return stored, removed, updates

    stored, removed, updates = await client_thread(scenario)
    # a selected first: the three messages are \Recent to a (RFC 3501 §2.3.2), not to b.
    assert set(stored[2]) == {b"\\Flagged", b"$Important", b"\\Recent"}
    assert removed[2] == (b"\\Flagged", b"\\Recent")
    fetches = [u for u in updates if u[1] == b"FETCH"]
    assert fetches, updates
    seq, _, data = fetches[-1]
    assert seq == 2 and b"\\Flagged" in data[data.index(b"FLAGS") + 1]
    message = await store.messages.get(folder, 2)
    assert message.flags & 4 and message.keywords == ""


async def test_store_silent_and_unchangedsince(imap: LiveImap, store: Store, account) -> None:
    folder = await inbox(store, account)
    await deliver(store, folder, [simple_message(f"m{i}") for i in range(2)])
    modseq = (await store.folders.get_by_id(folder)).highestmodseq

    def scenario():
        client = imap.login()
        client.select("INBOX")
        typ, silent = client.store("1", "+FLAGS.SILENT", "(\\Seen)")
        typ, data = client._simple_command(
            "UID", "STORE", "1:2", f"(UNCHANGEDSINCE {modseq})", "+FLAGS", "(\\Answered)")
        client.logout()
        return silent, data

    silent, conditional = await client_thread(scenario)
    assert silent == [None]
    assert b"[MODIFIED 1]" in conditional[0]
    assert (await store.messages.get(folder, 2)).flags & 2
    assert not (await store.messages.get(folder, 1)).flags & 2


async def test_search_keys_translate_to_store_criteria(
        imap: LiveImap, store: Store, account) -> None:
    folder = await inbox(store, account)
    await deliver(store, folder, [
        simple_message("Quarterly report", "numbers inside\r\n", "Carol <carol@example.net>"),
        simple_message("Lunch", "pizza?\r\n", "Bob <bob@example.org>"),
        simple_message("Re: Quarterly report", "thanks\r\n", "Bob <bob@example.org>"),
        simple_message("Holiday", "sun\r\n", "Dave <dave@example.com>"),
    ])
    await store.messages.store_flags(folder, [2], ["\\Seen"])

    def scenario():
        client = imap.login()
        client.select("INBOX")
        answers = {}
        for query in ['SUBJECT "quarterly"', "FROM bob UNSEEN", "OR FROM carol FROM dave",
                      "NOT SEEN NOT FROM bob", "2:3", "UID 3:*", "BODY pizza", "SEEN",
                      'HEADER Subject "re:"', "LARGER 1 SMALLER 100000", "ALL",
                      "SINCE 1-Jan-2020 BEFORE 1-Jan-2100", "(FROM bob) (NOT SEEN)"]:
            typ, data = client.search(None, query)
            answers[query] = [int(n) for n in data[0].split()]
        client.uid("SEARCH", "RETURN", "(MIN MAX COUNT)", "FROM", "bob")
        answers["esearch"] = client.untagged_responses.pop("ESEARCH")
        typ, data = client.search("KOI8-R", "ALL")
        answers["charset"] = f"{typ} {client.untagged_responses.pop('NO', data)}"
        client.logout()
        return answers

    answers = await client_thread(scenario)
    assert answers['SUBJECT "quarterly"'] == [1, 3]
    assert answers["FROM bob UNSEEN"] == [3]
    assert answers["OR FROM carol FROM dave"] == [1, 4]
    assert answers["NOT SEEN NOT FROM bob"] == [1, 4]
    assert answers["2:3"] == [2, 3]
    assert answers["UID 3:*"] == [3, 4]
    assert answers["BODY pizza"] == [2]
    assert answers["SEEN"] == [2]
    assert answers['HEADER Subject "re:"'] == [3]
    assert answers["LARGER 1 SMALLER 100000"] == [1, 2, 3, 4]
    assert answers["ALL"] == [1, 2, 3, 4]
    assert answers["SINCE 1-Jan-2020 BEFORE 1-Jan-2100"] == [1, 2, 3, 4]
    assert answers["(FROM bob) (NOT SEEN)"] == [3]
    assert re.fullmatch(rb'\(TAG "\w+"\) UID MIN 2 MAX 3 COUNT 2', answers["esearch"][0])
    assert "BADCHARSET" in answers["charset"]


async def test_copy_move_and_expunge_answer_with_uidplus_codes(
        imap: LiveImap, store: Store, account) -> None:
    folder = await inbox(store, account)
    await deliver(store, folder, [simple_message(f"m{i}") for i in range(5)])
    archive = await store.folders.get(account.id, "Archive")
    trash = await store.folders.get(account.id, "Trash")

    def scenario():
        client = imap.login()
        client.select("INBOX")
        copied = client.copy("1:2", "Archive")
        moved = client.uid("MOVE", "3", "Trash")
        moved_untagged = client.untagged_responses.pop("OK", None)
        moved_expunge = client.untagged_responses.pop("EXPUNGE", None)
        client.store("1", "+FLAGS", "(\\Deleted)")
        client.store("2", "+FLAGS", "(\\Deleted)")
        client.uid("EXPUNGE", "2")
        uid_expunged = client.untagged_responses.pop("EXPUNGE")
        expunged = client.expunge()
        typ, left = client.uid("SEARCH", "ALL")
        missing = client.copy("1", "Nowhere")
        client.logout()
        return copied, moved, moved_untagged, moved_expunge, uid_expunged, expunged, left, \
            missing

    copied, moved, moved_untagged, moved_expunge, uid_expunged, expunged, left, missing = \
        await client_thread(scenario)
    assert moved_expunge == [b"3"]
    assert copied[0] == "OK" and copied[1][0].startswith(
        f"[COPYUID {archive.uidvalidity} 1:2 1:2]".encode())
    assert moved[0] == "OK"
    assert any(f"[COPYUID {trash.uidvalidity} 3 1]".encode() in r for r in moved_untagged)
    assert uid_expunged == [b"2"]  # sequence number 2 (UID 2) went
    assert expunged[1] == [b"1"]
    assert left[0] == b"4 5"
    assert missing[0] == "NO" and b"TRYCREATE" in missing[1][0]
    assert await store.messages.uids(archive.id) == [1, 2]
    assert await store.messages.uids(trash.id) == [1]


async def test_append_with_flags_and_date_returns_appenduid(
        imap: LiveImap, store: Store, account) -> None:
    sent = await store.folders.get(account.id, "Sent")
    raw = simple_message("Sent by a client")

    def scenario():
        client = imap.login()
        result = client.append("Sent", "(\\Seen $Draftish)", '"17-May-2024 09:30:00 +0200"',
                               raw)
        missing = client.append("Nowhere", None, None, raw)
        client.logout()
        return result, missing

    result, missing = await client_thread(scenario)
    assert result[0] == "OK"
    assert result[1][0].startswith(f"[APPENDUID {sent.uidvalidity} 1]".encode())
    assert missing[0] == "NO" and b"TRYCREATE" in missing[1][0]
    message = await store.messages.get(sent.id, 1)
    assert store.messages.read_raw(message.sha256) == raw
    assert message.flags == 1 and message.keywords == "$Draftish"
    assert message.internal_date == 1715931000


async def test_append_over_quota_is_refused_with_overquota(
        imap: LiveImap, store: Store) -> None:
    await store.accounts.create("tiny@example.com", PASSWORD, quota_bytes=500)

    def scenario():
        client = imap.login("tiny@example.com")
        result = client.append("INBOX", None, None, simple_message("big", "x" * 1000))
        client.logout()
        return result

    result = await client_thread(scenario)
    assert result[0] == "NO" and result[1][0].startswith(b"[OVERQUOTA]")


async def test_mailbox_management_create_rename_delete_subscribe(
        imap: LiveImap, store: Store, account) -> None:
    def scenario():
        with IMAPClient("127.0.0.1", imap.port, ssl=False, timeout=20) as client:
            client.login("ann@example.com", PASSWORD)
            client.create_folder("Clients/Acme")
            client.rename_folder("Clients", "Customers")
            client.unsubscribe_folder("Customers/Acme")
            client.create_folder("Ünïcode")
            with pytest.raises(IMAPClient.Error) as exists:
                client.create_folder("Customers")
            with pytest.raises(IMAPClient.Error) as inbox_gone:
                client.delete_folder("INBOX")
            client.delete_folder("Customers/Acme")
            return str(exists.value), str(inbox_gone.value)

    exists, inbox_gone = await client_thread(scenario)
    assert "ALREADYEXISTS" in exists and "CANNOT" in inbox_gone
    names = [f.name for f in await store.folders.list(account.id)]
    assert "Customers" in names and "Customers/Acme" not in names and "Ünïcode" in names


async def test_the_namespaces_kept_for_sharing_take_no_personal_folders(
        imap: LiveImap, store: Store, account) -> None:
    def scenario() -> list[str]:
        with IMAPClient("127.0.0.1", imap.port, ssl=False, timeout=20) as client:
            client.login("ann@example.com", PASSWORD)
            assert client.namespace().other[0][0] == "Other Users/"
            assert client.namespace().shared[0][0] == "Shared Folders/"
            client.create_folder("Projects")
            refusals = []
            for attempt in (lambda: client.create_folder("Other Users/bob"),
                            lambda: client.create_folder("shared folders"),
                            lambda: client.rename_folder("Projects", "Shared Folders/x")):
                with pytest.raises(IMAPClient.Error) as refused:
                    attempt()
                refusals.append(str(refused.value))
            return refusals

    for refusal in await client_thread(scenario):
        assert "is kept for folders that others share with you" in refusal
    names = [f.name for f in await store.folders.list(account.id)]
    assert "Projects" in names and not any(n.startswith(("Other", "Shared")) for n in names)


async def test_expunge_by_another_session_waits_during_fetch_and_arrives_on_noop(
        imap: LiveImap, store: Store, account) -> None:
    folder = await inbox(store, account)
    await deliver(store, folder, [simple_message(f"m{i}") for i in range(3)])

    def scenario():
        a, b = imap.login(), imap.login()
        a.select("INBOX")
        b.select("INBOX")
        b.store("2", "+FLAGS", "(\\Deleted)")
        b.expunge()
        typ, during = a.fetch("1:3", "(FLAGS)")
        during_expunges = a.untagged_responses.pop("EXPUNGE", None)
        a.noop()
        after = a.untagged_responses.pop("EXPUNGE", None)
        typ, now = a.fetch("1:*", "(UID)")
        a.logout()
        b.logout()
        return during, during_expunges, after, now

    during, during_expunges, after, now = await client_thread(scenario)
    assert during_expunges is None
    assert len([d for d in during if d]) == 2  # the expunged message is just not returned
    assert after == [b"2"]
    assert [re.search(rb"UID (\d+)", d).group(1) for d in now] == [b"1", b"3"]
