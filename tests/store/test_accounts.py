"""Domains and accounts: creation, default folders, authentication, removal."""

from __future__ import annotations

import pytest

from mailstore.errors import AlreadyExists, InvalidName, NotFound, StoreError
from mailstore.store import Store


async def test_new_account_gets_the_special_use_folders(store: Store, account) -> None:
    folders = {f.name: f.special_use for f in await store.folders.list(account.id)}
    assert folders == {"INBOX": None, "Drafts": "\\Drafts", "Sent": "\\Sent",
                       "Junk": "\\Junk", "Trash": "\\Trash", "Archive": "\\Archive"}


async def test_password_is_stored_as_argon2id_hash(store: Store, account) -> None:
    from sqlalchemy import select

    from mailstore.models import Account

    async with store.db.read() as conn:
        stored = await conn.scalar(select(Account.password_hash))
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored


async def test_authenticate_accepts_right_password_any_address_case(store: Store,
                                                                     account) -> None:
    info = await store.accounts.authenticate("Ann@Example.COM", "correct horse battery")
    assert info is not None and info.address == "ann@example.com"


async def test_authenticate_refuses_wrong_password_and_unknown_user(store: Store,
                                                                     account) -> None:
    assert await store.accounts.authenticate("ann@example.com", "wrong") is None
    assert await store.accounts.authenticate("bob@example.com", "correct horse battery") is None
    assert await store.accounts.authenticate("not an address", "x") is None


async def test_account_needs_a_local_domain(store: Store) -> None:
    with pytest.raises(NotFound, match="tidings domain add example.org"):
        await store.accounts.create("bob@example.org", "password123")


async def test_duplicate_account_and_domain_are_refused(store: Store, account) -> None:
    with pytest.raises(AlreadyExists):
        await store.accounts.create("ANN@example.com", "password123")
    with pytest.raises(AlreadyExists):
        await store.accounts.add_domain("Example.com")


async def test_invalid_addresses_are_refused_with_the_reason(store: Store) -> None:
    await store.accounts.add_domain("example.com")
    for bad in ("ann", "@example.com", "ann@", "a..b@example.com", "ann@exa mple.com"):
        with pytest.raises(InvalidName, match="not a valid"):
            await store.accounts.create(bad, "password123")


async def test_domain_with_accounts_cannot_be_removed(store: Store, account) -> None:
    with pytest.raises(StoreError, match="still has 1 account"):
        await store.accounts.remove_domain("example.com")
    await store.accounts.remove("ann@example.com")
    await store.accounts.remove_domain("example.com")
    assert await store.accounts.list_domains() == []


async def test_removing_an_account_removes_its_mail_and_blobs(store: Store, account) -> None:
    inbox = await store.folders.get(account.id, "INBOX")
    await store.messages.append(inbox.id, b"Subject: hi\r\n\r\nhello\r\n")
    assert len(store.blobs.files()) == 1
    await store.accounts.remove("ann@example.com")
    assert store.blobs.files() == []
    with pytest.raises(NotFound):
        await store.accounts.get("ann@example.com")


async def test_aliases_map_one_address_to_many(store: Store, account) -> None:
    await store.accounts.create("bob@example.com", "password123")
    await store.accounts.add_alias("team@example.com", "ann@example.com")
    await store.accounts.add_alias("team@example.com", "bob@example.com")
    assert await store.accounts.alias_targets("Team@example.com") == [
        "ann@example.com", "bob@example.com"]


async def test_checking_a_password_leaves_the_event_loop_free(store: Store, account) -> None:
    """argon2 costs ~0.1 s of CPU per check; on the loop it would stall every connection."""
    import asyncio

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    before = ticks
    assert await store.accounts.authenticate("ann@example.com", "correct horse battery")
    assert await store.accounts.authenticate("ann@example.com", "wrong") is None
    during = ticks - before
    task.cancel()
    assert during >= 20, f"the loop ran only {during} times during two password checks"
