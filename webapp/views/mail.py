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
- The list is one page query whatever the folder's size (``Messages.page``); sort, order
  and the conversation view come from the URL, their defaults and the page size from the
  user's preferences. The conversation view threads the current page only (REFERENCES,
  RFC 5256), so its cost does not grow with the folder.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from mailstore import threads
from mailstore.errors import InvalidName, NotFound
from mailstore.flags import SEEN
from mailstore.messages import LIST_SORTS
from mailstore.names import DELIMITER, normalise_folder
from mailstore.preferences import Preferences
from mailstore.store import Store
from mailstore.values import FolderInfo, MessageSummary, StoredMessage
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


def special_folder(folders: list[FolderInfo], use: str) -> FolderInfo | None:
    """The folder with SPECIAL-USE ``use`` (RFC 6154), e.g. "\\Trash"."""
    return next((f for f in folders if f.special_use == use), None)


def find_folder(folders: list[FolderInfo], raw_name: str) -> FolderInfo:
    """The account's folder called ``raw_name``, or NotFound (also for invalid names)."""
    try:
        name = normalise_folder(raw_name)
    except InvalidName as exc:
        raise NotFound(f"folder {raw_name} does not exist") from exc
    for folder in folders:
        if folder.name == name:
            return folder
    raise NotFound(f"folder {name} does not exist")


async def _folders(request: Request) -> tuple[FolderInfo, list[FolderInfo]]:
    """The folder named in the URL (of the signed-in account) and all its folders."""
    folders = await _store(request).folders.list(request.state.account.id)
    return find_folder(folders, request.path_params["folder"]), folders


@dataclass(frozen=True, slots=True)
class ListState:
    """How the list is shown (folder, page, sort, order, threads), for links that keep it."""

    folder: str
    page: int
    sort: str
    order: str
    threads: bool
    threads_default: bool

    def url(self, *, page: int | None = None, sort: str | None = None,
            order: str | None = None, threads: bool | None = None) -> str:
        wanted_threads = self.threads if threads is None else threads
        return urls.folder(
            self.folder, self.page if page is None else page, sort=sort or self.sort,
            order=order or self.order,
            threads=None if wanted_threads == self.threads_default else wanted_threads)

    def message_url(self, uid: int) -> str:
        return urls.message(
            self.folder, uid, page=self.page, sort=self.sort, order=self.order,
            threads=None if self.threads == self.threads_default else self.threads)

    def sort_url(self, sort: str) -> str:
        """Sorting by a column again flips its order; a new column starts at its usual one."""
        if sort == self.sort:
            return self.url(page=1, order="asc" if self.order == "desc" else "desc")
        return self.url(page=1, sort=sort, order=DEFAULT_ORDER[sort])


# The first click on a column sorts newest, biggest first; names from A.
DEFAULT_ORDER = {"date": "desc", "size": "desc", "from": "asc", "subject": "asc"}
SORT_LABELS = {"date": "Date", "from": "Sender", "subject": "Subject", "size": "Size"}


@dataclass(frozen=True, slots=True)
class ListRow:
    """One row of the list; ``depth`` > 0 for a reply shown under its thread."""

    message: MessageSummary
    depth: int = 0


def _list_state(request: Request, folder: FolderInfo, preferences: Preferences,
                pages: int) -> ListState:
    query = request.query_params
    sort = query.get("sort", "date")
    if sort not in LIST_SORTS:
        sort = "date"
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        order = "desc"
    threads = preferences.thread_view
    if query.get("threads") in ("0", "1"):
        threads = query["threads"] == "1"
    return ListState(folder=folder.name, page=min(_page_number(request), pages), sort=sort,
                     order=order, threads=threads, threads_default=preferences.thread_view)


