"""Settings: password, identities and signatures, display preferences, and the senders
whose remote images are always shown (removed here; added from a message).

Each section posts to its own URL and answers with the whole page, the error (if any)
next to the field it is about and the fields as the user typed them; a successful change
redirects back (POST/redirect/GET) with a short confirmation.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mailstore.directory import MIN_PASSWORD
from mailstore.errors import NotFound, StoreError
from mailstore.identities import IdentityNotAllowed, InvalidIdentity
from mailstore.preferences import (
    DENSITIES,
    PER_PAGE_RANGE,
    READING_PANES,
    InvalidPreference,
    Preferences,
)
from mailstore.store import Store
from webapp.auth import login_required
from webapp.templating import render

MAX_PASSWORD = 1024
MAX_FIELD = 20_000

DONE = {
    "password": "Your password has been changed.",
    "identity": "The identity has been saved.",
    "identity-removed": "The identity has been removed.",
    "display": "Display preferences saved.",
    "trusted-removed": "Remote images from that sender will be blocked again until you "
                       "ask to see them.",
}


def _store(request: Request) -> Store:
    return request.app.state.store


def _text(form: Any, name: str, limit: int = MAX_FIELD) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


async def _page(request: Request, status: int = 200, **context: Any) -> Response:
    account = request.state.account
    store = _store(request)
    preferences = context.pop("preferences", None) or await store.preferences.get(account.id)
    page = {
        "identities": await store.identities.list(account.id),
        "trusted_senders": await store.trusted_senders.list(account.id),
        "preferences": preferences,
        "densities": DENSITIES, "reading_panes": READING_PANES, "per_page_range": PER_PAGE_RANGE,
        "errors": {}, "section": "", "new_identity": {}, "edit_id": None,
        "done": DONE.get(request.query_params.get("done", ""), ""),
        "min_password": MIN_PASSWORD,
        **context,
    }
    return render(request, "settings.html", page, status_code=status)


@login_required
async def show(request: Request) -> Response:
    return await _page(request)


def _done(what: str, anchor: str) -> Response:
    return RedirectResponse(f"/settings?done={what}#{anchor}", status_code=303)


@login_required
async def password(request: Request) -> Response:
    form = await request.form()
    account = request.state.account
    current = _text(form, "current", MAX_PASSWORD)
    new = _text(form, "new", MAX_PASSWORD)
    again = _text(form, "again", MAX_PASSWORD)
    errors: dict[str, str] = {}
    if len(new) < MIN_PASSWORD:
        errors["new"] = f"Use at least {MIN_PASSWORD} characters"
    elif new != again:
        errors["again"] = "The two new passwords are not the same"
    if await _store(request).accounts.authenticate(account.address, current) is None:
        errors = {"current": "This is not your current password"}
    if errors:
        return await _page(request, 400, errors=errors, section="password")
    await _store(request).accounts.set_password(account.address, new)
    return _done("password", "password")


@login_required
async def display(request: Request) -> Response:
    form = await request.form()
    account = request.state.account
    per_page_text = _text(form, "per_page", 10).strip()
    try:
        per_page: Any = int(per_page_text)
    except ValueError:
        per_page = per_page_text
    wanted = Preferences(density=_text(form, "density", 40),
                         thread_view=_text(form, "thread_view", 5) == "1",
                         reading_pane=_text(form, "reading_pane", 40), per_page=per_page)
    try:
        await _store(request).preferences.save(account.id, wanted)
    except InvalidPreference as exc:
        message = str(exc)
        return await _page(request, 400, errors={exc.field: message[0].upper() + message[1:]},
                           section="display", preferences=wanted)
    return _done("display", "display")


def _identity_id(request: Request) -> int | None:
    value = request.path_params.get("identity_id")
    return int(value) if value is not None else None


@login_required
async def save_identity(request: Request) -> Response:
    """Add an identity (POST /settings/identities) or change one (…/identities/{id})."""
    form = await request.form()
    account = request.state.account
    identity_id = _identity_id(request)
    fields = {"address": _text(form, "address", 320).strip(),
              "display_name": _text(form, "display_name", 400),
              "signature": _text(form, "signature"),
              "signature_is_html": _text(form, "signature_is_html", 5) == "1",
              "is_default": _text(form, "is_default", 5) == "1"}
    try:
        await _store(request).identities.save(account.id, identity_id=identity_id, **fields)
    except InvalidIdentity as exc:
        errors = {exc.field: str(exc)}
    except IdentityNotAllowed as exc:
        errors = {"address": str(exc)}
    except NotFound:
        errors = {"address": "This identity no longer exists"}
    else:
        return _done("identity", "identities")
    return await _page(request, 400, errors=errors, section="identities",
                       new_identity=fields, edit_id=identity_id)


@login_required
async def remove_identity(request: Request) -> Response:
    identity_id = _identity_id(request)
    assert identity_id is not None
    try:
        await _store(request).identities.remove(request.state.account.id, identity_id)
    except (NotFound, StoreError):
        pass  # already gone: the page shows what is there
    return _done("identity-removed", "identities")
