"""Managing folders: create, rename, move under another folder, delete, empty Trash/Junk.

Implementation notes:
- One page (GET /folders) holds every form; a refused form is shown again with the error
  next to its field and what was typed kept (status 400), never a traceback.
- Names are checked by the store (``normalise_folder``, reserved namespaces); this module
  only adds the webmail's rules: a name is one level (no "/": moving is its own form),
  special folders (INBOX, Sent, Trash…) are not deleted, a folder with subfolders is not
  deleted, and deleting or emptying a folder that holds mail needs a ticked confirmation.
- Every lookup goes through the signed-in account's folder list: another user's folder
  cannot be named.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mailstore.errors import AlreadyExists, InvalidName, NotFound
from mailstore.names import DELIMITER
from mailstore.store import Store
from mailstore.values import FolderInfo
from webapp import urls
from webapp.auth import login_required
from webapp.templating import render
from webapp.views.mail import EMPTIABLE, find_folder, folder_label, folder_links


class FormProblem(Exception):
    """A folder form that cannot be carried out; ``field`` says where to show it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class Outcome:
    """Which form failed (``form``: create, or "<kind>:<folder>"), why, and what was sent."""

    form: str = ""
    field: str = ""
    error: str = ""
    values: dict[str, str] = dataclasses.field(default_factory=dict)


def _leaf(form: FormData, key: str = "name") -> str:
    name = str(form.get(key) or "").strip()
    if not name:
        raise FormProblem(key, "Enter a name for the folder.")
    if DELIMITER in name:
        raise FormProblem(key, f"A folder name cannot contain {DELIMITER!r}; "
                               "choose the parent folder in the list instead.")
    return name


def _parent(folders: list[FolderInfo], form: FormData) -> str:
    """The chosen parent folder's name, or "" for the top level."""
    name = str(form.get("parent") or "")
    if not name:
        return ""
    try:
        return find_folder(folders, name).name
    except NotFound:
        raise FormProblem("parent", f"There is no folder called {name}.") from None


def _joined(parent: str, leaf: str) -> str:
    return f"{parent}{DELIMITER}{leaf}" if parent else leaf


def _store_problem(exc: Exception, field: str) -> FormProblem:
    if isinstance(exc, AlreadyExists):
        return FormProblem(field, "A folder with that name already exists.")
    return FormProblem(field, str(exc)[:1].upper() + str(exc)[1:] + ".")


async def _create(store: Store, account_id: int, folders: list[FolderInfo],
                  form: FormData) -> None:
    target = _joined(_parent(folders, form), _leaf(form))
    try:
        await store.folders.create(account_id, target)
    except (AlreadyExists, InvalidName) as exc:
        raise _store_problem(exc, "name") from None


async def _rename_to(store: Store, account_id: int, folder: FolderInfo, target: str,
                     field: str) -> None:
    if folder.name == "INBOX":
        raise FormProblem(field, "The Inbox cannot be renamed or moved.")
    if target == folder.name:
        return
    if target.startswith(folder.name + DELIMITER):
        raise FormProblem(field, "A folder cannot be moved into one of its own subfolders.")
    try:
        await store.folders.rename(account_id, folder.name, target)
    except (AlreadyExists, InvalidName) as exc:
        raise _store_problem(exc, field) from None


async def _rename(store: Store, account_id: int, folders: list[FolderInfo],
                  form: FormData) -> None:
    folder = find_folder(folders, str(form.get("folder") or ""))
    parent = folder.name.rpartition(DELIMITER)[0]
    await _rename_to(store, account_id, folder, _joined(parent, _leaf(form)), "name")


async def _move(store: Store, account_id: int, folders: list[FolderInfo],
                form: FormData) -> None:
    folder = find_folder(folders, str(form.get("folder") or ""))
    leaf = folder.name.rpartition(DELIMITER)[2]
    await _rename_to(store, account_id, folder, _joined(_parent(folders, form), leaf),
                     "parent")


async def _delete(store: Store, account_id: int, folders: list[FolderInfo],
                  form: FormData) -> None:
    folder = find_folder(folders, str(form.get("folder") or ""))
    if folder.name == "INBOX" or folder.special_use:
        raise FormProblem("confirm", f"{folder_label(folder.name)} is a special folder "
                                     "and cannot be deleted.")
    if any(f.name.startswith(folder.name + DELIMITER) for f in folders):
        raise FormProblem("confirm", "Delete or move its subfolders first.")
    if folder.messages and form.get("confirm") != "yes":
        raise FormProblem("confirm", f"This folder holds {folder.messages} messages; tick "
                                     "the box to delete them with it.")
    await store.folders.delete(account_id, folder.name)


async def _empty(store: Store, account_id: int, folders: list[FolderInfo],
                 form: FormData) -> None:
    folder = find_folder(folders, str(form.get("folder") or ""))
    if folder.special_use not in EMPTIABLE:
        raise FormProblem("confirm", "Only Trash and Junk can be emptied.")
    if form.get("confirm") != "yes":
        raise FormProblem("confirm", "Tick the box to confirm: emptied messages are "
                                     "deleted for good.")
    await store.messages.delete(folder.id, await store.messages.uids(folder.id))


_HANDLERS = {"create": _create, "rename": _rename, "move": _move, "delete": _delete,
             "empty": _empty}


async def _page(request: Request, outcome: Outcome, status: int = 200) -> Response:
    store: Store = request.app.state.store
    folders = await store.folders.list(request.state.account.id)
    inbox = next((f for f in folders if f.name == "INBOX"), None)
    return render(request, "folders.html", {
        "folders": folder_links(folders, None), "outcome": outcome,
        "infos": folders, "emptiable": EMPTIABLE, "delimiter": DELIMITER,
        "inbox_unseen": inbox.unseen if inbox is not None else 0,
        "done": request.query_params.get("done", ""),
    }, status_code=status)


@login_required
async def manage(request: Request) -> Response:
    return await _page(request, Outcome())


@login_required
async def change(request: Request) -> Response:
    kind = request.path_params["kind"]
    handler = _HANDLERS.get(kind)
    if handler is None:
        raise NotFound(f"there is no folder action {kind}")
    store: Store = request.app.state.store
    account_id = request.state.account.id
    form = await request.form()
    folders = await store.folders.list(account_id)
    try:
        await handler(store, account_id, folders, form)
    except FormProblem as exc:
        key = kind if kind == "create" else f"{kind}:{form.get('folder') or ''}"
        values = {k: str(v) for k, v in form.items() if k != "csrf_token"}
        return await _page(request, Outcome(key, exc.field, str(exc), values), 400)
    back = str(form.get("back") or "")
    if kind == "empty" and back.startswith("/") and not back.startswith(("//", "/\\")):
        return RedirectResponse(back, status_code=303)
    return RedirectResponse(f"{urls.folders()}?done={kind}", status_code=303)
