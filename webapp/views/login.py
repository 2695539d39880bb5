"""Signing in and out.

A failed login answers with the form and one message that does not say which half was
wrong (no account enumeration), and sets no session cookie. Throttling of repeated
failures is not here yet; failures are logged so that an operator (or fail2ban) sees them.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mailstore.store import Store
from webapp.auth import current_account, safe_next, sign_in, sign_out
from webapp.templating import render

log = logging.getLogger("tidings.web")

WRONG_LOGIN = "Wrong address or password"
MAX_FIELD = 1024


async def root(request: Request) -> Response:
    signed_in = await current_account(request) is not None
    return RedirectResponse("/mail" if signed_in else "/login", status_code=303)


async def login_form(request: Request) -> Response:
    next_url = safe_next(request.query_params.get("next"))
    if await current_account(request) is not None:
        return RedirectResponse(next_url, status_code=303)
    return render(request, "login.html", {"address": "", "error": None, "next": next_url})


async def login_submit(request: Request) -> Response:
    form = await request.form()
    address = str(form.get("address") or "").strip()[:MAX_FIELD]
    password = str(form.get("password") or "")[:MAX_FIELD]
    next_url = safe_next(str(form.get("next") or ""))
    store: Store = request.app.state.store
    account = await store.accounts.authenticate(address, password) if address else None
    if account is None:
        client = request.client.host if request.client else "?"
        log.warning("webmail login failed for %r from %s", address, client)
        return render(request, "login.html",
                      {"address": address, "error": WRONG_LOGIN, "next": next_url})
    sign_in(request, account)
    return RedirectResponse(next_url, status_code=303)


async def logout(request: Request) -> Response:
    sign_out(request)
    return RedirectResponse("/login", status_code=303)
