"""Acting on selected messages: move, delete, archive, mark read/unread, flag, report junk.

Implementation notes:
- One endpoint (POST /actions) for the list's toolbar, the reading pane's toolbar, the
  keyboard and drag and drop: the form names the source folder, the UIDs and the action.
- The source and target folders are looked up among the signed-in account's folders and
  the UIDs inside the source folder, so another user's mail can be neither named nor moved.
- "Delete" moves to Trash; in Trash it deletes for good (as Gmail and Outlook do).
- A plain form post is answered with 303 back to the list (``back``, a path on this site;
  flagging from the reading pane stays on the message, ``stay``);
  a script (htmx header) gets 204 and refreshes what it shows itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mailstore.errors import NotFound, QuotaExceeded
from mailstore.store import Store
from mailstore.values import FolderInfo
from webapp import urls
from webapp.auth import login_required
from webapp.templating import render
from webapp.views.mail import MAX_UID, find_folder, list_context, special_folder

ACTIONS = ("move", "delete", "archive", "read", "unread", "flag", "unflag", "junk")
# Flag changes: action -> (flag, mode).
_FLAGS = {"read": ("\\Seen", "add"), "unread": ("\\Seen", "remove"),
          "flag": ("\\Flagged", "add"), "unflag": ("\\Flagged", "remove")}
# Moves to a special folder: action -> (SPECIAL-USE, the folder's usual name).
_SPECIAL = {"archive": ("\\Archive", "Archive"), "junk": ("\\Junk", "Junk"),
            "delete": ("\\Trash", "Trash")}


class ActionError(Exception):
    """The request cannot be carried out; the message says why, for the user."""


@dataclass(frozen=True, slots=True)
class Selection:
    folder: FolderInfo
    uids: list[int]
    action: str


def _uids(form: FormData) -> list[int]:
    uids: list[int] = []
    for value in form.getlist("uid"):
        try:
            uid = int(str(value))
        except ValueError:
            raise ActionError(f"{value!r} is not a message number") from None
        if not 0 < uid <= MAX_UID:
            raise ActionError(f"{uid} is not a message number")
        uids.append(uid)
    if not uids:
        raise ActionError("Select at least one message first.")
    return sorted(set(uids))


def _back(form: FormData, folder: FolderInfo, action: str) -> str:
    """Where to go next: the open message stays open when only its flag changed
    (``stay``); otherwise back to the list (``back``)."""
    back = str(form.get("back") or "")
    if action in ("flag", "unflag") and form.get("stay"):
        back = str(form.get("stay"))
    # Only a path on this site: never an open redirect.
    if back.startswith("/") and not back.startswith(("//", "/\\")):
        return back
    return urls.folder(folder.name)


def _target(folders: list[FolderInfo], selection: Selection, form: FormData) -> FolderInfo:
    if selection.action == "move":
        name = str(form.get("target") or "")
        if not name:
            raise ActionError("Choose the folder to move the messages to.")
        try:
            target = find_folder(folders, name)
        except NotFound:
            raise ActionError(f"There is no folder called {name}.") from None
    else:
        use, usual = _SPECIAL[selection.action]
        found = special_folder(folders, use) or next(
            (f for f in folders if f.name == usual), None)
        if found is None:
            raise ActionError(f"You have no {usual} folder; create one called {usual}.")
        target = found
    if target.id == selection.folder.id:
        raise ActionError(f"The messages are already in {target.name}.")
    return target


async def apply(store: Store, folders: list[FolderInfo], selection: Selection,
                form: FormData) -> None:
    """Carry out one action on the selected messages of ``selection.folder``."""
    folder, uids, action = selection.folder, selection.uids, selection.action
    if action in _FLAGS:
        flag, mode = _FLAGS[action]
        await store.messages.store_flags(folder.id, uids, [flag], mode)
        return
    if action == "delete" and folder.special_use == "\\Trash":
        await store.messages.delete(folder.id, uids)
        return
    target = _target(folders, selection, form)
    try:
        await store.messages.move(folder.id, uids, target.id)
    except QuotaExceeded as exc:
        raise ActionError(f"The messages could not be moved: {exc}") from None


@login_required
async def act(request: Request) -> Response:
    store: Store = request.app.state.store
    form = await request.form()
    folders = await store.folders.list(request.state.account.id)
    folder = find_folder(folders, str(form.get("folder") or ""))  # 404 for others' folders
    action = str(form.get("action") or "")
    try:
        if action not in ACTIONS:
            raise ActionError(f"Unknown action {action!r}.")
        selection = Selection(folder, _uids(form), action)
        await apply(store, folders, selection, form)
    except ActionError as exc:
        return await _refused(request, folder, folders, str(exc))
    if request.headers.get("hx-request"):
        return Response(status_code=204)
    return RedirectResponse(_back(form, folder, action), status_code=303)


async def _refused(request: Request, folder: FolderInfo, folders: list[FolderInfo],
                   error: str) -> Response:
    if request.headers.get("hx-request"):
        return Response(error, status_code=400, media_type="text/plain")
    context = await list_context(request, folder, folders)
    context.update(message=None, action_error=error)
    return render(request, "mail.html", context, status_code=400)
