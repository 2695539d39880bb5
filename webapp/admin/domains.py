"""The domains page: the mail domains this server receives for, add and remove."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mailstore.errors import StoreError
from webapp.admin.directory import field_errors, text
from webapp.admin.guard import actor
from webapp.admin.pages import done, page, store

PATH = "/admin/domains"


async def _show(request: Request, status: int = 200, **context: Any) -> Response:
    directory = store(request)
    domains = await directory.accounts.list_domains()
    catch_alls = await directory.directory.catch_alls()
    context.setdefault("errors", {})
    context.setdefault("typed", "")
    context.setdefault("remove_errors", {})
    return page(request, "admin/domains.html", PATH, status, domains=domains,
                catch_alls=catch_alls, **context)


async def show(request: Request) -> Response:
    return await _show(request)


async def add(request: Request) -> Response:
    form = await request.form()
    name = text(form, "domain", 300)
    try:
        info = await store(request).directory.add_domain(actor(request), name)
    except StoreError as exc:
        return await _show(request, 400, errors=field_errors(exc, "domain"), typed=name)
    return done(PATH, f"Added the domain {info.name}. Now add its accounts on the Accounts "
                      "page.")


async def remove(request: Request) -> Response:
    form = await request.form()
    name = text(form, "domain", 300)
    try:
        removed = await store(request).directory.remove_domain(actor(request), name)
    except StoreError as exc:
        return await _show(request, 400, remove_errors={name: field_errors(exc, "domain")
                                                        .popitem()[1]})
    extra = []
    if removed.aliases:
        extra.append(f"{len(removed.aliases)} alias(es)")
    if removed.lists:
        extra.append(f"{len(removed.lists)} list(s)")
    tail = f", with its {' and '.join(extra)}" if extra else ""
    return done(PATH, f"Removed the domain {removed.domain}{tail}. Mail for it is now "
                      "refused.")


ROUTES = [
    (PATH, show, ["GET"]),
    (PATH, add, ["POST"]),
    (f"{PATH}/remove", remove, ["POST"]),
]
