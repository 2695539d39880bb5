"""The URLs of the webmail, built in one place so templates and views agree.

Folder names use "/" as hierarchy delimiter and appear in paths as they are (each level
percent-encoded). The folder is therefore the last-but-fixed piece of every path: each
kind of page has its own prefix, and the numbers come after the folder, so that
``/message/Archive/2024/17`` can only mean message 17 of folder "Archive/2024".
"""

from __future__ import annotations

from urllib.parse import quote, urlencode


def _folder(name: str) -> str:
    return quote(name, safe="/")


def _list_query(page: int, sort: str, order: str, threads: bool | None) -> dict[str, object]:
    """The list's state as query parameters; defaults stay out of the URL."""
    query: dict[str, object] = {}
    if page > 1:
        query["page"] = page
    if sort != "date":
        query["sort"] = sort
    if order != "desc":
        query["order"] = order
    if threads is not None:
        query["threads"] = int(threads)
    return query


def folder(name: str, page: int = 1, *, sort: str = "date", order: str = "desc",
           threads: bool | None = None) -> str:
    """A page of a folder's list; defaults (date, newest first) stay out of the URL."""
    query = _list_query(page, sort, order, threads)
    url = f"/mail/{_folder(name)}"
    return f"{url}?{urlencode(query)}" if query else url


def message_path(name: str, uid: int) -> str:
    """"folder/uid" as the message URLs of every helper end (reply, forward, original…)."""
    return f"{_folder(name)}/{uid}"


def actions() -> str:
    return "/actions"


def folders() -> str:
    """The folder management page."""
    return "/folders"


def folder_action(kind: str) -> str:
    """Where the folder forms post: create, rename, move, delete, empty."""
    return f"/folders/{kind}"


def events() -> str:
    return "/events"


def message(name: str, uid: int, *, page: int = 1, images: bool = False,
            view: str | None = None, sort: str = "date", order: str = "desc",
            threads: bool | None = None, back: str | None = None) -> str:
    """A message in the reading pane, beside the list page it was opened from; ``back``
    (a path on this site, such as search results) is where its "Back" goes instead."""
    query = _list_query(page, sort, order, threads)
    if images:
        query["images"] = 1
    if view:
        query["view"] = view
    if back:
        query["back"] = back
    url = f"/message/{_folder(name)}/{uid}"
    return f"{url}?{urlencode(query)}" if query else url


def body(name: str, uid: int, *, images: bool = False) -> str:
    url = f"/body/{_folder(name)}/{uid}"
    return f"{url}?images=1" if images else url


def attachment(name: str, uid: int, part: str) -> str:
    return f"/attachment/{_folder(name)}/{uid}/{quote(part, safe='')}"


def search(q: str = "", *, scope: str = "folder", folder: str = "", page: int = 1,
           **fields: str) -> str:
    """The search page; ``fields`` are the advanced ones (from, to, subject, body, since,
    before, attachment), empty ones left out."""
    query: dict[str, object] = {"q": q}
    if scope != "folder":
        query["scope"] = scope
    if folder:
        query["folder"] = folder
    query.update({k: v for k, v in fields.items() if v})
    if page > 1:
        query["page"] = page
    return f"/search?{urlencode(query)}"


def original(name: str, uid: int) -> str:
    return f"/original/{_folder(name)}/{uid}"


def eml(name: str, uid: int) -> str:
    return f"/eml/{_folder(name)}/{uid}"


def print_view(name: str, uid: int) -> str:
    return f"/print/{_folder(name)}/{uid}"


def zip_all(name: str, uid: int) -> str:
    return f"/zip/{_folder(name)}/{uid}"


def trusted_senders() -> str:
    return "/trusted-senders"


def compose(to: str | None = None) -> str:
    return f"/compose?{urlencode({'to': to})}" if to else "/compose"


def reply(name: str, uid: int) -> str:
    return f"/compose/reply/{_folder(name)}/{uid}"


def reply_all(name: str, uid: int) -> str:
    return f"/compose/reply-all/{_folder(name)}/{uid}"


def forward(name: str, uid: int, attach: bool = False) -> str:
    url = f"/compose/forward/{_folder(name)}/{uid}"
    return f"{url}?attach=1" if attach else url


def compose_draft(uid: int) -> str:
    return f"/compose/draft/{uid}"


def compose_sending(uid: int) -> str:
    return f"/compose/sending/{uid}"


def compose_undo(uid: int) -> str:
    return f"/compose/undo/{uid}"


def contacts(q: str = "") -> str:
    """The Contacts page (the address book), filtered by ``q``."""
    return f"/contacts?{urlencode({'q': q})}" if q else "/contacts"


def contact_action(kind: str = "") -> str:
    """Where the Contacts forms post: add (""), edit, remove."""
    return f"/contacts/{kind}" if kind else "/contacts"


def settings(section: str | None = None) -> str:
    return f"/settings#{section}" if section else "/settings"
