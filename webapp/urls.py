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
