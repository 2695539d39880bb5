"""The admin's Aliases page: aliases, wildcard mappings, per-domain catch-alls, and the
"where would mail for this address go?" tester (the real router, explained)."""

from __future__ import annotations

import html
import re

import httpx
import pytest

from mailstore.audit import Actor
from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.admin.directory_forms import audit, field_error, notice, post


def verdict(page: str) -> str:
    """The tester's answer as plain text."""
    start = page.index(">", page.index('id="verdict"')) + 1
    block = page[start:page.index("</div>", start)]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", block)).split()).replace(" ,", ",")


async def ask(client: httpx.AsyncClient, address: str, sender: str = "") -> str:
    response = await client.get("/admin/aliases", params={"address": address,
                                                          "sender": sender})
    assert response.status_code == 200
    return verdict(response.text)


async def test_adding_an_alias_routes_mail_and_is_audited(
        admin: httpx.AsyncClient, store: Store, account: AccountInfo) -> None:
    response = await post(admin, "/admin/aliases", {"address": "Info@example.com",
                                                    "target": "ann@example.com"})
    assert notice(response) == "Mail for info@example.com now also goes to ann@example.com."
    assert await store.accounts.aliases() == [("info@example.com", "ann@example.com")]
    route = await store.router.resolve("info@example.com")
    assert [m.address for m in route.local] == ["ann@example.com"]
    [entry] = await audit(store, "alias.add")
    assert (entry.target, entry.new_value) == ("info@example.com", "ann@example.com")
    page = (await admin.get("/admin/aliases")).text
    assert "<td>info@example.com</td><td>ann@example.com</td>" in page
    response = await post(admin, "/admin/aliases/remove", {"address": "info@example.com",
                                                           "target": "ann@example.com"})
    assert notice(response) == "Removed the alias info@example.com → ann@example.com."
    assert await store.accounts.aliases() == []
    [entry] = await audit(store, "alias.remove")
    assert entry.old_value == "ann@example.com"


@pytest.mark.parametrize(("address", "target", "name", "error"), [
    ("info@example.com", "nobody@example.com", "target",
     "No account, alias or list is called nobody@example.com"),
    ("info@elsewhere.example", "ann@example.com", "address",
     "elsewhere.example is not one of this server's domains"),
    ("info@example.com", "sales-*@example.com", "target",
     "The target must be one address, without *"),
    ("ghost@example.com", "ghost@example.com", "target",
     "Only an account's own address may name itself"),
    ("team@example.com", "ann@example.com", "address",
     "team@example.com is a distribution list: add members to the list instead"),
    ("old@example.com", "ann@example.com", "address",
     "old@example.com already goes to ann@example.com"),
    ("not an address", "ann@example.com", "address", "is not a valid email address"),
])
async def test_bad_aliases_are_refused_next_to_the_field(
        admin: httpx.AsyncClient, store: Store, address: str, target: str, name: str,
        error: str) -> None:
    await store.lists.create("team@example.com")
    await store.accounts.add_alias("old@example.com", "ann@example.com")
    response = await post(admin, "/admin/aliases", {"address": address, "target": target})
    assert response.status_code == 400
    assert error in field_error(response.text, name)
    assert f'value="{html.escape(target)}"' in response.text
    assert await audit(store, "alias.add") == []


async def test_removing_an_alias_that_is_not_there(admin: httpx.AsyncClient) -> None:
    response = await post(admin, "/admin/aliases/remove", {"address": "x@example.com",
                                                           "target": "ann@example.com"})
    assert response.status_code == 400
    assert "There is no alias x@example.com -> ann@example.com" in html.unescape(response.text)


async def test_the_tester_explains_an_account_and_a_plus_tag(
        admin: httpx.AsyncClient, store: Store, account: AccountInfo) -> None:
    answer = await ask(admin, "ann@example.com")
    assert answer.startswith("Delivered. into the mailbox of ann@example.com, folder INBOX")
    assert "ann@example.com is an account: mail goes into its mailbox" in answer
    await store.folders.create(account.id, "news")
    answer = await ask(admin, "ann+news@example.com")
    assert "into the mailbox of ann@example.com, folder news" in answer
    assert "ann+news@example.com is ann@example.com with the tag “news”" in answer


