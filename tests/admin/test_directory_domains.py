"""The admin's Domains page: list, add, remove (refused while accounts remain)."""

from __future__ import annotations

import html

import httpx

from mailstore.store import Store
from tests.admin.directory_forms import audit, field_error, notice, post


async def test_the_page_lists_each_domain_with_its_accounts(
        admin: httpx.AsyncClient, store: Store) -> None:
    page = await admin.get("/admin/domains")
    assert page.status_code == 200
    assert "example.com" in page.text
    assert 'href="/admin/accounts?domain=example.com">2<' in page.text
    assert "mail domains this server receives mail for" in page.text


async def test_adding_a_domain_makes_it_local_and_is_audited(
        admin: httpx.AsyncClient, store: Store) -> None:
    assert not await store.router.is_local_domain("shop.example")
    response = await post(admin, "/admin/domains", {"domain": " Shop.Example "})
    assert "Added the domain shop.example" in notice(response)
    assert await store.router.is_local_domain("shop.example")
    [entry] = await audit(store, "domain.add")
    assert (entry.actor, entry.target, entry.new_value) == \
        ("root@example.com", "shop.example", "shop.example")
    assert entry.client_ip == "127.0.0.1"


async def test_a_bad_or_existing_domain_is_refused_next_to_the_field(
        admin: httpx.AsyncClient, store: Store) -> None:
    response = await post(admin, "/admin/domains", {"domain": "not a domain!"})
    assert response.status_code == 400
    assert "is not a valid domain name" in field_error(response.text, "domain")
    assert 'value="not a domain!"' in response.text  # the field keeps what was typed
    response = await post(admin, "/admin/domains", {"domain": "example.com"})
    assert response.status_code == 400
    assert field_error(response.text, "domain") == \
        "example.com is already one of this server's domains"
    assert await audit(store, "domain.add") == []


async def test_a_domain_with_accounts_cannot_be_removed(
        admin: httpx.AsyncClient, store: Store) -> None:
    response = await post(admin, "/admin/domains/remove", {"domain": "example.com"})
    assert response.status_code == 400
    assert "example.com still has 2 account(s): delete them first" in response.text
    assert await store.router.is_local_domain("example.com")
    assert await audit(store, "domain.remove") == []


async def test_removing_a_domain_takes_its_aliases_catch_all_and_lists(
        admin: httpx.AsyncClient, store: Store) -> None:
    await store.accounts.add_domain("old.example")
    await store.accounts.add_alias("info@old.example", "ann@example.com")
    await store.accounts.add_alias("*@old.example", "ann@example.com")
    await store.lists.create("team@old.example")
    response = await post(admin, "/admin/domains/remove", {"domain": "old.example"})
    assert notice(response) == ("Removed the domain old.example, with its 2 alias(es) and "
                                "1 list(s). Mail for it is now refused.")
    assert not await store.router.is_local_domain("old.example")
    assert await store.accounts.aliases() == []
    assert await store.lists.all() == []
    [entry] = await audit(store, "domain.remove")
    assert entry.old_value == {"aliases": ["*@old.example -> ann@example.com",
                                           "info@old.example -> ann@example.com"],
                               "lists": ["team@old.example"]}
    response = await post(admin, "/admin/domains/remove", {"domain": "old.example"})
    assert "old.example is not one of this server's domains" in html.unescape(response.text)
