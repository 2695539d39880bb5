"""CSRF protection: a signed double-submit token on every state-changing request.

How it works: a random value lives in its own HttpOnly cookie (not in the session, so that
a failed login leaves no session cookie behind); forms carry HMAC(secret, value) in a
hidden field and htmx sends it as the ``X-CSRF-Token`` header. Another site can neither
read the cookie nor compute the HMAC, so it cannot forge a POST. Every route is wrapped by
``protect`` when the app is built, so a new POST view cannot forget the check.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FIELD = "csrf_token"
HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Endpoint = Callable[[Request], Awaitable[Response]]


class CSRFError(Exception):
    """The request changes state but does not carry this browser's token."""


def cookie_name(secure: bool) -> str:
    # RFC 6265bis §4.1.3.2: the __Host- prefix pins the cookie to this host, over HTTPS,
    # so a sibling subdomain cannot plant a value of its own.
    return "__Host-tidings_csrf" if secure else "tidings_csrf"


class CSRFMiddleware:
    """Makes sure the browser has a CSRF cookie and puts the matching token on the request."""

    def __init__(self, app: ASGIApp, secret_key: str, secure: bool = False) -> None:
        self.app = app
        self.key = hashlib.sha256(b"tidings-csrf\0" + secret_key.encode()).digest()
        self.cookie = cookie_name(secure)
        self.flags = "Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if secure else "")

    def token_for(self, value: str) -> str:
        return hmac.new(self.key, value.encode(), hashlib.sha256).hexdigest()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        value = HTTPConnection(scope).cookies.get(self.cookie, "")
        fresh = len(value) < 32
        if fresh:
            value = secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf_token"] = self.token_for(value)
        # A request that arrives without a cookie cannot pass the check: its token is new.
        scope["state"]["csrf_fresh"] = fresh

        async def send_with_cookie(message: Message) -> None:
            if fresh and message["type"] == "http.response.start":
                MutableHeaders(scope=message).append(
                    "set-cookie", f"{self.cookie}={value}; {self.flags}")
            await send(message)

        await self.app(scope, receive, send_with_cookie)


async def check(request: Request) -> None:
    """Raise CSRFError unless the request carries this browser's token."""
    expected: str = request.state.csrf_token
    sent = request.headers.get(HEADER, "")
    if not sent:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            field = form.get(FIELD)
            sent = field if isinstance(field, str) else ""
    if request.state.csrf_fresh or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CSRFError("the form has expired or did not come from this site")


def protect(endpoint: Endpoint) -> Endpoint:
    """Wrap a view so that unsafe methods are checked before it runs."""

    @functools.wraps(endpoint)
    async def checked(request: Request) -> Response:
        if request.method not in SAFE_METHODS:
            await check(request)
        return await endpoint(request)

    return checked
