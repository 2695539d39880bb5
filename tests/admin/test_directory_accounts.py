"""The admin's Accounts pages: list with quota and usage, create, edit, reset password,
delete (the mail deleted or given to another account), and the refusals that keep an
administrator in charge."""

from __future__ import annotations

import html
import io
import json
import mailbox
import zipfile
from pathlib import Path

import httpx
import pytest

from mailstore.audit import Actor
from mailstore.directory import DirectoryError
from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.admin.directory_forms import audit, field_error, notice, post
from tests.web.conftest import deliver, inbox_id, login, make_message

NEW_PASSWORD = "a new password for bob"


async def test_the_list_shows_quota_usage_role_and_disabled(
        admin: httpx.AsyncClient, store: Store, account: AccountInfo) -> None:
    await deliver(store, await inbox_id(store, account), [make_message(body="x" * 3000)])
    await store.directory.update_account(Actor("cli"), "ann@example.com",
                                         quota_bytes=1024 * 1024, is_admin=False,
                                         disabled=True)
    page = (await admin.get("/admin/accounts")).text
    row = page[page.index('href="/admin/accounts/ann@example.com"'):]
    row = row[:row.index("</tr>")]
    assert "disabled" in row and "1.0 MB" in row and "3.3 KB" in row and "<meter" in row
    root = page[page.index('href="/admin/accounts/root@example.com"'):]
    assert "administrator" in root[:root.index("</tr>")]
    assert "no limit" in root[:root.index("</tr>")]


async def test_creating_an_account_lets_it_sign_in_and_is_audited(
        admin: httpx.AsyncClient, store: Store, server: object) -> None:
    response = await post(admin, "/admin/accounts", {
        "address": "Bob@Example.com", "password": NEW_PASSWORD, "quota": "250"})
    assert notice(response).startswith("Created bob@example.com.")
    assert response.headers["location"].startswith("/admin/accounts/bob@example.com?")
    bob = await store.accounts.get("bob@example.com")
    assert (bob.quota_bytes, bob.is_admin, bob.disabled) == (250 * 1024 * 1024, False, False)
    assert [f.name for f in await store.folders.list(bob.id)][0] == "INBOX"
    async with server.client() as other:  # type: ignore[attr-defined]
        assert (await login(other, "bob@example.com", NEW_PASSWORD)).status_code == 303
    [entry] = await audit(store, "account.create")
    assert entry.target == "bob@example.com"
    assert entry.new_value == {"quota_bytes": 262144000, "is_admin": False, "password": "set"}
    assert NEW_PASSWORD not in json.dumps([entry.old_value, entry.new_value])


@pytest.mark.parametrize(("data", "name", "error"), [
    ({"address": "bob@nowhere.example"}, "address",
     "nowhere.example is not one of this server's domains: add it on the Domains page first"),
    ({"address": "ann@example.com"}, "address", "ann@example.com is already an account"),
    ({"address": "bob example"}, "address", "is not a valid email address"),
    ({"password": "short"}, "password", "Use at least 10 characters"),
    ({"quota": "lots"}, "quota", "Write a number of MB"),
])
async def test_creating_refuses_bad_fields_next_to_the_field(
        admin: httpx.AsyncClient, store: Store, data: dict[str, str], name: str,
        error: str) -> None:
    form = {"address": "bob@example.com", "password": NEW_PASSWORD, "quota": "", **data}
    response = await post(admin, "/admin/accounts", form)
    assert response.status_code == 400
    assert error in field_error(response.text, name)
    assert f'value="{html.escape(form["address"])}"' in response.text
    assert await audit(store, "account.create") == []


