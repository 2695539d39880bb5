"""Who is signed in: the signed session cookie holds the account id, nothing else.

The session is Starlette's SessionMiddleware (itsdangerous-signed, HttpOnly,
SameSite=Lax). Every request re-reads the account, so a disabled or removed account is
signed out at its next click rather than when its cookie expires.
"""

from __future__ import annotations

import functools
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mailstore.errors import NotFound
from mailstore.store import Store
from mailstore.values import AccountInfo
from webapp.csrf import Endpoint

SESSION_KEY = "account"
SESSION_COOKIE = "tidings_session"
SESSION_MAX_AGE = 14 * 24 * 3600


def session_cookie_name(secure: bool) -> str:
    return "__Host-" + SESSION_COOKIE if secure else SESSION_COOKIE


def sign_in(request: Request, account: AccountInfo) -> None:
    # Start from an empty session: nothing from before the login carries over.
    request.session.clear()
    request.session[SESSION_KEY] = account.id


def sign_out(request: Request) -> None:
    request.session.clear()


async def current_account(request: Request) -> AccountInfo | None:
    account_id = request.session.get(SESSION_KEY)
    if not isinstance(account_id, int):
        return None
    store: Store = request.app.state.store
    try:
        account = await store.accounts.get_by_id(account_id)
    except NotFound:
        account = None
    if account is None or account.disabled:
        sign_out(request)
        return None
    return account


def safe_next(target: str | None) -> str:
    """Where to go after login: only a path on this site (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/mail"
    return target


def login_required(endpoint: Endpoint) -> Endpoint:
    """Run the view with ``request.state.account`` set, or send the browser to /login."""

    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        account = await current_account(request)
        if account is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            login = "/login?" + urlencode({"next": target})
            if request.headers.get("hx-request"):
                # htmx would swap the login page into a pane; make it load the whole page.
                return Response(status_code=204, headers={"HX-Redirect": login})
            return RedirectResponse(login, status_code=303)
        request.state.account = account
        return await endpoint(request)

    return guarded
