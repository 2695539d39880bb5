"""Folders with IMAP semantics."""

from __future__ import annotations

import pytest

from mailstore.errors import AlreadyExists, InvalidName, NotFound
from mailstore.store import Store


async def test_creating_a_nested_folder_creates_its_parents(store: Store, account) -> None:
    await store.folders.create(account.id, "Work/Projects/2026")
    names = [f.name for f in await store.folders.list(account.id)]
    assert {"Work", "Work/Projects", "Work/Projects/2026"} <= set(names)
    assert names[0] == "INBOX"


async def test_inbox_is_case_insensitive(store: Store, account) -> None:
    assert (await store.folders.get(account.id, "inbox")).name == "INBOX"
    with pytest.raises(AlreadyExists):
        await store.folders.create(account.id, "Inbox")


async def test_each_folder_gets_its_own_uidvalidity(store: Store, account) -> None:
    a = await store.folders.create(account.id, "A")
    b = await store.folders.create(account.id, "B")
    assert a.uidvalidity != b.uidvalidity
    assert a.uidnext == 1


async def test_rename_moves_children_and_changes_uidvalidity(store: Store, account) -> None:
    old = await store.folders.create(account.id, "Work/Old")
    await store.folders.rename(account.id, "Work", "Job")
    renamed = await store.folders.get(account.id, "Job/Old")
    assert renamed.id == old.id and renamed.uidvalidity != old.uidvalidity
    with pytest.raises(NotFound):
        await store.folders.get(account.id, "Work")


async def test_rename_onto_existing_name_is_refused(store: Store, account) -> None:
    await store.folders.create(account.id, "A")
    with pytest.raises(AlreadyExists):
        await store.folders.rename(account.id, "A", "Sent")


async def test_deleting_a_folder_removes_its_messages(store: Store, account) -> None:
    folder = await store.folders.create(account.id, "Old")
    await store.messages.append(folder.id, b"Subject: x\n\nbody\n")
    await store.folders.delete(account.id, "Old")
    assert store.blobs.files() == []
    assert (await store.accounts.get("ann@example.com")).used_bytes == 0
    with pytest.raises(InvalidName):
        await store.folders.delete(account.id, "INBOX")


@pytest.mark.parametrize("bad", ["", " x", "a//b", "a/", "/a", "a*", "b%", "tab\there"])
async def test_bad_folder_names_are_refused(store: Store, account, bad: str) -> None:
    with pytest.raises(InvalidName):
        await store.folders.create(account.id, bad)