async def test_editing_quota_role_and_disabled_is_audited_with_old_and_new(
        admin: httpx.AsyncClient, store: Store, account: AccountInfo, server: object) -> None:
    response = await post(admin, "/admin/accounts/ann@example.com",
                          {"quota": "1.5", "is_admin": "1", "disabled": "1"})
    assert notice(response) == "Saved the settings of ann@example.com."
    ann = await store.accounts.get("ann@example.com")
    assert (ann.quota_bytes, ann.is_admin, ann.disabled) == (1572864, True, True)
    [entry] = await audit(store, "account.update")
    assert entry.old_value == {"disabled": False, "is_admin": False, "quota_bytes": None}
    assert entry.new_value == {"disabled": True, "is_admin": True, "quota_bytes": 1572864}
    async with server.client() as other:  # type: ignore[attr-defined]
        assert (await login(other)).status_code != 303  # disabled: cannot sign in
    page = (await admin.get("/admin/accounts/ann@example.com")).text
    assert 'name="quota" type="text" value="1.50"' in page
    # Saving the same values again changes nothing and writes no audit line.
    await post(admin, "/admin/accounts/ann@example.com",
               {"quota": "1.5", "is_admin": "1", "disabled": "1"})
    assert len(await audit(store, "account.update")) == 1


async def test_an_administrator_cannot_disable_or_demote_themselves(
        admin: httpx.AsyncClient, store: Store) -> None:
    response = await post(admin, "/admin/accounts/root@example.com",
                          {"quota": "", "is_admin": "1", "disabled": "1"})
    assert response.status_code == 400
    assert field_error(response.text, "disabled") == \
        "You cannot disable your own account: you would be signed out of the admin"
    response = await post(admin, "/admin/accounts/root@example.com", {"quota": "7"})
    assert response.status_code == 400
    assert field_error(response.text, "is_admin") == \
        "You cannot remove your own admin role; ask another administrator to do it"
    assert 'value="7"' in response.text
    root = await store.accounts.get("root@example.com")
    assert (root.is_admin, root.disabled, root.quota_bytes) == (True, False, None)
    assert await audit(store, "account.update") == []


async def test_the_last_administrator_keeps_the_role(
        store: Store, admin_account: AccountInfo) -> None:
    """Through the admin the actor is always another enabled admin, so this rule shows at
    the store, where any front door (or a script) meets it."""
    someone = Actor("script@example.com")
    for change in ({"is_admin": False, "disabled": False},
                   {"is_admin": True, "disabled": True}):
        with pytest.raises(DirectoryError, match="root@example.com is the last administrator"):
            await store.directory.update_account(someone, "root@example.com",
                                                 quota_bytes=None, **change)
    with pytest.raises(DirectoryError, match="root@example.com is the last administrator"):
        await store.directory.delete_account(someone, "root@example.com")
    # With a second administrator the first one may go.
    await store.directory.update_account(someone, "ann@example.com", quota_bytes=None,
                                         is_admin=True, disabled=False)
    await store.directory.update_account(someone, "root@example.com", quota_bytes=None,
                                         is_admin=False, disabled=False)
    assert [a.address for a in await store.accounts.list() if a.is_admin] == \
        ["ann@example.com"]


async def test_resetting_a_password(admin: httpx.AsyncClient, store: Store,
                                    account: AccountInfo, server: object) -> None:
    path = "/admin/accounts/ann@example.com/password"
    response = await post(admin, path, {"password": NEW_PASSWORD, "again": "other thing"})
    assert field_error(response.text, "again") == "The two passwords are not the same"
    response = await post(admin, path, {"password": "short", "again": "short"})
    assert field_error(response.text, "password") == "Use at least 10 characters"
    response = await post(admin, path, {"password": NEW_PASSWORD, "again": NEW_PASSWORD})
    assert notice(response).startswith("Changed the password of ann@example.com.")
    async with server.client() as other:  # type: ignore[attr-defined]
        assert (await login(other)).status_code != 303
        assert (await login(other, password=NEW_PASSWORD)).status_code == 303
    [entry] = await audit(store, "account.password")
    assert (entry.target, entry.old_value, entry.new_value) == \
        ("ann@example.com", None, "changed")


