"""store.identities (who may send as what) and store.contacts (autocomplete)."""

from __future__ import annotations

import pytest

from mailstore.contacts import InvalidContact
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


async def test_the_address_book_lists_saved_contacts_by_name_and_filters_them(
        store: Store, account: AccountInfo) -> None:
    contacts = store.contacts
    await contacts.save(account.id, "zed@example.org", "zed")
    await contacts.save(account.id, "Amy@Example.org", "  Amy   Adams ")
    await contacts.record_sent(account.id, [("Walt", "walt@example.net")])
    assert [(c.address, c.name) for c in await contacts.list(account.id)] == \
        [("amy@example.org", "Amy Adams"), ("zed@example.org", "zed")]
    assert [c.address for c in await contacts.list(account.id, saved=False)] == \
        ["walt@example.net"]
    assert [c.address for c in await contacts.list(account.id, query="ADAMS")] == \
        ["amy@example.org"]
    assert await contacts.list(account.id, query="50%_") == []


async def test_an_invalid_contact_is_refused_with_its_field(
        store: Store, account: AccountInfo) -> None:
    with pytest.raises(InvalidContact) as bad_address:
        await store.contacts.save(account.id, "no-at-sign", "X")
    assert bad_address.value.field == "address"
    with pytest.raises(InvalidContact) as long_name:
        await store.contacts.save(account.id, "x@example.org", "x" * 201)
    assert long_name.value.field == "name"
    assert await store.contacts.list(account.id) == []


async def test_changing_and_removing_contacts_keeps_people_written_to(
        store: Store, account: AccountInfo) -> None:
    contacts = store.contacts
    await contacts.record_sent(account.id, [("Old", "old@example.org")])
    await contacts.save(account.id, "old@example.org", "Old")
    await contacts.change(account.id, "old@example.org", "new@example.org", "New")
    assert [c.address for c in await contacts.list(account.id)] == ["new@example.org"]
    assert [c.address for c in await contacts.list(account.id, saved=False)] == \
        ["old@example.org"]
    await contacts.remove(account.id, "new@example.org")
    await contacts.remove(account.id, "new@example.org")  # twice is harmless
    assert await contacts.get(account.id, "new@example.org") is None
    assert await contacts.list(account.id) == []
