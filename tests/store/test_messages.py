"""Messages in folders: append, copy, move, flags, expunge, quota, the change log."""

from __future__ import annotations

import asyncio

import pytest

from mailstore import flags
from mailstore.errors import QuotaExceeded
from mailstore.store import Store

RAW = b"From: Ann <ann@example.com>\r\nSubject: Hello\r\n\r\nHello there\r\n"


def raw(n: int) -> bytes:
    return f"From: a@example.com\r\nSubject: message {n}\r\n\r\nbody {n}\r\n".encode()


async def inbox_id(store: Store, account) -> int:
    return (await store.folders.get(account.id, "INBOX")).id


async def test_append_stores_the_bytes_exactly_and_assigns_increasing_uids(
        store: Store, account) -> None:
    folder = await inbox_id(store, account)
    first = await store.messages.append(folder, RAW)
    second = await store.messages.append(folder, raw(2))
    assert (first.uid, second.uid) == (1, 2)
    stored = await store.messages.get(folder, 1)
    assert store.messages.read_raw(stored.sha256) == RAW
    info = await store.folders.get_by_id(folder)
    assert (info.uidnext, info.messages, info.unseen, info.size) == (
        3, 2, 2, len(RAW) + len(raw(2)))


async def test_copies_share_one_blob_until_the_last_is_expunged(store: Store, account) -> None:
    folder = await inbox_id(store, account)
    archive = (await store.folders.get(account.id, "Archive")).id
    await store.messages.append(folder, RAW)
    assert await store.messages.copy(folder, [1], archive) == [(1, 1)]
    assert len(store.blobs.files()) == 1
    await store.messages.store_flags(folder, [1], ["\\Deleted"])
    assert await store.messages.expunge(folder) == [1]
    assert len(store.blobs.files()) == 1
    await store.messages.delete(archive, [1])
    assert store.blobs.files() == []


async def test_move_expunges_from_source_and_records_the_tombstone(store: Store,
                                                                   account) -> None:
    folder = await inbox_id(store, account)
    trash = (await store.folders.get(account.id, "Trash")).id
    await store.messages.append(folder, RAW)
    before = (await store.folders.get_by_id(folder)).highestmodseq
    assert await store.messages.move(folder, [1], trash) == [(1, 1)]
    changes = await store.messages.changes_since(folder, before)
    assert changes.expunged == [1] and changes.highestmodseq > before
    assert (await store.folders.get_by_id(trash)).messages == 1


async def test_flag_changes_bump_modseq_and_show_in_changes_since(store: Store,
                                                                  account) -> None:
    folder = await inbox_id(store, account)
    for n in range(3):
        await store.messages.append(folder, raw(n))
    mark = (await store.folders.get_by_id(folder)).highestmodseq
    changed = await store.messages.store_flags(folder, [2, 3], ["\\Seen", "$Work"])
    assert [c.uid for c in changed] == [2, 3]
    assert flags.join_flags(changed[0].flags, changed[0].keywords) == ["\\Seen", "$Work"]
    changes = await store.messages.changes_since(folder, mark)
    assert [c.uid for c in changes.changed] == [2, 3]
    assert (await store.folders.get_by_id(folder)).unseen == 1
    # Setting flags that are already there changes nothing and bumps nothing.
    assert await store.messages.store_flags(folder, [2], ["\\Seen"]) == []
    replaced = await store.messages.store_flags(folder, [2], ["\\Flagged"], "replace")
    assert flags.join_flags(replaced[0].flags, replaced[0].keywords) == ["\\Flagged"]
    assert (await store.folders.get_by_id(folder)).unseen == 2


async def test_unchangedsince_leaves_newer_messages_alone(store: Store, account) -> None:
    folder = await inbox_id(store, account)
    await store.messages.append(folder, raw(1))
    mark = (await store.folders.get_by_id(folder)).highestmodseq
    await store.messages.store_flags(folder, [1], ["\\Seen"])
    assert await store.messages.store_flags(
        folder, [1], ["\\Flagged"], unchanged_since=mark) == []


async def test_expunge_removes_only_deleted_messages(store: Store, account) -> None:
    folder = await inbox_id(store, account)
    for n in range(4):
        await store.messages.append(folder, raw(n))
    await store.messages.store_flags(folder, [1, 3, 4], ["\\Deleted"])
    assert await store.messages.expunge(folder, uids=[3, 4]) == [3, 4]
    assert await store.messages.uids(folder) == [1, 2]