async def test_deleting_an_account_and_its_mail(
        admin: httpx.AsyncClient, store: Store, account: AccountInfo) -> None:
    await deliver(store, await inbox_id(store, account), [make_message(), make_message()])
    await store.accounts.add_domain("example.org")
    await store.accounts.add_alias("info@example.com", "ann@example.com")
    await store.lists.create("team@example.com")
    await store.lists.add("team@example.com", "ann@example.com")
    response = await post(admin, "/admin/accounts/ann@example.com/delete",
                          {"mail": "delete", "confirm": "ann@example.com"})
    assert notice(response) == (
        "Deleted ann@example.com and its 2 message(s). Removed the aliases info@example.com "
        "that led to it. It left the lists team@example.com.")
    assert [a.address for a in await store.accounts.list()] == ["root@example.com"]
    assert await store.accounts.aliases() == []
    assert (await store.lists.get("team@example.com")).members == ()
    [entry] = await audit(store, "account.delete")
    assert entry.old_value["messages"] == 2 and entry.old_value["used_bytes"] > 0
    assert entry.new_value["mail"] == "deleted"
    assert entry.new_value["aliases_removed"] == ["info@example.com"]
    assert (await admin.get("/admin/accounts/ann@example.com")).status_code == 404


async def test_giving_the_mail_of_a_deleted_account_to_another(
        admin: httpx.AsyncClient, store: Store, account: AccountInfo) -> None:
    bob = await store.accounts.create("bob@example.com", NEW_PASSWORD)
    await deliver(store, await inbox_id(store, account),
                  [make_message("One"), make_message("Two")])
    sent = await store.folders.get(account.id, "Sent")
    await deliver(store, sent.id, [make_message("Three")])
    used = (await store.accounts.get("ann@example.com")).used_bytes
    response = await post(admin, "/admin/accounts/ann@example.com/delete", {
        "mail": "give", "give_to": "bob@example.com", "redirect": "1",
        "confirm": "ann@example.com"})
    assert notice(response) == (
        "Deleted ann@example.com. Its 3 message(s) are now in bob@example.com, folder "
        "“From ann@example.com”. New mail for ann@example.com goes to bob@example.com.")
    folders = {f.name: f for f in await store.folders.list(bob.id)}
    inbox = folders["From ann@example.com/INBOX"]
    assert inbox.messages == 2 and folders["From ann@example.com/Sent"].messages == 1
    assert folders["From ann@example.com/Sent"].special_use is None
    assert folders["Sent"].special_use == "\\Sent"  # bob's own stay as they were
    summaries = await store.messages.page(inbox.id, 0, 10)
    assert sorted(m.subject for m in summaries) == ["One", "Two"]
    assert (await store.accounts.get("bob@example.com")).used_bytes == used
    route = await store.router.resolve("ann@example.com")
    assert [m.address for m in route.local] == ["bob@example.com"]
    [entry] = await audit(store, "account.delete")
    assert entry.new_value["mail"] == \
        "given to bob@example.com, folder From ann@example.com"
    assert entry.new_value["future_mail_to"] == "bob@example.com"


async def test_deleting_refuses_without_confirmation_choice_or_room(
        admin: httpx.AsyncClient, store: Store, account: AccountInfo) -> None:
    await store.accounts.create("bob@example.com", NEW_PASSWORD, quota_bytes=100)
    await deliver(store, await inbox_id(store, account), [make_message()])
    path = "/admin/accounts/ann@example.com/delete"
    response = await post(admin, path, {"mail": "delete", "confirm": "ann"})
    assert field_error(response.text, "confirm") == "Type ann@example.com to confirm"
    response = await post(admin, path, {"mail": "give", "confirm": "ann@example.com"})
    assert field_error(response.text, "give_to") == "Choose the account that gets the mail"
    response = await post(admin, path, {"mail": "give", "give_to": "bob@example.com",
                                        "confirm": "ann@example.com"})
    assert response.status_code == 400
    assert "does not fit in bob@example.com's quota (100 bytes free): raise that quota" \
        in field_error(response.text, "give_to")
    assert 'value="bob@example.com" selected' in response.text
    assert await store.accounts.get("ann@example.com")
    assert await audit(store, "account.delete") == []