async def test_the_tester_follows_aliases_forwards_and_wildcards(
        admin: httpx.AsyncClient, store: Store, account: AccountInfo) -> None:
    await post(admin, "/admin/aliases", {"address": "info@example.com",
                                         "target": "ann@example.com"})
    await post(admin, "/admin/aliases", {"address": "info@example.com",
                                         "target": "boss@partner.example"})
    await post(admin, "/admin/aliases", {"address": "sales-*@example.com",
                                         "target": "info@example.com"})
    answer = await ask(admin, "sales-east@example.com")
    assert "into the mailbox of ann@example.com, folder INBOX" in answer
    assert "forwarded to boss@partner.example (sent out over the internet)" in answer
    assert ("no account, alias or list is called sales-east@example.com, so the wildcard "
            "mapping sales-*@example.com takes it, for info@example.com") in answer
    assert "→ info@example.com is an alias for ann@example.com, boss@partner.example" \
        in answer
    assert "→ → boss@partner.example is outside this server's domains" in answer
    page = (await admin.get("/admin/aliases")).text
    assert "<td>sales-*@example.com</td><td>info@example.com</td>" in page


async def test_the_tester_explains_refusals(
        admin: httpx.AsyncClient, store: Store, account: AccountInfo) -> None:
    answer = await ask(admin, "nobody@example.com")
    assert answer.startswith("Refused: mail for nobody@example.com is refused because "
                             "there is no such address here")
    assert "no account, alias, list or catch-all of example.com matches" in answer
    answer = await ask(admin, "someone@far.example")
    assert "is refused because this is not one of this server's domains" in answer
    await store.accounts.add_alias("a@example.com", "b@example.com")
    await store.accounts.add_alias("b@example.com", "a@example.com")
    answer = await ask(admin, "a@example.com")
    assert "its aliases form a loop" in answer
    assert "a@example.com was already on the way: the aliases form a loop" in answer
    await store.directory.update_account(
        Actor("t"), "ann@example.com",
        quota_bytes=None, is_admin=False, disabled=True)
    assert "the account is disabled" in await ask(admin, "ann@example.com")


async def test_the_catch_all_takes_unknown_addresses_until_cleared(
        admin: httpx.AsyncClient, store: Store, account: AccountInfo) -> None:
    response = await post(admin, "/admin/aliases/catch-all",
                          {"domain": "example.com", "target": "ann@example.com",
                           "action": "set"})
    assert notice(response) == \
        "Mail for unknown addresses at example.com now goes to ann@example.com."
    answer = await ask(admin, "whoever@example.com")
    assert "into the mailbox of ann@example.com, folder INBOX" in answer
    assert "so the catch-all *@example.com takes it" in answer
    domains = (await admin.get("/admin/domains")).text
    assert "go to ann@example.com (catch-all)" in domains
    response = await post(admin, "/admin/aliases/catch-all",
                          {"domain": "example.com", "target": "nobody@example.com",
                           "action": "set"})
    assert response.status_code == 400
    assert "No account, alias or list is called nobody@example.com" in response.text
    response = await post(admin, "/admin/aliases/catch-all",
                          {"domain": "example.com", "target": "ann@example.com",
                           "action": "clear"})
    assert notice(response) == "Mail for unknown addresses at example.com is now refused."
    assert (await ask(admin, "whoever@example.com")).startswith("Refused")
    entries = await audit(store, "domain.catch_all")
    assert [(e.old_value, e.new_value) for e in reversed(entries)] == \
        [(None, "ann@example.com"), ("ann@example.com", None)]


async def test_the_tester_checks_a_lists_posting_policy_for_a_sender(
        admin: httpx.AsyncClient, store: Store, account: AccountInfo) -> None:
    await store.lists.create("team@example.com", policy="members")
    await store.lists.add("team@example.com", "ann@example.com")
    answer = await ask(admin, "team@example.com", "stranger@far.example")
    assert "the sender may not post to this list" in answer
    assert "only its members may post to this list" in answer
    answer = await ask(admin, "team@example.com", "ann@example.com")
    assert "team@example.com is a distribution list: every member gets a copy" in answer
    assert "into the mailbox of ann@example.com" in answer
    assert "team@example.com is a distribution list with 1 member(s); its members only " \
           "may post to it" in answer
