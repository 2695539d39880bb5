"""The admin's distribution lists pages: create, members, allowed senders, posting
policy, subject prefix, Reply-To, delete; each change audited."""

from __future__ import annotations

import html

import httpx
import pytest

from mailstore.lists import PostingDenied, list_copy
from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.admin.directory_forms import audit, field_error, notice, post

TEAM = "/admin/lists/team@example.com"


async def test_creating_a_list_with_its_settings(
        admin: httpx.AsyncClient, store: Store, account: AccountInfo) -> None:
    response = await post(admin, "/admin/lists", {
        "address": "Team@example.com", "policy": "members", "subject_prefix": "[Team]",
        "reply_to_list": "1"})
    assert notice(response) == "Created the list team@example.com. Now add its members."
    info = await store.lists.get("team@example.com")
    assert (info.policy, info.subject_prefix, info.reply_to_list) == \
        ("members", "[Team]", True)
    [entry] = await audit(store, "list.create")
    assert entry.new_value == {"policy": "members", "subject_prefix": "[Team]",
                               "reply_to_list": True}
    page = (await admin.get("/admin/lists")).text
    assert 'href="/admin/lists/team@example.com"' in page and "Only its members" in page


@pytest.mark.parametrize(("data", "name", "error"), [
    ({"address": "ann@example.com"}, "address",
     "ann@example.com is already an account, alias or list"),
    ({"address": "team@far.example"}, "address",
     "far.example is not one of this server's domains"),
    ({"policy": "everybody"}, "policy", "Choose who may post to the list"),
    ({"subject_prefix": "x" * 101}, "subject_prefix", "The prefix must be one short line"),
])
async def test_bad_lists_are_refused_next_to_the_field(
        admin: httpx.AsyncClient, store: Store, account: AccountInfo,
        data: dict[str, str], name: str, error: str) -> None:
    form = {"address": "team@example.com", "policy": "anyone", "subject_prefix": "", **data}
    response = await post(admin, "/admin/lists", form)
    assert response.status_code == 400
    assert error in field_error(response.text, name)
    assert f'value="{html.escape(form["address"])}"' in response.text
    assert await store.lists.all() == []


async def test_members_and_senders_are_added_and_removed(
        admin: httpx.AsyncClient, store: Store, account: AccountInfo) -> None:
    await store.lists.create("team@example.com", policy="senders")
    response = await post(admin, f"{TEAM}/members", {"role": "member",
                                                     "member": "ann@example.com"})
    assert notice(response) == "Added ann@example.com as a member of team@example.com."
    await post(admin, f"{TEAM}/members", {"role": "member", "member": "pat@partner.example"})
    await post(admin, f"{TEAM}/members", {"role": "sender", "sender": "boss@partner.example"})
    info = await store.lists.get("team@example.com")
    assert info.members == ("ann@example.com", "pat@partner.example")
    assert info.senders == ("boss@partner.example",)
    route = await store.router.resolve("team@example.com", "boss@partner.example")
    assert [m.address for m in route.local] == ["ann@example.com"]
    assert route.external == ("pat@partner.example",)
    with pytest.raises(PostingDenied):
        await store.router.resolve("team@example.com", "ann@example.com")
    page = (await admin.get(TEAM)).text
    assert "pat@partner.example" in page and "boss@partner.example" in page
    response = await post(admin, f"{TEAM}/members", {"role": "member", "action": "remove",
                                                     "member": "pat@partner.example"})
    assert notice(response) == "Removed pat@partner.example as a member of team@example.com."
    assert (await store.lists.get("team@example.com")).members == ("ann@example.com",)
    assert [e.new_value for e in await audit(store, "list.member.add")] == \
        ["pat@partner.example", "ann@example.com"]
    assert [e.new_value for e in await audit(store, "list.sender.add")] == \
        ["boss@partner.example"]
    assert [e.old_value for e in await audit(store, "list.member.remove")] == \
        ["pat@partner.example"]


@pytest.mark.parametrize(("form", "name", "error"), [
    ({"role": "member", "member": "nobody@example.com"}, "member",
     "No account, alias or list is called nobody@example.com"),
    ({"role": "member", "member": "team@example.com"}, "member",
     "A list cannot be a member of itself"),
    ({"role": "member", "member": "ann@example.com"}, "member",
     "ann@example.com is already a member of team@example.com"),
    ({"role": "member", "member": "bad address"}, "member", "is not a valid email address"),
    ({"role": "sender", "action": "remove", "sender": "x@far.example"}, "sender",
     "x@far.example is not a sender of team@example.com"),
])
async def test_bad_members_are_refused_next_to_the_field(
        admin: httpx.AsyncClient, store: Store, account: AccountInfo,
        form: dict[str, str], name: str, error: str) -> None:
    await store.lists.create("team@example.com")
    await store.lists.add("team@example.com", "ann@example.com")
    response = await post(admin, f"{TEAM}/members", form)
    assert response.status_code == 400
    assert error in field_error(response.text, name)
    assert await audit(store, f"list.{form['role']}.add") == []


async def test_changing_the_settings_changes_the_members_copy(
        admin: httpx.AsyncClient, store: Store, account: AccountInfo) -> None:
    await store.lists.create("team@example.com")
    response = await post(admin, TEAM, {"policy": "domain", "subject_prefix": "[T]",
                                        "reply_to_list": "1"})
    assert notice(response) == "Saved the settings of team@example.com."
    info = await store.lists.get("team@example.com")
    copy = list_copy(b"Subject: Hi\r\nReply-To: <x@far.example>\r\n\r\nbody", info)
    assert b"Subject: [T] Hi\r\n" in copy and b"Reply-To: <team@example.com>" in copy
    assert info.may_post("ann@example.com") and not info.may_post("x@far.example")
    [entry] = await audit(store, "list.update")
    assert entry.old_value == {"policy": "anyone", "reply_to_list": False,
                               "subject_prefix": ""}
    assert entry.new_value == {"policy": "domain", "reply_to_list": True,
                               "subject_prefix": "[T]"}
    response = await post(admin, TEAM, {"policy": "nobody", "subject_prefix": "[X]"})
    assert response.status_code == 400
    assert field_error(response.text, "policy") == "Choose who may post to the list"
    assert 'value="[X]"' in response.text


async def test_deleting_a_list(admin: httpx.AsyncClient, store: Store,
                               account: AccountInfo) -> None:
    await store.lists.create("team@example.com")
    await store.lists.add("team@example.com", "ann@example.com")
    response = await post(admin, f"{TEAM}/delete", {})
    assert notice(response) == "Deleted the list team@example.com; mail for it is now refused."
    assert await store.lists.all() == []
    [entry] = await audit(store, "list.remove")
    assert entry.old_value == {"members": ["ann@example.com"], "senders": [],
                               "policy": "anyone"}
    assert (await admin.get(TEAM)).status_code == 404
    assert (await post(admin, f"{TEAM}/delete", {})).status_code == 404