async def test_an_administrator_cannot_delete_themselves(
        admin: httpx.AsyncClient, store: Store) -> None:
    page = (await admin.get("/admin/accounts/root@example.com")).text
    assert "another administrator has to delete it" in page
    response = await post(admin, "/admin/accounts/root@example.com/delete",
                          {"mail": "delete", "confirm": "root@example.com"})
    assert response.status_code == 400
    assert field_error(response.text, "mail") == \
        "You cannot delete your own account; ask another administrator to do it"
    assert await store.accounts.get("root@example.com")


async def test_an_unknown_account_is_404(admin: httpx.AsyncClient) -> None:
    assert (await admin.get("/admin/accounts/nobody@example.com")).status_code == 404
    response = await post(admin, "/admin/accounts/nobody@example.com/delete",
                          {"mail": "delete", "confirm": "nobody@example.com"})
    assert response.status_code == 404


async def test_downloading_an_accounts_mail_as_mbox_files(
        admin: httpx.AsyncClient, store: Store, account: AccountInfo, tmp_path: Path) -> None:

    await deliver(store, await inbox_id(store, account), [
        make_message("First", "From the top\n>From quoted\nbye\n"), make_message("Second")])
    await store.folders.create(account.id, "Projects/2024")
    page = (await admin.get("/admin/accounts/ann@example.com")).text
    assert 'href="/admin/accounts/ann@example.com/export"' in page
    response = await admin.get("/admin/accounts/ann@example.com/export")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert "ann%40example.com-mail.zip" in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert "INBOX.mbox" in archive.namelist()
    assert "Projects/2024.mbox" in archive.namelist()
    inbox = archive.read("INBOX.mbox")
    assert inbox.startswith(b"From MAILER-DAEMON ")
    assert b"\n>From the top\n>>From quoted\n" in inbox and b"\r\n" not in inbox
    assert archive.read("Projects/2024.mbox") == b""
    folder = tmp_path / "INBOX.mbox"
    folder.write_bytes(inbox)
    assert sorted(m["Subject"] for m in mailbox.mbox(folder)) == ["First", "Second"]
    [entry] = await audit(store, "account.export")
    assert (entry.target, entry.new_value) == ("ann@example.com", {"messages": 2})


async def test_two_administrators_deleting_each_other_at_once_leave_one(
        store: Store, admin_account: AccountInfo) -> None:
    import asyncio

    await store.accounts.create("boss@example.com", NEW_PASSWORD, is_admin=True)
    await store.accounts.remove("ann@example.com")
    results = await asyncio.gather(
        store.directory.delete_account(Actor("root@example.com"), "boss@example.com"),
        store.directory.delete_account(Actor("boss@example.com"), "root@example.com"),
        return_exceptions=True)
    refused = [r for r in results if isinstance(r, DirectoryError)]
    assert len(refused) == 1 and "is the last administrator" in str(refused[0])
    assert len([a for a in await store.accounts.list() if a.is_admin]) == 1


async def test_the_list_can_show_one_domain(
        admin: httpx.AsyncClient, store: Store) -> None:
    await store.accounts.add_domain("shop.example")
    await store.accounts.create("pat@shop.example", NEW_PASSWORD)
    page = (await admin.get("/admin/accounts", params={"domain": "shop.example"})).text
    assert "pat@shop.example" in page and "ann@example.com" not in page
    assert '<option value="shop.example" selected>' in page
    page = (await admin.get("/admin/accounts")).text
    assert "pat@shop.example" in page and "ann@example.com" in page
