"""Who may use the web admin: signed-in accounts with the admin role, nobody else.

A visitor who is not signed in is sent to the login page (as in the webmail); a signed-in
account without the role gets 403 on every admin URL, including ones that do not exist,
so the admin's layout is not disclosed to users.
"""

from __future__ import annotations

import functools

from starlette.requests import Request
from starlette.responses import Response

from mailstore.audit import Actor
from webapp.auth import login_required
from webapp.csrf import Endpoint
from webapp.views.errors import error_page

NOT_ADMIN = "This page is for administrators. Ask your administrator if you need a change."


def admin_required(endpoint: Endpoint) -> Endpoint:
    """Run the view for administrators; 403 for everyone else who is signed in."""

    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        if not request.state.account.is_admin:
            return error_page(request, 403, NOT_ADMIN)
        return await endpoint(request)

    return login_required(guarded)


async def _unknown(request: Request) -> Response:
    return error_page(request, 404, "There is no admin page at this address.")


# Any other /admin URL: 404 for administrators, 403 (as for every admin URL) for others.
admin_unknown = admin_required(_unknown)


def actor(request: Request) -> Actor:
    """The admin making a change, for the audit log."""
    client = request.client.host if request.client else ""
    return Actor(request.state.account.address, client)
