"""store.identities (who may send as what) and store.contacts (autocomplete)."""

from __future__ import annotations

import pytest

from mailstore.identities import IdentityNotAllowed, InvalidIdentity
from mailstore.store import Store
from mailstore.values import AccountInfo


async def test_a_user_may_send_as_every_address_that_delivers_to_them(
        store: Store, account: AccountInfo) -> None:
    bob = await store.accounts.create("bob@example.com", "secret password")
    await store.accounts.add_alias("sales@example.com", "ann@example.com")
    await store.accounts.add_alias("team@example.com", "sales@example.com")
    identities = store.identities
    for address in ("ann@example.com", "ANN@example.com", "sales@example.com",
                    "team@example.com", "ann+news@example.com"):
        assert await identities.may_send_as(account.id, address), address
    for address in ("bob@example.com", "ceo@elsewhere.example", "nobody@example.com", ""):
        assert not await identities.may_send_as(account.id, address), address
    assert await identities.may_send_as(bob.id, "bob@example.com")


async def test_identities_list_the_own_address_and_aliases_with_one_default(
        store: Store, account: AccountInfo) -> None:
    await store.accounts.add_alias("sales@example.com", "ann@example.com")
    listed = await store.identities.list(account.id)
    assert [(i.address, i.id is None, i.is_default) for i in listed] == [
        ("ann@example.com", True, True), ("sales@example.com", True, False)]
    sales = await store.identities.save(account.id, "sales@example.com", display_name="Sales",
                                        is_default=True)
    assert sales.formatted == "Sales <sales@example.com>"
    again = await store.identities.save(account.id, "ann@example.com", is_default=True)
    listed = await store.identities.list(account.id)
    assert [(i.address, i.is_default) for i in listed] == [
        ("ann@example.com", True), ("sales@example.com", False)]
    assert (await store.identities.default(account.id)).id == again.id


async def test_an_identity_must_deliver_to_the_account(store: Store,
                                                       account: AccountInfo) -> None:
    with pytest.raises(IdentityNotAllowed):
        await store.identities.save(account.id, "boss@example.net")
    with pytest.raises(InvalidIdentity) as bad:
        await store.identities.save(account.id, "no at sign")
    assert bad.value.field == "address"
    with pytest.raises(InvalidIdentity) as long:
        await store.identities.save(account.id, "ann@example.com", signature="x" * 10_001)
    assert long.value.field == "signature"


async def test_suggestions_put_the_address_book_then_the_most_written_to_first(
        store: Store, account: AccountInfo) -> None:
    contacts = store.contacts
    await contacts.record_sent(account.id, [("Carl", "carl@example.net")], now=100)
    await contacts.record_sent(account.id, [("", "carla@example.net"),
                                            ("Carl", "carl@example.net")], now=200)
    await contacts.save(account.id, "cath@example.org", "Cath Smith")
    found = await contacts.suggest(account.id, "ca")
    assert [(c.address, c.times_used) for c in found] == [
        ("cath@example.org", 0), ("carl@example.net", 2), ("carla@example.net", 1)]
    assert [c.address for c in await contacts.suggest(account.id, "smi")] == [
        "cath@example.org"]
    assert [c.address for c in await contacts.suggest(account.id, "example.org")] == [
        "cath@example.org"]
    assert await contacts.suggest(account.id, "arl") == []  # only starts of words
    assert await contacts.suggest(account.id, "_") == []
    other = await store.accounts.create("bob@example.com", "secret password")
    assert await contacts.suggest(other.id, "ca") == []
