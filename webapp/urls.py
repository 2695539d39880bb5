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


def folder(name: str, page: int = 1) -> str:
    url = f"/mail/{_folder(name)}"
    return url if page <= 1 else f"{url}?{urlencode({'page': page})}"


def message(name: str, uid: int, *, page: int = 1, images: bool = False,
            view: str | None = None) -> str:
    query = {}
    if page > 1:
        query["page"] = page
    if images:
        query["images"] = 1
    if view:
        query["view"] = view
    url = f"/message/{_folder(name)}/{uid}"
    return f"{url}?{urlencode(query)}" if query else url


def body(name: str, uid: int, *, images: bool = False) -> str:
    url = f"/body/{_folder(name)}/{uid}"
    return f"{url}?images=1" if images else url


def attachment(name: str, uid: int, part: str) -> str:
    return f"/attachment/{_folder(name)}/{uid}/{quote(part, safe='')}"


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


def settings(section: str | None = None) -> str:
    return f"/settings#{section}" if section else "/settings"
