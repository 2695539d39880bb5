"""SORT and THREAD (RFC 5256) with real clients, on both backends."""

from __future__ import annotations

from imapclient import IMAPClient

from mailstore.store import Store
from tests.imap.conftest import PASSWORD, LiveImap, client_thread, deliver, inbox
from tests.imap.test_extensions import transcript


def message(msgid: str, subject: str, sender: str, date: str, size_pad: int = 0,
            refs: str = "", cc: str = "") -> bytes:
    head = (f"From: {sender}\r\nTo: Ann <ann@example.com>\r\nSubject: {subject}\r\n"
            f"Date: {date}\r\nMessage-ID: {msgid}\r\n")
    if refs:
        head += f"References: {refs}\r\n"
    if cc:
        head += f"Cc: {cc}\r\n"
    return (head + "\r\n" + "body\r\n" + "x" * size_pad).encode()


MESSAGES = [
    # uid 1..6; arrival (INTERNALDATE) ascends with the UID.
    message("<a@x>", "Plans", "Zoe <zoe@example.org>", "Mon, 03 Jun 2024 10:00:00 +0000",
            size_pad=500),
    message("<b@x>", "Re: Plans", "amy@example.org", "Mon, 03 Jun 2024 12:00:00 +0000",
            refs="<a@x>", cc="carl@example.org"),
    message("<c@x>", "Budget", "Bob <bob@example.org>", "Sun, 02 Jun 2024 09:00:00 +0000",
            size_pad=200),
    message("<d@x>", "Re: Plans", "zoe@example.org", "Mon, 03 Jun 2024 11:00:00 +0000",
            refs="<a@x> <b@x>", cc="anna@example.org"),
    message("<e@x>", "[team] budget", "carl@example.org", "Tue, 04 Jun 2024 09:00:00 +0000"),
    message("<f@x>", "Re: Lost", "dan@example.org", "Tue, 04 Jun 2024 08:00:00 +0000",
            refs="<gone@x>"),
]


async def test_sort_orders_by_each_key_with_reverse_and_search_criteria(
        imap: LiveImap, store: Store, account) -> None:
    await deliver(store, await inbox(store, account), MESSAGES)

    def scenario() -> dict[str, object]:
        with IMAPClient("127.0.0.1", imap.port, ssl=False, timeout=20) as client:
            client.login("ann@example.com", PASSWORD)
            client.select_folder("INBOX")
            out: dict[str, object] = {"caps": client.capabilities()}
            for key in ("ARRIVAL", "DATE", "SUBJECT", "FROM", "SIZE", "CC", "TO",
                        "DISPLAYFROM"):
                out[key] = client.sort([key])
            out["reverse"] = client.sort(["REVERSE SUBJECT", "DATE"])
            client.add_flags([2, 4], ["\\Seen"])
            out["unseen"] = client.sort(["DATE"], ["UNSEEN"])
            out["or"] = client.sort(["REVERSE ARRIVAL"], ["OR", "FROM", "zoe", "SUBJECT",
                                                           "budget"])
            client.use_uid = False
            out["seq"] = client.sort(["DATE"], ["2:5"])
        return out

    out = await client_thread(scenario)
    assert b"SORT" in out["caps"]
    assert out["ARRIVAL"] == [1, 2, 3, 4, 5, 6]
    assert out["DATE"] == [3, 1, 4, 2, 6, 5]
    # Base subjects: budget (3, 5), lost (6), plans (1, 2, 4); ties in mailbox order.
    assert out["SUBJECT"] == [3, 5, 6, 1, 2, 4]
    assert out["FROM"] == [2, 3, 5, 6, 1, 4]  # amy bob carl dan zoe zoe
    assert out["SIZE"][-2:] == [3, 1]
    assert out["CC"] == [1, 3, 5, 6, 4, 2]  # no Cc first, then anna, carl
    assert out["TO"] == [1, 2, 3, 4, 5, 6]  # all the same: mailbox order
    assert out["DISPLAYFROM"] == [2, 3, 5, 6, 1, 4]  # amy@ Bob carl@ dan@ Zoe zoe@
    assert out["reverse"] == [1, 4, 2, 6, 3, 5]
    assert out["unseen"] == [3, 1, 6, 5]
    assert out["or"] == [5, 4, 3, 1]
    assert out["seq"] == [3, 4, 2, 5]


async def test_sort_in_a_session_with_expunged_messages_uses_its_sequence_numbers(
        imap: LiveImap, store: Store, account) -> None:
    folder = await inbox(store, account)
    await deliver(store, folder, MESSAGES)
    await store.messages.store_flags(folder, [1, 3], ["\\Deleted"])
    await store.messages.expunge(folder)

    def scenario() -> tuple[list, list]:
        imap_ = imap.login()
        imap_.select("INBOX")
        typ, seq = imap_.sort("(DATE)", "UTF-8", "ALL")
        typ, uid = imap_.uid("SORT", "(DATE)", "UTF-8", "ALL")
        imap_.logout()
        return seq, uid

    seq, uid = await client_thread(scenario)
    assert uid == [b"4 2 6 5"]
    assert seq == [b"2 1 4 3"]  # UIDs 2 4 5 6 are messages 1 2 3 4