async def threaded(store: Store, folder_id: int,
                   messages: list[MessageSummary]) -> list[ListRow]:
    """The page's messages grouped into conversations (RFC 5256 REFERENCES threading).

    Only the page is threaded, so the cost stays one page's worth on any folder: each
    conversation appears where its first message of the page would, its other messages
    of the page under it, indented by reply depth.
    """
    by_uid = {m.uid: m for m in messages}
    fields = await store.messages.sort_fields(folder_id, list(by_uid))
    place: dict[int, tuple[int, int]] = {}  # uid -> (thread number, depth)
    ordered: dict[int, list[int]] = {}
    for number, top in enumerate(threads.references(fields)):
        stack = [(top, 0)]
        while stack:
            node, depth = stack.pop()
            if node.uid is not None:
                place[node.uid] = (number, depth)
                ordered.setdefault(number, []).append(node.uid)
            # A dummy (a message not on the page) does not indent its children.
            child_depth = depth + 1 if node.uid is not None else depth
            stack.extend((c, child_depth) for c in reversed(node.children))
    rows: list[ListRow] = []
    shown: set[int] = set()
    for message in messages:
        number, _ = place.get(message.uid, (-message.uid, 0))
        if number in shown:
            continue
        shown.add(number)
        for uid in ordered.get(number, [message.uid]):
            rows.append(ListRow(by_uid[uid], min(place.get(uid, (0, 0))[1], 4)))
    return rows


async def list_context(request: Request, folder: FolderInfo,
                       folders: list[FolderInfo]) -> dict[str, object]:
    """Everything mail.html needs for the folder list and the message list."""
    store = _store(request)
    preferences = await store.preferences.get(request.state.account.id)
    per_page = preferences.per_page
    if preferences.per_page == Preferences().per_page:  # not chosen: the site's default
        per_page = request.app.state.messages_per_page
    pages = max(1, math.ceil(folder.messages / per_page))
    state = _list_state(request, folder, preferences, pages)
    offset = (state.page - 1) * per_page
    messages = await store.messages.page(folder.id, offset, per_page, sort=state.sort,
                                         descending=state.order == "desc")
    rows = (await threaded(store, folder.id, messages) if state.threads and messages
            else [ListRow(m) for m in messages])
    inbox = next((f for f in folders if f.name == "INBOX"), None)
    return {
        "folder": folder, "folders": folder_links(folders, folder.name),
        "folder_label": folder_label(folder.name),
        "messages": messages, "rows": rows, "page": state.page, "pages": pages,
        "first": offset + 1 if messages else 0, "last": offset + len(messages),
        "current_uid": None, "state": state, "sort_labels": SORT_LABELS,
        "preferences": preferences,
        "inbox_unseen": inbox.unseen if inbox is not None else 0,
        "move_targets": [f for f in folder_links(folders, folder.name) if not f.current],
        "can_empty": folder.special_use in EMPTIABLE, "action_error": None,
    }


# Folders whose "Empty" button deletes everything in them for good.
EMPTIABLE = ("\\Trash", "\\Junk")


def folder_label(name: str) -> str:
    return _LABELS.get(name, name.replace(DELIMITER, " / "))


@login_required
async def home(request: Request) -> Response:
    return RedirectResponse(urls.folder("INBOX"), status_code=303)


@login_required
async def message_list(request: Request) -> Response:
    folder, folders = await _folders(request)
    context = await list_context(request, folder, folders)
    return render(request, "mail.html", {**context, "message": None})


async def _message(request: Request) -> tuple[FolderInfo, list[FolderInfo], StoredMessage]:
    folder, folders = await _folders(request)
    uid: int = request.path_params["uid"]
    if not 0 < uid <= MAX_UID:
        raise NotFound(f"message {uid} does not exist in this folder")
    message = await _store(request).messages.get(folder.id, uid)
    return folder, folders, message


MAX_BACK = 2000


def back_path(value: str | None) -> str | None:
    """The ``back`` of a message URL if it is a path on this site (never another site:
    no open redirect), else None and "Back" goes to the folder."""
    if not value or len(value) > MAX_BACK or not value.startswith("/") \
            or value.startswith(("//", "/\\")) \
            or any(ord(ch) < 0x20 or ch == "\x7f" for ch in value):
        return None
    return value


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
    context = await list_context(request, folder, folders)
    sender = (await store.contacts.get(request.state.account.id, message.from_addr)
              if message.from_addr else None)
    context.update(
        back_url=back_path(request.query_params.get("back")),
        sender_saved=sender is not None and sender.saved,
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
