"""Folder change notifications: every writer wakes the folder's waiters after it commits."""

from __future__ import annotations

import asyncio

from mailstore.store import Store

RAW = b"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n"


async def test_append_flags_and_expunge_wake_a_waiter_of_that_folder_only(
        store: Store, account) -> None:
    inbox = (await store.folders.get(account.id, "INBOX")).id
    archive = (await store.folders.get(account.id, "Archive")).id
    with store.events.subscribe(inbox) as waiter, store.events.subscribe(archive) as other:
        await store.messages.append(inbox, RAW)
        assert await waiter.wait(1.0)
        await store.messages.store_flags(inbox, [1], ["\\Deleted"])
        assert await waiter.wait(1.0)
        await store.messages.expunge(inbox)
        assert await waiter.wait(1.0)
        assert not other.pending
        assert not await other.wait(0.05)


async def test_a_change_is_visible_in_the_change_log_when_the_waiter_wakes(
        store: Store, account) -> None:
    inbox = (await store.folders.get(account.id, "INBOX")).id
    before = (await store.folders.get_by_id(inbox)).highestmodseq
    with store.events.subscribe(inbox) as waiter:
        task = asyncio.create_task(waiter.wait(5.0))
        await asyncio.sleep(0)
        await store.messages.append(inbox, RAW)
        assert await task
        changes = await store.messages.changes_since(inbox, before)
        assert [c.uid for c in changes.changed] == [1]


async def test_fetch_rows_returns_requested_uids_in_batches_with_the_parsed_cache(
        store: Store, account) -> None:
    inbox = (await store.folders.get(account.id, "INBOX")).id
    for n in range(7):
        await store.messages.append(inbox, RAW + str(n).encode(), ["\\Seen"] if n % 2 else [])
    batches = [b async for b in store.messages.fetch_rows(inbox, [1, 3, 4, 7, 99], True, 2)]
    rows = [r for b in batches for r in b]
    assert [r.uid for r in rows] == [1, 3, 4, 7]
    assert rows[0].envelope.startswith("(") and rows[0].bodystructure.startswith("(")
    assert [r.flags for r in rows] == [0, 0, 1, 0]  # uid 4 is n=3: odd, \\Seen
    light = [r async for b in store.messages.fetch_rows(inbox, [2], False) for r in b]
    assert light[0].uid == 2 and light[0].envelope == ""


async def test_creating_renaming_and_deleting_a_folder_wake_the_accounts_waiters_only(
        store: Store, account) -> None:
    bob = await store.accounts.create("bob@example.com", "bob's long password")
    with store.events.subscribe_account(account.id) as waiter, \
            store.events.subscribe_account(bob.id) as other:
        await store.folders.create(account.id, "Projects")
        assert await waiter.wait(1.0)
        await store.folders.rename(account.id, "Projects", "Work")
        assert await waiter.wait(1.0)
        await store.folders.delete(account.id, "Work")
        assert await waiter.wait(1.0)
        await store.messages.append((await store.folders.get(account.id, "INBOX")).id, RAW)
        assert not waiter.pending  # mail wakes the folder's waiters, not the folder list's
        assert not other.pending
