"""Managing folders (GET /folders, POST /folders/…): create, rename, move, delete, empty
Trash and Junk; each refusal is shown next to its field."""

from __future__ import annotations

import httpx

from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.web.conftest import csrf_token, deliver, make_message


async def _names(store: Store, account: AccountInfo) -> list[str]:
    return [f.name for f in await store.folders.list(account.id)]


async def _post(client: httpx.AsyncClient, kind: str, **fields: str) -> httpx.Response:
    page = await client.get("/folders")
    assert page.status_code == 200
    return await client.post(f"/folders/{kind}",
                             data={"csrf_token": csrf_token(page.text), **fields})


async def test_the_folders_page_lists_every_folder_with_its_forms(
        account: AccountInfo, ann: httpx.AsyncClient) -> None:
    page = await ann.get("/folders")
    assert page.status_code == 200
    assert '<label for="create-name">Name</label>' in page.text
    assert page.text.count('action="/folders/empty"') == 2  # Trash and Junk
    # Special folders have no delete button; the Inbox cannot be renamed either.
    assert 'value="INBOX">' not in page.text.split('action="/folders/rename"')[0][-300:]
    assert "Delete Trash" not in page.text and "Delete Sent" not in page.text


async def test_create_a_folder_at_the_top_and_inside_another(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    response = await _post(ann, "create", name="Projects", parent="")
    assert response.status_code == 303
    assert response.headers["location"] == "/folders?done=create"
    assert (await _post(ann, "create", name="Q3", parent="Projects")).status_code == 303
    assert {"Projects", "Projects/Q3"} <= set(await _names(store, account))
    done = await ann.get("/folders?done=create")
    assert '<p class="done" role="status">Folder created.</p>' in done.text


async def test_create_refusals_are_shown_next_to_the_name_and_keep_what_was_typed(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    cases = {
        "Trash": "A folder with that name already exists.",
        "a/b": "A folder name cannot contain &#39;/&#39;; choose the parent folder in the "
               "list instead.",
        "": "Enter a name for the folder.",
        "bad*": "Folder name &#39;bad*&#39; contains a character that is not allowed.",
        "Shared Folders": "The name &#39;Shared Folders&#39; is kept for folders that others "
                          "share with you; choose another name.",
    }
    before = await _names(store, account)
    for name, error in cases.items():
        response = await _post(ann, "create", name=name, parent="")
        assert response.status_code == 400, name
        assert (f'<p class="error" role="alert" id="error-create-name">{error}</p>'
                in response.text), name
        assert 'aria-describedby="error-create-name"' in response.text
    response = await _post(ann, "create", name="bad*", parent="")
    assert 'name="name" value="bad*"' in response.text
    assert await _names(store, account) == before


async def test_rename_keeps_the_folder_in_its_parent_and_its_messages(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    folder = await store.folders.create(account.id, "Projects/Q3")
    await deliver(store, folder.id, [make_message("plan")])
    response = await _post(ann, "rename", folder="Projects/Q3", name="Q4")
    assert response.status_code == 303
    renamed = await store.folders.get(account.id, "Projects/Q4")
    assert renamed.messages == 1
    assert "Projects/Q3" not in await _names(store, account)


async def test_rename_refusals_are_shown_next_to_that_folders_name_field(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await store.folders.create(account.id, "Projects")
    response = await _post(ann, "rename", folder="Projects", name="Archive")
    assert response.status_code == 400
    form = response.text.split('id="folder-')[1:]
    projects = next(part for part in form if "Rename Projects to" in part)
    assert "A folder with that name already exists." in projects
    inbox = await _post(ann, "rename", folder="INBOX", name="Mail")
    assert inbox.status_code == 400
    assert "The Inbox cannot be renamed or moved." in inbox.text


async def test_move_puts_a_folder_under_another_and_back_to_the_top(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await store.folders.create(account.id, "Clients/Acme")
    await store.folders.create(account.id, "Work")
    assert (await _post(ann, "move", folder="Clients", parent="Work")).status_code == 303
    names = await _names(store, account)
    assert "Work/Clients" in names and "Work/Clients/Acme" in names
    assert (await _post(ann, "move", folder="Work/Clients", parent="")).status_code == 303
    assert "Clients/Acme" in await _names(store, account)


async def test_a_folder_cannot_move_into_itself_or_an_unknown_parent(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    await store.folders.create(account.id, "Clients/Acme")
    response = await _post(ann, "move", folder="Clients", parent="Clients/Acme")
    assert response.status_code == 400
    assert "A folder cannot be moved into one of its own subfolders." in response.text
    unknown = await _post(ann, "move", folder="Clients", parent="Nowhere")
    assert unknown.status_code == 400
    assert "There is no folder called Nowhere." in unknown.text


async def test_delete_a_folder_and_its_messages_only_when_confirmed(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    folder = await store.folders.create(account.id, "Old")
    await deliver(store, folder.id, [make_message("a"), make_message("b")])
    refused = await _post(ann, "delete", folder="Old")
    assert refused.status_code == 400
    assert "This folder holds 2 messages; tick the box to delete them with it." in refused.text
    assert "Old" in await _names(store, account)
    assert (await _post(ann, "delete", folder="Old", confirm="yes")).status_code == 303
    assert "Old" not in await _names(store, account)
    await store.folders.create(account.id, "Empty")
    assert (await _post(ann, "delete", folder="Empty")).status_code == 303


async def test_special_folders_and_parents_cannot_be_deleted(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    for name, label in (("INBOX", "Inbox"), ("Trash", "Trash"), ("Sent", "Sent")):
        response = await _post(ann, "delete", folder=name, confirm="yes")
        assert response.status_code == 400
        assert f"{label} is a special folder and cannot be deleted." in response.text
    await store.folders.create(account.id, "Clients/Acme")
    parent = await _post(ann, "delete", folder="Clients", confirm="yes")
    assert "Delete or move its subfolders first." in parent.text
    assert {"INBOX", "Trash", "Sent", "Clients"} <= set(await _names(store, account))


async def test_empty_trash_and_junk_after_confirmation(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    for name in ("Trash", "Junk"):
        folder = await store.folders.get(account.id, name)
        await deliver(store, folder.id, [make_message("x"), make_message("y")])
        refused = await _post(ann, "empty", folder=name)
        assert refused.status_code == 400
        assert "Tick the box to confirm: emptied messages are deleted for good." in refused.text
        assert (await store.folders.get(account.id, name)).messages == 2
        done = await _post(ann, "empty", folder=name, confirm="yes", back=f"/mail/{name}")
        assert done.status_code == 303 and done.headers["location"] == f"/mail/{name}"
        assert (await store.folders.get(account.id, name)).messages == 0
    inbox = await _post(ann, "empty", folder="INBOX", confirm="yes")
    assert inbox.status_code == 400
    assert "Only Trash and Junk can be emptied." in inbox.text


async def test_the_trash_list_links_to_emptying_it(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    trash = await store.folders.get(account.id, "Trash")
    await deliver(store, trash.id, [make_message("x")])
    page = await ann.get("/mail/Trash")
    assert f'href="/folders#empty-{trash.id}">Empty Trash…</a>' in page.text
    assert "Empty" not in (await ann.get("/mail/INBOX")).text.split("<nav class=\"sorts\"")[0]


async def test_folder_forms_need_the_csrf_token(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    response = await ann.post("/folders/create", data={"name": "Sneaky"})
    assert response.status_code == 403
    assert "Sneaky" not in await _names(store, account)


async def test_unknown_folder_actions_and_other_users_folders_are_not_found(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    bob = await store.accounts.create("bob@example.com", "bob's long password")
    await store.folders.create(bob.id, "Private")
    assert (await _post(ann, "explode", folder="Private")).status_code == 404
    for kind in ("rename", "move", "delete", "empty"):
        response = await _post(ann, kind, folder="Private", name="Mine", confirm="yes")
        assert response.status_code == 404, kind
    assert "Private" in [f.name for f in await store.folders.list(bob.id)]
