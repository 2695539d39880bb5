"""The settings page: password, identities and signatures, display preferences."""

from __future__ import annotations

import re

import httpx

from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.web.conftest import PASSWORD, csrf_token, login


async def _token(client: httpx.AsyncClient) -> str:
    page = await client.get("/settings")
    assert page.status_code == 200
    return csrf_token(page.text)


async def test_settings_has_a_section_for_each_kind_of_setting(
        account: AccountInfo, ann: httpx.AsyncClient) -> None:
    page = await ann.get("/settings")
    for section in ('id="password"', 'id="identities"', 'id="display"'):
        assert section in page.text
    assert '<label for="current">Current password</label>' in page.text
    assert "ann@example.com" in page.text


async def test_changing_the_password_needs_the_current_one_and_the_new_one_twice(
        store: Store, account: AccountInfo, server, ann: httpx.AsyncClient) -> None:
    token = await _token(ann)
    wrong = await ann.post("/settings/password", data={
        "csrf_token": token, "current": "not it", "new": "a new long password",
        "again": "a new long password"})
    assert wrong.status_code == 400
    assert 'id="current-error"' in wrong.text and "This is not your current password" \
        in wrong.text
    short = await ann.post("/settings/password", data={
        "csrf_token": token, "current": PASSWORD, "new": "short", "again": "short"})
    assert 'id="new-error"' in short.text and "at least 10 characters" in short.text
    mismatch = await ann.post("/settings/password", data={
        "csrf_token": token, "current": PASSWORD, "new": "a new long password",
        "again": "a new long passwort"})
    assert 'id="again-error"' in mismatch.text and "not the same" in mismatch.text
    assert await store.accounts.authenticate("ann@example.com", PASSWORD) is not None
    done = await ann.post("/settings/password", data={
        "csrf_token": token, "current": PASSWORD, "new": "a new long password",
        "again": "a new long password"})
    assert done.status_code == 303
    assert "Your password has been changed." in (await ann.get(done.headers["location"])).text
    assert await store.accounts.authenticate("ann@example.com", PASSWORD) is None
    async with server.client() as fresh:
        assert (await login(fresh, password="a new long password")).status_code == 303


async def test_display_preferences_are_validated_with_the_error_next_to_the_field(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    token = await _token(ann)
    bad = await ann.post("/settings/display", data={
        "csrf_token": token, "density": "compact", "reading_pane": "bottom",
        "per_page": "5"})
    assert bad.status_code == 400
    assert 'id="per_page-error"' in bad.text
    assert "Messages per page must be a number from 10 to 200" in bad.text
    assert 'value="5"' in bad.text  # what the user typed stays
    odd = await ann.post("/settings/display", data={
        "csrf_token": token, "density": "roomy", "reading_pane": "right", "per_page": "50"})
    assert 'id="density-error"' in odd.text
    words = await ann.post("/settings/display", data={
        "csrf_token": token, "density": "compact", "reading_pane": "right",
        "per_page": "many"})
    assert 'id="per_page-error"' in words.text
    assert (await store.preferences.get(account.id)).density == "comfortable"
    good = await ann.post("/settings/display", data={
        "csrf_token": token, "density": "compact", "reading_pane": "bottom",
        "per_page": "25", "thread_view": "1"})
    assert good.status_code == 303
    saved = await store.preferences.get(account.id)
    assert (saved.density, saved.reading_pane, saved.per_page, saved.thread_view) == (
        "compact", "bottom", 25, True)
    page = await ann.get("/settings")
    assert '<option value="bottom" selected>' in page.text


async def test_an_identity_can_be_added_for_an_alias_with_its_own_signature(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await store.accounts.add_alias("sales@example.com", "ann@example.com")
    token = await _token(ann)
    added = await ann.post("/settings/identities", data={
        "csrf_token": token, "address": "Sales@Example.com", "display_name": "Sales team",
        "signature": "<p><b>Sales</b> team</p>", "signature_is_html": "1",
        "is_default": "1"})
    assert added.status_code == 303
    identities = await store.identities.list(account.id)
    assert [(i.address, i.is_default) for i in identities] == [
        ("sales@example.com", True), ("ann@example.com", False)]
    compose = await ann.get("/compose")
    assert '<option value="sales@example.com" selected' in compose.text
    assert ">Sales team &lt;sales@example.com&gt;</option>" in compose.text
    assert "&lt;b&gt;Sales&lt;/b&gt; team" in compose.text  # in the editor source
    removed = await ann.post(f"/settings/identities/{identities[0].id}/delete",
                             data={"csrf_token": token})
    assert removed.status_code == 303
    assert [i.address for i in await store.identities.list(account.id)] == [
        "ann@example.com", "sales@example.com"]


async def test_an_identity_for_an_address_that_is_not_the_users_is_refused(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await store.accounts.create("bob@example.com", PASSWORD)
    token = await _token(ann)
    for address in ("bob@example.com", "ceo@elsewhere.example", "not an address"):
        refused = await ann.post("/settings/identities", data={
            "csrf_token": token, "address": address, "display_name": "x"})
        assert refused.status_code == 400, address
        assert 'id="address-error"' in refused.text
    assert all(i.id is None for i in await store.identities.list(account.id))


async def test_editing_an_identity_changes_its_signature(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    identity = await store.identities.save(account.id, "ann@example.com", signature="old")
    token = await _token(ann)
    changed = await ann.post(f"/settings/identities/{identity.id}", data={
        "csrf_token": token, "address": "ann@example.com", "display_name": "Ann",
        "signature": "new sig"})
    assert changed.status_code == 303
    [saved] = await store.identities.list(account.id)
    assert (saved.display_name, saved.signature) == ("Ann", "new sig")


async def test_settings_list_the_senders_whose_images_are_shown_and_remove_one(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await store.trusted_senders.add(account.id, "news@shop.example")
    await store.trusted_senders.add(account.id, "friend@example.org")
    page = await ann.get("/settings")
    assert 'id="images"' in page.text
    listed = re.search(r'<ul [^>]*trusted-list[^>]*>(.*?)</ul>', page.text, re.S)[1]
    assert re.findall(r'name="address" value="([^"]+)"', listed) == \
        ["friend@example.org", "news@shop.example"]
    refused = await ann.post("/trusted-senders", data={
        "address": "news@shop.example", "action": "remove",
        "next": "/settings?done=trusted-removed#images"})
    assert refused.status_code == 403
    removed = await ann.post("/trusted-senders", data={
        "csrf_token": csrf_token(page.text), "address": "news@shop.example",
        "action": "remove", "next": "/settings?done=trusted-removed#images"})
    assert removed.status_code == 303
    assert removed.headers["location"] == "/settings?done=trusted-removed#images"
    assert await store.trusted_senders.list(account.id) == ["friend@example.org"]
    after = await ann.get("/settings?done=trusted-removed")
    assert "blocked again" in after.text and "news@shop.example" not in after.text


async def test_settings_show_only_ones_own_trusted_senders(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    bob = await store.accounts.create("bob@example.com", "bob's long password")
    await store.trusted_senders.add(bob.id, "bobs-shop@example.org")
    page = await ann.get("/settings")
    assert "bobs-shop@example.org" not in page.text and "No senders yet." in page.text
