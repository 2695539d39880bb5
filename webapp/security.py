"""Response headers that every page carries: the Content-Security-Policy and friends.

Why a pure ASGI middleware: it must also cover responses that no view produced (404 pages,
static files, errors), and it must let one view (the sandboxed message body) replace the
policy with a stricter one of its own.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No inline script and no eval anywhere: htmx is loaded from /static and configured by a
# <meta> tag. The message body is a separate document that sets its own, stricter policy.
PAGE_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "frame-src 'self'",
    "frame-ancestors 'self'",
    "form-action 'self'",
    "base-uri 'none'",
    "object-src 'none'",
))

_COMMON = (
    ("x-content-type-options", "nosniff"),
    # Folder names and subjects end up in URLs; mail links must not leak them.
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "SAMEORIGIN"),
    ("cross-origin-opener-policy", "same-origin"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()"),
)


class SecurityHeadersMiddleware:
    """Adds the page policy unless the response set its own, and keeps mail out of caches."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("content-security-policy", PAGE_POLICY)
                for name, value in _COMMON:
                    headers.setdefault(name, value)
                # Mail is private: no shared cache and no back/forward copy on disk.
                # Static files revalidate with their ETag instead.
                headers.setdefault("cache-control", "no-cache" if static else "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)
