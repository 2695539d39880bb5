"""Reading mail: the folder list, the paged message list, one message, its sanitised HTML
body, and attachment downloads.

Implementation notes:
- Lists come from the store's parsed cache only; a blob is read only for the message
  that is opened (and its body and attachments).
- Every lookup is scoped to the signed-in account: a folder is found by (account, name),
  a message by (folder, uid), so another user's mail cannot be named, let alone reached.
- The HTML body is a separate document in ``<iframe sandbox>`` with a policy that allows
  no script and no network loads (unless the user asked for images): if the sanitiser
  ever missed something, nothing runs and nothing phones home.
- Opening a message sets \\Seen (RFC 9051 §2.3.2), as a mail client does on FETCH BODY[].
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from mailstore.errors import InvalidName, NotFound
from mailstore.flags import SEEN
from mailstore.names import DELIMITER, normalise_folder
from mailstore.store import Store
from mailstore.values import FolderInfo, StoredMessage
from webapp import urls
from webapp.auth import login_required
from webapp.downloads import DOWNLOAD_POLICY, content_disposition
from webapp.message_content import (
    Body,
    attachment_data,
    attachments,
    inline_images,
    read_body,
    safe_content_type,
    sections_of,
    shown_attachments,
)
from webapp.plaintext import text_to_html
from webapp.sanitize import sanitize_html
from webapp.templating import render
from webapp.views.senders import images_choice


def body_policy(images: bool) -> str:
    """CSP of the message body document: no script, no fetches, styles only inline."""
    img = "img-src data: cid:" + (" https: http:" if images else "")
    return "; ".join(("default-src 'none'", "style-src 'unsafe-inline'", img,
                      "frame-ancestors 'self'", "base-uri 'none'", "form-action 'none'"))


# RFC 9051 §2.3.1.1: a UID is a 32-bit number; larger ones would overflow the database.
MAX_UID = 2**32 - 1

# How folder names are shown when they are not shown as they are.
_LABELS = {"INBOX": "Inbox"}


@dataclass(frozen=True, slots=True)
class FolderLink:
    """One entry of the folder navigation."""

    name: str
    label: str
    depth: int
    unseen: int
    messages: int
    special_use: str | None
    current: bool

    @property
    def url(self) -> str:
        return urls.folder(self.name)


def folder_links(folders: list[FolderInfo], current: str | None) -> list[FolderLink]:
    return [FolderLink(
        name=f.name, label=_LABELS.get(f.name, f.name.rsplit(DELIMITER, 1)[-1]),
        depth=f.name.count(DELIMITER), unseen=f.unseen, messages=f.messages,
        special_use=f.special_use, current=f.name == current) for f in folders]


def _store(request: Request) -> Store:
    return request.app.state.store


def _page_number(request: Request) -> int:
    try:
        return max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        return 1


async def _folders(request: Request) -> tuple[FolderInfo, list[FolderInfo]]:
    """The folder named in the URL (of the signed-in account) and all its folders."""
    try:
        name = normalise_folder(request.path_params["folder"])
    except InvalidName as exc:
        raise NotFound(f"folder {request.path_params['folder']} does not exist") from exc
    folders = await _store(request).folders.list(request.state.account.id)
    for folder in folders:
        if folder.name == name:
            return folder, folders
    raise NotFound(f"folder {name} does not exist")


async def _list_context(request: Request, folder: FolderInfo,
                        folders: list[FolderInfo]) -> dict[str, object]:
    per_page: int = request.app.state.messages_per_page
    pages = max(1, math.ceil(folder.messages / per_page))
    page = min(_page_number(request), pages)
    offset = (page - 1) * per_page
    messages = await _store(request).messages.page(folder.id, offset, per_page)
    return {
        "folder": folder, "folders": folder_links(folders, folder.name),
        "folder_label": _LABELS.get(folder.name, folder.name.replace(DELIMITER, " / ")),
        "messages": messages, "page": page, "pages": pages,
        "first": offset + 1 if messages else 0, "last": offset + len(messages),
        "current_uid": None,
    }


@login_required
async def home(request: Request) -> Response:
    return RedirectResponse(urls.folder("INBOX"), status_code=303)


@login_required
async def message_list(request: Request) -> Response:
    folder, folders = await _folders(request)
    context = await _list_context(request, folder, folders)
    return render(request, "mail.html", {**context, "message": None})


async def _message(request: Request) -> tuple[FolderInfo, list[FolderInfo], StoredMessage]:
    folder, folders = await _folders(request)
    uid: int = request.path_params["uid"]
    if not 0 < uid <= MAX_UID:
        raise NotFound(f"message {uid} does not exist in this folder")
    message = await _store(request).messages.get(folder.id, uid)
    return folder, folders, message


def _view(requested: str | None, body: Body) -> str:
    """Formatted (HTML) when the sender wrote HTML, unless plain text was asked for."""
    if body.html is None or (requested == "text" and body.text is not None):
        return "text"
    return "html"


@login_required
async def message_page(request: Request) -> Response:
    store = _store(request)
    folder, folders, message = await _message(request)
    if not message.flags & SEEN:
        changed = await store.messages.store_flags(folder.id, [message.uid], ["\\Seen"], "add")
        if changed:
            message = dataclasses.replace(message, flags=changed[0].flags)
            folders = [dataclasses.replace(f, unseen=max(0, f.unseen - 1))
                       if f.id == folder.id else f for f in folders]
            folder = next(f for f in folders if f.id == folder.id)
    raw = await run_in_threadpool(store.messages.read_raw, message.sha256)
    sections = sections_of(message)
    body = read_body(raw, sections)
    found = attachments(message)
    choice = await images_choice(request, message)
    images = choice.show
    view = _view(request.query_params.get("view"), body)
    blocked = 0
    if view == "html" and body.html is not None and not images:
        blocked = sanitize_html(body.html, inline_image=lambda _cid: None).blocked_images
    context = await _list_context(request, folder, folders)
    context.update(
        current_uid=message.uid, message=message, view=view, images=images,
        trusted_sender=choice.trusted,
        blocked_images=blocked, has_html=body.html is not None,
        has_text=body.text is not None,
        text_html=text_to_html(body.text) if view == "text" and body.text else None,
        attachments=shown_attachments(found, body.html),
        date=message.sent_date or message.internal_date,
    )
    return render(request, "mail.html", context)


@login_required
async def message_body(request: Request) -> Response:
    """The sanitised HTML body, as its own document for the sandboxed iframe."""
    store = _store(request)
    _folder, _all, message = await _message(request)
    raw = await run_in_threadpool(store.messages.read_raw, message.sha256)
    sections = sections_of(message)
    body = read_body(raw, sections)
    if body.html is None:
        raise NotFound("this message has no HTML body")
    images = request.query_params.get("images") == "1"
    safe = sanitize_html(body.html, allow_remote_images=images,
                         inline_image=inline_images(raw, sections, attachments(message)))
    templates = request.app.state.templates
    html = templates.get_template("body.html").render(body=safe.html)
    return HTMLResponse(html, headers={"content-security-policy": body_policy(images)})


@login_required
async def attachment(request: Request) -> Response:
    store = _store(request)
    _folder, _all, message = await _message(request)
    part = request.path_params["part"]
    wanted = next((a for a in attachments(message) if a.part == part), None)
    if wanted is None:
        raise NotFound(f"this message has no attachment {part}")
    raw = await run_in_threadpool(store.messages.read_raw, message.sha256)
    data = attachment_data(raw, sections_of(message), wanted)
    filename = wanted.filename or f"part-{part}"
    return Response(data, headers={
        "content-type": safe_content_type(wanted.content_type),
        "content-disposition": content_disposition(filename),
        "content-security-policy": DOWNLOAD_POLICY,
        "cache-control": "private, no-store",
    })
