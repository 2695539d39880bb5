"""Acting on selected messages (POST /actions): move, delete, archive, read/unread, flag,
junk; the errors; CSRF; another user's mail out of reach."""

from __future__ import annotations

import httpx
import pytest

from mailstore.flags import FLAGGED, SEEN
from mailstore.store import Store
from mailstore.values import AccountInfo
from tests.web.conftest import csrf_token, deliver, inbox_id, login, make_message


async def _folder(store: Store, account: AccountInfo, name: str) -> int:
    return (await store.folders.get(account.id, name)).id


async def _uids(store: Store, folder_id: int) -> list[int]:
    return await store.messages.uids(folder_id)


async def _post(client: httpx.AsyncClient, **fields: object) -> httpx.Response:
    page = await client.get("/mail/INBOX")
    data: dict[str, object] = {"csrf_token": csrf_token(page.text), "folder": "INBOX"}
    data.update(fields)
    return await client.post("/actions", data=data)


@pytest.fixture
async def three(store: Store, account: AccountInfo) -> int:
    inbox = await inbox_id(store, account)
    await deliver(store, inbox, [make_message(f"m{i}") for i in range(3)])
    return inbox


async def test_move_puts_the_selected_messages_in_the_target_folder(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient, three: int) -> None:
    await store.folders.create(account.id, "Projects")
    response = await _post(ann, action="move", uid=["1", "3"], target="Projects",
                           back="/mail/INBOX?page=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/mail/INBOX?page=1"
    assert await _uids(store, three) == [2]
    projects = await _folder(store, account, "Projects")
    assert len(await _uids(store, projects)) == 2


async def test_delete_moves_to_trash_and_in_trash_deletes_for_good(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient, three: int) -> None:
    assert (await _post(ann, action="delete", uid="2")).status_code == 303
    trash = await _folder(store, account, "Trash")
    assert await _uids(store, three) == [1, 3]
    assert await _uids(store, trash) == [1]
    response = await _post(ann, action="delete", uid="1", folder="Trash")
    assert response.status_code == 303
    assert await _uids(store, trash) == []
    assert (await store.folders.get(account.id, "Trash")).messages == 0


async def test_archive_and_junk_move_to_their_special_folders(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient, three: int) -> None:
    await _post(ann, action="archive", uid="1")
    await _post(ann, action="junk", uid="2")
    assert await _uids(store, three) == [3]
    assert len(await _uids(store, await _folder(store, account, "Archive"))) == 1
    assert len(await _uids(store, await _folder(store, account, "Junk"))) == 1


async def test_mark_read_unread_flag_and_unflag(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient, three: int) -> None:
    async def flags(uid: int) -> int:
        return (await store.messages.get(three, uid)).flags

    await _post(ann, action="read", uid=["1", "2"])
    assert await flags(1) & SEEN and await flags(2) & SEEN and not await flags(3) & SEEN
    assert (await store.folders.get(account.id, "INBOX")).unseen == 1
    await _post(ann, action="unread", uid="1")
    assert not await flags(1) & SEEN
    await _post(ann, action="flag", uid="3")
    assert await flags(3) & FLAGGED
    page = await ann.get("/mail/INBOX")
    assert page.text.count('aria-label="Flagged"') == 1
    await _post(ann, action="unflag", uid="3")
    assert not await flags(3) & FLAGGED


async def test_a_script_gets_204_instead_of_a_redirect(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient, three: int) -> None:
    page = await ann.get("/mail/INBOX")
    response = await ann.post("/actions", data={
        "csrf_token": csrf_token(page.text), "folder": "INBOX", "action": "move",
        "target": "Archive", "uid": "1"}, headers={"HX-Request": "true"})
    assert response.status_code == 204
    refused = await ann.post("/actions", data={
        "csrf_token": csrf_token(page.text), "folder": "INBOX", "action": "move",
        "target": "Nowhere", "uid": "1"}, headers={"HX-Request": "true"})
    assert refused.status_code == 400
    assert refused.text == "There is no folder called Nowhere."


@pytest.mark.parametrize(("fields", "error"), [
    ({"action": "archive"}, "Select at least one message first."),
    ({"action": "move", "uid": "1"}, "Choose the folder to move the messages to."),
    ({"action": "move", "uid": "1", "target": "Nowhere"}, "There is no folder called Nowhere."),
    ({"action": "move", "uid": "1", "target": "INBOX"}, "The messages are already in INBOX."),
    ({"action": "explode", "uid": "1"}, "Unknown action &#39;explode&#39;."),
    ({"action": "read", "uid": "one"}, "&#39;one&#39; is not a message number"),
    ({"action": "read", "uid": "0"}, "0 is not a message number"),
])
async def test_a_refused_action_shows_why_above_the_list_and_changes_nothing(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient, three: int,
        fields: dict[str, str], error: str) -> None:
    response = await _post(ann, **fields)
    assert response.status_code == 400
    assert f'<p class="error" role="alert" id="action-error">{error}</p>' in response.text
    assert await _uids(store, three) == [1, 2, 3]


async def test_archiving_from_the_archive_is_refused(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient) -> None:
    archive = await _folder(store, account, "Archive")
    await deliver(store, archive, [make_message("kept")])
    response = await _post(ann, action="archive", uid="1", folder="Archive")
    assert response.status_code == 400
    assert "The messages are already in Archive." in response.text


async def test_actions_without_the_csrf_token_are_refused(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient, three: int) -> None:
    response = await ann.post("/actions", data={"folder": "INBOX", "action": "delete",
                                                "uid": "1"})
    assert response.status_code == 403
    wrong = await ann.post("/actions", data={"folder": "INBOX", "action": "delete",
                                             "uid": "1", "csrf_token": "0" * 64})
    assert wrong.status_code == 403
    assert await _uids(store, three) == [1, 2, 3]


async def test_actions_need_a_signed_in_user(client: httpx.AsyncClient,
                                             account: AccountInfo) -> None:
    page = await client.get("/login")
    response = await client.post("/actions", data={
        "csrf_token": csrf_token(page.text), "folder": "INBOX", "action": "read", "uid": "1"})
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


async def test_another_users_folders_and_messages_are_out_of_reach(
        store: Store, account: AccountInfo, server: object, ann: httpx.AsyncClient) -> None:
    bob = await store.accounts.create("bob@example.com", "bob's long password")
    bob_inbox = (await store.folders.get(bob.id, "INBOX")).id
    await deliver(store, bob_inbox, [make_message("for bob only")])
    await store.folders.create(bob.id, "Secret")
    # Ann names a folder only Bob has: not found, for the source and for the target.
    assert (await _post(ann, action="delete", uid="1", folder="Secret")).status_code == 404
    ann_inbox = await inbox_id(store, account)
    await deliver(store, ann_inbox, [make_message("ann's")])
    refused = await _post(ann, action="move", uid="1", target="Secret")
    assert refused.status_code == 400
    # UID 1 of "INBOX" is always Ann's own INBOX: Bob's message stays where it is.
    await _post(ann, action="delete", uid="1")
    assert await _uids(store, bob_inbox) == [1]
    assert (await store.messages.get(bob_inbox, 1)).flags == 0


async def test_the_reading_pane_toolbar_acts_on_the_open_message(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient, three: int) -> None:
    page = await ann.get("/message/INBOX/2")
    assert 'role="toolbar" aria-label="Message actions"' in page.text
    for href in ("/compose/reply/INBOX/2", "/compose/reply-all/INBOX/2",
                 "/compose/forward/INBOX/2"):
        assert f'href="{href}"' in page.text
    for action in ("archive", "delete", "flag", "unread", "move"):
        assert f'name="action" value="{action}"' in page.text
    response = await ann.post("/actions", data={
        "csrf_token": csrf_token(page.text), "folder": "INBOX", "uid": "2",
        "action": "archive", "back": "/mail/INBOX"})
    assert response.headers["location"] == "/mail/INBOX"
    assert await _uids(store, three) == [1, 3]


async def test_back_never_leaves_the_site(
        store: Store, account: AccountInfo, ann: httpx.AsyncClient, three: int) -> None:
    for back in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = await _post(ann, action="read", uid="1", back=back)
        assert response.headers["location"] == "/mail/INBOX"


async def test_bob_signed_in_sees_only_his_own_inbox(
        store: Store, account: AccountInfo, server: object, client: httpx.AsyncClient) -> None:
    bob = await store.accounts.create("bob@example.com", "bob's long password")
    await deliver(store, (await store.folders.get(bob.id, "INBOX")).id,
                  [make_message("for bob only")])
    await deliver(store, await inbox_id(store, account), [make_message("for ann only")])
    assert (await login(client, "bob@example.com", "bob's long password")).status_code == 303
    page = await client.get("/mail/INBOX")
    assert "for bob only" in page.text and "for ann only" not in page.text