async def test_quota_is_enforced_with_nothing_half_written(store: Store) -> None:
    await store.accounts.add_domain("example.com")
    small = await store.accounts.create("bob@example.com", "password123", quota_bytes=100)
    folder = (await store.folders.get(small.id, "INBOX")).id
    await store.messages.append(folder, b"Subject: a\r\n\r\n" + b"x" * 50)
    with pytest.raises(QuotaExceeded, match="bob@example.com is full"):
        await store.messages.append(folder, b"Subject: b\r\n\r\n" + b"y" * 60)
    info = await store.folders.get_by_id(folder)
    assert (info.messages, info.uidnext) == (1, 2)
    assert len(store.blobs.files()) in (1, 2)  # an orphan blob at most
    assert (await store.accounts.get("bob@example.com")).used_bytes == 64


async def test_concurrent_appends_get_distinct_increasing_uids(store: Store, account) -> None:
    folder = await inbox_id(store, account)
    results = await asyncio.gather(*(store.messages.append(folder, raw(n)) for n in range(40)))
    uids = sorted(r.uid for r in results)
    assert uids == list(range(1, 41))


async def test_page_lists_newest_first(store: Store, account) -> None:
    folder = await inbox_id(store, account)
    for n in range(5):
        await store.messages.append(folder, raw(n), internal_date=1_700_000_000 + n)
    page = await store.messages.page(folder, offset=1, limit=2)
    assert [m.uid for m in page] == [4, 3]
    assert page[0].subject == "message 3"


async def test_uids_lists_every_uid_in_order_and_nothing_for_an_empty_folder(
        store: Store, account) -> None:
    folder = await inbox_id(store, account)
    assert await store.messages.uids(folder) == []
    for n in range(12):
        await store.messages.append(folder, raw(n))
    await store.messages.delete(folder, [3, 7])
    assert await store.messages.uids(folder) == [1, 2, 4, 5, 6, 8, 9, 10, 11, 12]


async def test_sort_fields_come_from_the_parsed_cache_for_the_asked_uids(
        store: Store, account) -> None:
    folder = await inbox_id(store, account)
    await store.messages.append(folder, raw(1), internal_date=1_700_000_000)
    await store.messages.append(folder, (
        b"From: Zoe Z <Zoe@Example.org>\r\nTo: bob@example.org, c@example.org\r\n"
        b"Cc: Carl <carl@example.org>\r\nSubject: Re: [list] Fwd: Plans\r\n"
        b"Date: Mon, 03 Jun 2024 10:00:00 +0000\r\nMessage-ID: <m2@x>\r\n"
        b"In-Reply-To: <m1@x>\r\nReferences: <m0@x>\r\n <m1@x>\r\n\r\nbody\r\n"))
    await store.messages.append(folder, raw(3))
    rows = await store.messages.sort_fields(folder, [2, 1, 99])
    assert [r.uid for r in rows] == [1, 2]
    first, second = rows
    assert first.sent_date is None and first.internal_date == 1_700_000_000
    assert first.references == () and first.message_id == ""
    assert second.sent_date == 1717408800
    assert (second.subject_base, second.sort_from, second.sort_to, second.sort_cc) == (
        "Plans", "zoe", "bob", "carl")
    assert second.from_display == "Zoe Z"
    assert (second.message_id, second.in_reply_to, second.references) == (
        "<m2@x>", "<m1@x>", ("<m0@x>", "<m1@x>"))
    assert await store.messages.sort_fields(folder, []) == []


async def test_deleted_usage_counts_and_sums_only_deleted_messages(store: Store,
                                                                   account) -> None:
    folder = await inbox_id(store, account)
    assert await store.messages.deleted_usage(folder) == (0, 0)
    for n in range(1, 4):
        await store.messages.append(folder, raw(n))
    await store.messages.store_flags(folder, [1, 3], ["\\Deleted", "\\Seen"])
    await store.messages.store_flags(folder, [2], ["\\Seen"])
    assert await store.messages.deleted_usage(folder) == (2, len(raw(1)) + len(raw(3)))