async def test_sort_and_thread_refuse_unknown_charsets_and_bad_syntax(
        imap: LiveImap, store: Store, account) -> None:
    await deliver(store, await inbox(store, account), MESSAGES[:2])

    def scenario() -> list[tuple[str, list]]:
        imap_ = imap.login()
        imap_.select("INBOX")
        out = []
        for command in ("SORT (DATE) KOI8-R ALL", "THREAD REFERENCES ISO-8859-1 ALL",
                        "SORT (NOSUCHKEY) UTF-8 ALL", "THREAD REFERENCES UTF-8"):
            tag = imap_._new_tag()
            imap_.send(tag + b" " + command.encode() + b"\r\n")
            while True:
                line = imap_.readline()
                if line.startswith(tag):
                    out.append((command, line))
                    break
        imap_.logout()
        return out

    results = await client_thread(scenario)
    assert results[0][1].split(b" ", 2)[1:] == [b"NO", b"[BADCHARSET (UTF-8 US-ASCII)] Only "
                                                      b"UTF-8 and US-ASCII are supported\r\n"]
    assert b" NO [BADCHARSET" in results[1][1]
    assert b" BAD " in results[2][1] and b"unknown sort key" in results[2][1]
    assert b" BAD " in results[3][1]


async def test_thread_references_and_orderedsubject_with_imapclient(
        imap: LiveImap, store: Store, account) -> None:
    await deliver(store, await inbox(store, account), MESSAGES)

    def scenario() -> dict[str, object]:
        with IMAPClient("127.0.0.1", imap.port, ssl=False, timeout=20) as client:
            client.login("ann@example.com", PASSWORD)
            client.select_folder("INBOX")
            out: dict[str, object] = {"caps": client.capabilities()}
            out["references"] = client.thread("REFERENCES")
            out["ordered"] = client.thread("ORDEREDSUBJECT")
            out["subset"] = client.thread("REFERENCES", ["NOT", "FROM", "amy"])
            client.use_uid = False
            out["seq"] = client.thread("REFERENCES", ["2:*"])
        return out

    out = await client_thread(scenario)
    assert b"THREAD=REFERENCES" in out["caps"] and b"THREAD=ORDEREDSUBJECT" in out["caps"]
    # 1 <- 2 <- 4 by References; 3 and 5 share the base subject "budget" (neither a reply):
    # a dummy holds both; 6's parent <gone@x> is missing, so it stands alone.
    assert out["references"] == (((3,), (5,)), (1, 2, 4), (6,))
    assert out["ordered"] == ((3, 5), (1, (4,), (2,)), (6,))
    # Without 2, 4 still hangs under 1 by its References.
    assert out["subset"] == (((3,), (5,)), (1, 4), (6,))
    # Without 1, message 2 heads the thread of 2 and 4.
    assert out["seq"] == (((3,), (5,)), (2, 4), (6,))


async def test_raw_thread_response_shows_dummies_and_nesting(
        imap: LiveImap, store: Store, account) -> None:
    await deliver(store, await inbox(store, account), MESSAGES)

    def scenario() -> tuple[list, list]:
        imap_ = imap.login()
        imap_.select("INBOX")
        typ, refs = imap_.uid("THREAD", "REFERENCES", "UTF-8", "ALL")
        typ, ordered = imap_.uid("THREAD", "ORDEREDSUBJECT", "UTF-8", "ALL")
        imap_.logout()
        return refs, ordered

    refs, ordered = await client_thread(scenario)
    assert refs == [b"((3)(5))(1 2 4)(6)"]
    # ORDEREDSUBJECT: every later message of a subject is a child of the first.
    assert ordered == [b"(3 5)(1 (4)(2))(6)"]


async def test_sort_needs_a_selected_mailbox(imap: LiveImap, store: Store, account) -> None:
    out = await client_thread(lambda: transcript(imap.port, [
        f'a LOGIN ann@example.com "{PASSWORD}"'.encode(),
        b"b SORT (DATE) UTF-8 ALL",
        b"c UID THREAD REFERENCES UTF-8 ALL",
    ]))
    assert out[b"b"] == [b"b BAD SORT is not allowed now: select a mailbox first\r\n"]
    assert out[b"c"] == [b"c BAD THREAD is not allowed now: select a mailbox first\r\n"]


async def test_esort_returns_min_max_count_and_all_in_sort_order(
        imap: LiveImap, store: Store, account) -> None:
    await deliver(store, await inbox(store, account), MESSAGES)
    out = await client_thread(lambda: transcript(imap.port, [
        f'a LOGIN ann@example.com "{PASSWORD}"'.encode(),
        b"b SELECT INBOX",
        b"c UID SORT RETURN (MIN MAX COUNT) (DATE) UTF-8 ALL",
        b"d SORT RETURN () (REVERSE SIZE) UTF-8 NOT FROM amy",
        b"e SORT RETURN (ALL COUNT) (DATE) UTF-8 SUBJECT nothing-like-this",
    ]))
    # DATE order is 3 1 4 2 6 5: MIN and MAX are the first and the last in that order.
    assert out[b"c"][0] == b'* ESEARCH (TAG "c") UID MIN 3 MAX 5 COUNT 6\r\n'
    assert out[b"d"][0] == b'* ESEARCH (TAG "d") ALL 1,3,4,6,5\r\n'  # 638 339 183 157 141
    assert out[b"e"][0] == b'* ESEARCH (TAG "e") COUNT 0\r\n'
