"""The distribution lists pages: an address whose mail goes to every member, who may
post to it, and how the members' copy is marked (subject prefix, Reply-To)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mailstore.errors import StoreError
from mailstore.lists import ListInfo
from webapp.admin.directory import checked, field_errors, text
from webapp.admin.guard import actor
from webapp.admin.pages import done, page, store
from webapp.views.errors import error_page

PATH = "/admin/lists"

# The posting policies (mailstore.lists.POLICIES), as the form offers them.
POLICY_LABELS = [
    ("anyone", "Anyone, inside or outside"),
    ("members", "Only its members"),
    ("domain", "Only people in the list's own domain"),
    ("senders", "Only the senders listed below"),
]


async def _show(request: Request, status: int = 200, **context: Any) -> Response:
    lists = await store(request).lists.all()
    domains = await store(request).accounts.list_domains()
    context.setdefault("errors", {})
    context.setdefault("typed", {"address": "", "policy": "members", "subject_prefix": "",
                                 "reply_to_list": False})
    return page(request, "admin/lists.html", PATH, status, lists=lists, domains=domains,
                policies=POLICY_LABELS, **context)


async def show(request: Request) -> Response:
    return await _show(request)


def _settings(form: Any) -> dict[str, Any]:
    return {"policy": text(form, "policy", 20),
            "subject_prefix": text(form, "subject_prefix", 200),
            "reply_to_list": checked(form, "reply_to_list")}


async def create(request: Request) -> Response:
    form = await request.form()
    typed = {"address": text(form, "address", 320), **_settings(form)}
    try:
        await store(request).directory.create_list(
            actor(request), typed["address"], policy=typed["policy"],
            subject_prefix=typed["subject_prefix"], reply_to_list=typed["reply_to_list"])
    except StoreError as exc:
        return await _show(request, 400, errors=field_errors(exc, "address"), typed=typed)
    address = typed["address"].lower()
    return done(f"{PATH}/{address}", f"Created the list {address}. Now add its members.")


async def _list(request: Request) -> ListInfo | None:
    try:
        return await store(request).lists.get(request.path_params["address"])
    except StoreError:
        return None


async def _detail(request: Request, info: ListInfo, status: int = 200,
                  **context: Any) -> Response:
    context.setdefault("errors", {})
    context.setdefault("typed", {"policy": info.policy, "subject_prefix": info.subject_prefix,
                                 "reply_to_list": info.reply_to_list})
    context.setdefault("member_typed", {"member": "", "sender": ""})
    return page(request, "admin/list.html", PATH, status, info=info, policies=POLICY_LABELS,
                **context)


def _missing(request: Request) -> Response:
    return error_page(request, 404, "There is no such distribution list (it may have been "
                                    "deleted).")


async def detail(request: Request) -> Response:
    info = await _list(request)
    return _missing(request) if info is None else await _detail(request, info)


async def update(request: Request) -> Response:
    info = await _list(request)
    if info is None:
        return _missing(request)
    form = await request.form()
    typed = _settings(form)
    try:
        await store(request).directory.update_list(actor(request), info.address, **typed)
    except StoreError as exc:
        return await _detail(request, info, 400, errors=field_errors(exc, "policy"),
                             typed=typed)
    return done(f"{PATH}/{info.address}", f"Saved the settings of {info.address}.")


async def member(request: Request) -> Response:
    """Adds or removes a member or a sender (``action`` add/remove, ``role``)."""
    info = await _list(request)
    if info is None:
        return _missing(request)
    form = await request.form()
    role = "sender" if text(form, "role", 10) == "sender" else "member"
    person = text(form, role, 320)
    adding = text(form, "action", 10) != "remove"
    directory = store(request).directory
    try:
        if adding:
            await directory.add_list_member(actor(request), info.address, person, role)
        else:
            await directory.remove_list_member(actor(request), info.address, person, role)
    except StoreError as exc:
        return await _detail(request, info, 400, errors=field_errors(exc, role),
                             member_typed={"member": "", "sender": "", role: person})
    what = "member" if role == "member" else "allowed sender"
    verb = f"Added {person.lower()} as a {what}" if adding \
        else f"Removed {person.lower()} as a {what}"
    return done(f"{PATH}/{info.address}", f"{verb} of {info.address}.")


async def remove(request: Request) -> Response:
    info = await _list(request)
    if info is None:
        return _missing(request)
    try:
        await store(request).directory.remove_list(actor(request), info.address)
    except StoreError as exc:
        return await _detail(request, info, 400, errors=field_errors(exc, "remove"))
    return done(PATH, f"Deleted the list {info.address}; mail for it is now refused.")


ROUTES = [
    (PATH, show, ["GET"]),
    (PATH, create, ["POST"]),
    (PATH + "/{address}", detail, ["GET"]),
    (PATH + "/{address}", update, ["POST"]),
    (PATH + "/{address}/members", member, ["POST"]),
    (PATH + "/{address}/delete", remove, ["POST"]),
]
