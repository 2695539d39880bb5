"""The address book: autocomplete for To, Cc and Bcc (the address book and people
written to), and the Contacts page to list, filter, add, edit and remove contacts.

Every lookup and change is scoped to the signed-in account (contacts are found by
(account, address)), so another user's address book cannot be read or changed.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from mailstore.contacts import InvalidContact
from mailstore.store import Store
from webapp import urls
from webapp.auth import login_required, safe_next
from webapp.templating import render

MAX_QUERY = 200


@login_required
async def suggest(request: Request) -> Response:
    """A small JSON list for compose.js: [{"address", "name", "value"}], best first."""
    store: Store = request.app.state.store
    query = request.query_params.get("q", "")[:MAX_QUERY]
    found = await store.contacts.suggest(request.state.account.id, query)
    return JSONResponse(
        [{"address": c.address, "name": c.name, "value": c.formatted} for c in found],
        headers={"cache-control": "private, no-store"})


# The address book page: GET /contacts (with a filter), and its forms.

MAX_FIELD = 400
MAX_WRITTEN_TO = 50

DONE = {
    "added": "The contact has been saved.",
    "changed": "The contact has been changed.",
    "removed": "The contact has been removed from your contacts.",
}


def _text(form: Any, name: str, limit: int = MAX_FIELD) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


async def _page(request: Request, status: int = 200, **context: Any) -> Response:
    """The Contacts page; ``context`` carries a form's errors and values on a refusal."""
    store: Store = request.app.state.store
    account_id = request.state.account.id
    query = request.query_params.get("q", "")[:MAX_QUERY]
    page = {
        "q": query,
        "contacts": await store.contacts.list(account_id, query=query),
        "written_to": await store.contacts.list(account_id, saved=False, query=query,
                                                limit=MAX_WRITTEN_TO),
        "errors": {}, "form": "", "values": {}, "editing": None,
        "done": DONE.get(request.query_params.get("done", ""), ""),
        **context,
    }
    return render(request, "contacts.html", page, status_code=status)


@login_required
async def page(request: Request) -> Response:
    return await _page(request)


def _done(what: str, next_url: str = "") -> Response:
    target = safe_next(next_url) if next_url else f"{urls.contacts()}?done={what}"
    return RedirectResponse(target, status_code=303)


@login_required
async def add(request: Request) -> Response:
    """POST name, address (and ``next``, a local path, from a message's "Add to contacts"):
    put someone in the address book; a refusal shows the error next to the field."""
    form = await request.form()
    store: Store = request.app.state.store
    values = {"name": _text(form, "name"), "address": _text(form, "address").strip()}
    try:
        await store.contacts.save(request.state.account.id, values["address"], values["name"])
    except InvalidContact as exc:
        return await _page(request, 400, errors={exc.field: str(exc)}, form="add",
                           values=values)
    return _done("added", _text(form, "next", 2000))


@login_required
async def change(request: Request) -> Response:
    """POST original, name, address: edit a saved contact (its address may change)."""
    form = await request.form()
    store: Store = request.app.state.store
    original = _text(form, "original").strip()
    values = {"name": _text(form, "name"), "address": _text(form, "address").strip()}
    account_id = request.state.account.id
    existing = await store.contacts.get(account_id, original)
    if existing is None or not existing.saved:
        return await _page(request, 400, errors={"address": "This contact is no longer in "
                                                            "your contacts"},
                           form="add", values=values)
    try:
        await store.contacts.change(account_id, original, values["address"], values["name"])
    except InvalidContact as exc:
        return await _page(request, 400, errors={exc.field: str(exc)}, form="edit",
                           values=values, editing=existing.address)
    return _done("changed")


@login_required
async def remove(request: Request) -> Response:
    """POST address: take someone out of the address book (twice is harmless)."""
    form = await request.form()
    store: Store = request.app.state.store
    await store.contacts.remove(request.state.account.id, _text(form, "address").strip())
    return _done("removed")
