"""The Contacts page (the address book): list with a filter, add, edit, remove, "write to",
people written to with "save", "Add to contacts" on a message; CSRF and per-user scope."""

from __future__ import annotations

import html
import re

import httpx

from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.web.conftest import (
    LiveServer,
    csrf_token,
    deliver,
    inbox_id,
    login,
    make_message,
)


async def _token(client: httpx.AsyncClient) -> str:
    page = await client.get("/contacts")
    assert page.status_code == 200
    return csrf_token(page.text)


def _listed(page: str, section: str = "Contacts") -> list[str]:
    """The addresses listed in one section (by its aria-label) of the Contacts page."""
    match = re.search(rf'<ul [^>]*aria-label="{section}">(.*?)</ul>', page, re.S)
    return re.findall(r'data-address="([^"]+)"', match.group(1)) if match else []


async def test_contacts_are_linked_from_the_top_bar_and_list_the_saved_ones_by_name(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await store.contacts.save(account.id, "zed@example.org", "Zed Zulu")
    await store.contacts.save(account.id, "amy@example.org", "Amy Adams")
    await store.contacts.record_sent(account.id, [("Walt", "walt@example.net")])
    inbox = await ann.get("/mail/INBOX")
    assert 'href="/contacts"' in inbox.text
    page = await ann.get("/contacts")
    assert page.status_code == 200
    assert _listed(page.text) == ["amy@example.org", "zed@example.org"]
    assert _listed(page.text, "People you have written to") == ["walt@example.net"]
    assert 'href="/compose?to=Amy+Adams+%3Camy%40example.org%3E"' in page.text


async def test_the_filter_matches_name_or_address(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await store.contacts.save(account.id, "amy@example.org", "Amy Adams")
    await store.contacts.save(account.id, "bo@work.example", "Bo Brown")
    by_name = await ann.get("/contacts", params={"q": "brow"})
    assert _listed(by_name.text) == ["bo@work.example"]
    by_address = await ann.get("/contacts", params={"q": "EXAMPLE.ORG"})
    assert _listed(by_address.text) == ["amy@example.org"]
    none = await ann.get("/contacts", params={"q": "nobody"})
    assert _listed(none.text) == [] and "No contact matches" in none.text


async def test_adding_a_contact_saves_it_and_it_is_suggested_in_compose(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    added = await ann.post("/contacts", data={
        "csrf_token": await _token(ann), "name": "Carol Jones", "address": "Carol@Example.org"})
    assert added.status_code == 303
    page = await ann.get(added.headers["location"])
    assert "The contact has been saved." in page.text
    assert _listed(page.text) == ["carol@example.org"]
    suggested = (await ann.get("/contacts/suggest", params={"q": "jon"})).json()
    assert suggested[0]["value"] == "Carol Jones <carol@example.org>"


async def test_an_invalid_address_is_refused_with_the_error_next_to_the_field(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    refused = await ann.post("/contacts", data={
        "csrf_token": await _token(ann), "name": "Nobody", "address": "not an address"})
    assert refused.status_code == 400
    assert 'id="new-address-error"' in refused.text
    assert "not an e-mail address" in refused.text
    assert 'value="Nobody"' in refused.text  # what was typed comes back
    empty = await ann.post("/contacts", data={
        "csrf_token": await _token(ann), "name": "", "address": ""})
    assert empty.status_code == 400 and "Enter an e-mail address" in empty.text
    assert await store.contacts.list(account.id) == []


async def test_editing_a_contact_changes_its_name_and_address(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await store.contacts.save(account.id, "dan@old.example", "Dan")
    token = await _token(ann)
    changed = await ann.post("/contacts/edit", data={
        "csrf_token": token, "original": "dan@old.example", "name": "Dan Smith",
        "address": "dan@new.example"})
    assert changed.status_code == 303
    assert [(c.address, c.name) for c in await store.contacts.list(account.id)] == \
        [("dan@new.example", "Dan Smith")]
    bad = await ann.post("/contacts/edit", data={
        "csrf_token": token, "original": "dan@new.example", "name": "Dan",
        "address": "dan@"})
    assert bad.status_code == 400
    assert 'id="c1-address-error"' in bad.text
    assert re.search(r"<details open>", bad.text)  # the edit form stays open
    assert (await store.contacts.get(account.id, "dan@new.example")).name == "Dan Smith"


async def test_editing_onto_another_saved_address_is_refused(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await store.contacts.save(account.id, "a@example.org", "A")
    await store.contacts.save(account.id, "b@example.org", "B")
    refused = await ann.post("/contacts/edit", data={
        "csrf_token": await _token(ann), "original": "a@example.org", "name": "A",
        "address": "b@example.org"})
    assert refused.status_code == 400 and "already in your contacts" in refused.text
    assert {c.address for c in await store.contacts.list(account.id)} == \
        {"a@example.org", "b@example.org"}


async def test_removing_a_contact_keeps_someone_written_to_among_the_suggestions(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await store.contacts.save(account.id, "eve@example.org", "Eve")
    await store.contacts.save(account.id, "fay@example.org", "Fay")
    await store.contacts.record_sent(account.id, [("Fay", "fay@example.org")])
    token = await _token(ann)
    for address in ("eve@example.org", "fay@example.org", "eve@example.org"):
        removed = await ann.post("/contacts/remove", data={
            "csrf_token": token, "address": address})
        assert removed.status_code == 303  # twice is harmless
    page = await ann.get(removed.headers["location"])
    assert _listed(page.text) == []
    assert _listed(page.text, "People you have written to") == ["fay@example.org"]
    assert await store.contacts.get(account.id, "eve@example.org") is None


async def test_saving_someone_written_to_moves_them_to_the_contacts(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await store.contacts.record_sent(account.id, [("Gus Grey", "gus@example.org")])
    saved = await ann.post("/contacts", data={
        "csrf_token": await _token(ann), "name": "Gus Grey", "address": "gus@example.org"})
    page = await ann.get(saved.headers["location"])
    assert _listed(page.text) == ["gus@example.org"]
    assert _listed(page.text, "People you have written to") == []
    assert (await store.contacts.get(account.id, "gus@example.org")).times_used == 1


async def test_add_to_contacts_on_a_message_saves_its_sender_and_comes_back(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await deliver(store, await inbox_id(store, account),
                  [make_message("Hello", sender="Bob Example <Bob@Example.org>")])
    opened = await ann.get("/message/INBOX/1")
    assert "Add to contacts" in opened.text
    form = re.search(r'<form [^>]*add-contact">(.*?)</form>', opened.text, re.S).group(1)
    fields = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', form))
    assert fields["name"] == "Bob Example" and fields["address"] == "bob@example.org"
    saved = await ann.post("/contacts", data={k: html.unescape(v) for k, v in fields.items()})
    assert saved.status_code == 303 and saved.headers["location"] == "/message/INBOX/1"
    contact = await store.contacts.get(account.id, "bob@example.org")
    assert contact is not None and contact.saved and contact.name == "Bob Example"
    again = await ann.get("/message/INBOX/1")
    assert "Add to contacts" not in again.text and "In your" in again.text


async def test_add_to_contacts_never_redirects_to_another_site(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    saved = await ann.post("/contacts", data={
        "csrf_token": await _token(ann), "name": "", "address": "h@example.org",
        "next": "//evil.example/"})
    assert saved.status_code == 303 and saved.headers["location"] == "/mail"


async def test_every_contact_change_without_the_csrf_token_is_refused(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await store.contacts.save(account.id, "kept@example.org", "Kept")
    for path, data in (("/contacts", {"name": "X", "address": "x@example.org"}),
                       ("/contacts/edit", {"original": "kept@example.org", "name": "Y",
                                           "address": "y@example.org"}),
                       ("/contacts/remove", {"address": "kept@example.org"})):
        refused = await ann.post(path, data=data)
        assert refused.status_code == 403, path
        wrong = await ann.post(path, data={**data, "csrf_token": "0" * 64})
        assert wrong.status_code == 403, path
    assert [(c.address, c.name) for c in await store.contacts.list(account.id)] == \
        [("kept@example.org", "Kept")]


async def test_another_users_contacts_cannot_be_seen_or_changed(
        store: Store, account: AccountInfo, server: LiveServer) -> None:
    bob = await store.accounts.create("bob@example.com", "bob's long password")
    await store.contacts.save(bob.id, "secret@example.org", "Bob's Secret Friend")
    await store.contacts.record_sent(bob.id, [("Bob's Pen Pal", "pal@example.org")])
    async with server.client() as ann:
        assert (await login(ann)).status_code == 303
        page = await ann.get("/contacts")
        assert "secret@example.org" not in page.text and "pal@example.org" not in page.text
        found = await ann.get("/contacts", params={"q": "secret"})
        assert _listed(found.text) == []
        assert (await ann.get("/contacts/suggest", params={"q": "secret"})).json() == []
        token = csrf_token(page.text)
        edit = await ann.post("/contacts/edit", data={
            "csrf_token": token, "original": "secret@example.org", "name": "Hacked",
            "address": "secret@example.org"})
        assert edit.status_code == 400 and "no longer in your contacts" in edit.text
        await ann.post("/contacts/remove", data={
            "csrf_token": token, "address": "secret@example.org"})
    kept = await store.contacts.get(bob.id, "secret@example.org")
    assert kept is not None and kept.saved and kept.name == "Bob's Secret Friend"
    assert await store.contacts.get(account.id, "secret@example.org") is None


async def test_contacts_need_a_signed_in_user(client: httpx.AsyncClient,
                                              account: AccountInfo) -> None:
    response = await client.get("/contacts")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
