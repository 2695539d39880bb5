"""The webmail application: routes, middleware and error pages, put together.

``create_app`` is what the composition root (tidings serve) calls. Middleware, outermost
first: security headers (CSP on every response), the CSRF cookie, the signed session.
Every route goes through ``csrf.protect``, so any POST without the right token is refused
with 403, including routes added later.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.staticfiles import StaticFiles

from mailstore.store import Store
from webapp import csrf
from webapp.admin import admin_routes
from webapp.admin.control import ServerControl
from webapp.admin.guard import admin_required, admin_unknown
from webapp.assets import htmx_endpoint, htmx_path
from webapp.auth import SESSION_MAX_AGE, session_cookie_name
from webapp.csrf import CSRFError, CSRFMiddleware, Endpoint
from webapp.security import SecurityHeadersMiddleware
from webapp.templating import STATIC_DIR, make_templates
from webapp.views import (
    actions,
    compose,
    contacts,
    errors,
    events,
    folders,
    login,
    mail,
    originals,
    search,
    senders,
    settings,
)


def _route(path: str, endpoint: Endpoint, methods: list[str] | None = None) -> Route:
    return Route(path, csrf.protect(endpoint), methods=methods or ["GET"])


def routes() -> list[BaseRoute]:
    return [
        _route("/", login.root),
        _route("/login", login.login_form),
        _route("/login", login.login_submit, ["POST"]),
        _route("/logout", login.logout, ["POST"]),
        _route("/mail", mail.home),
        _route("/mail/{folder:path}", mail.message_list),
        _route("/message/{folder:path}/{uid:int}", mail.message_page),
        _route("/body/{folder:path}/{uid:int}", mail.message_body),
        _route("/attachment/{folder:path}/{uid:int}/{part}", mail.attachment),
        _route("/search", search.search_page),
        _route("/original/{folder:path}/{uid:int}", originals.original),
        _route("/eml/{folder:path}/{uid:int}", originals.eml),
        _route("/print/{folder:path}/{uid:int}", originals.print_view),
        _route("/zip/{folder:path}/{uid:int}", originals.zip_all),
        _route("/trusted-senders", senders.trusted_senders, ["POST"]),
        _route("/actions", actions.act, ["POST"]),
        _route("/folders", folders.manage),
        _route("/folders/{kind}", folders.change, ["POST"]),
        _route("/events", events.events),
        _route("/compose", compose.new),
        _route("/compose/reply/{folder:path}/{uid:int}", compose.reply),
        _route("/compose/reply-all/{folder:path}/{uid:int}", compose.reply_all),
        _route("/compose/forward/{folder:path}/{uid:int}", compose.forward),
        _route("/compose/draft/{uid:int}", compose.edit_draft),
        _route("/compose/save", compose.save, ["POST"]),
        _route("/compose/send", compose.send, ["POST"]),
        _route("/compose/discard", compose.discard, ["POST"]),
        _route("/compose/sending/{uid:int}", compose.sending),
        _route("/compose/undo/{uid:int}", compose.undo, ["POST"]),
        _route("/contacts/suggest", contacts.suggest),
        _route("/contacts", contacts.page),
        _route("/contacts", contacts.add, ["POST"]),
        _route("/contacts/edit", contacts.change, ["POST"]),
        _route("/contacts/remove", contacts.remove, ["POST"]),
        _route("/settings", settings.show),
        _route("/settings/password", settings.password, ["POST"]),
        _route("/settings/display", settings.display, ["POST"]),
        _route("/settings/identities", settings.save_identity, ["POST"]),
        _route("/settings/identities/{identity_id:int}", settings.save_identity, ["POST"]),
        _route("/settings/identities/{identity_id:int}/delete", settings.remove_identity,
               ["POST"]),
        *[_route(path, admin_required(view), methods) for path, view, methods in admin_routes()],
        _route("/admin/{rest:path}", admin_unknown, ["GET", "POST"]),
        # Only our own static files are compressed: HTML pages carry the CSRF token next to
        # text an attacker can reflect, and compressing them would open them to BREACH.
        Mount("/static", app=GZipMiddleware(Router([
            Route("/htmx.min.js", htmx_endpoint(htmx_path())),
            Mount("/", StaticFiles(directory=STATIC_DIR)),
        ]), minimum_size=512), name="static"),
    ]


def create_app(
    store: Store,
    secret_key: str,
    *,
    messages_per_page: int = 50,
    secure_cookies: bool = False,
    max_message_size: int = 25 * 1024 * 1024,
    undo_seconds: float = 10,
    control: ServerControl | None = None,
) -> Starlette:
    """The webmail as an ASGI app over ``store``.

    ``secret_key`` signs the session and CSRF cookies; keep it stable across restarts or
    everyone is signed out. ``secure_cookies`` marks the cookies Secure (and __Host-), for
    deployments behind HTTPS. ``max_message_size`` is the largest message the webmail
    lets a user send (pass the SMTP limit, so what we send is what we would accept);
    ``undo_seconds`` is how long a sent message can still be taken back; ``control`` is
    the running server, for the admin pages that show or change it.
    """
    if len(secret_key) < 16:
        raise ValueError("secret_key must be at least 16 characters; generate one with "
                         "python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    if messages_per_page < 1:
        raise ValueError(f"messages_per_page must be 1 or more, not {messages_per_page}")
    app = Starlette(
        routes=routes(),
        middleware=[
            Middleware(SecurityHeadersMiddleware),
            Middleware(CSRFMiddleware, secret_key=secret_key, secure=secure_cookies),
            Middleware(SessionMiddleware, secret_key=secret_key,
                       session_cookie=session_cookie_name(secure_cookies),
                       max_age=SESSION_MAX_AGE, same_site="lax", https_only=secure_cookies),
        ],
        exception_handlers={**errors.HANDLERS, CSRFError: errors.csrf_failed},
    )
    app.state.store = store
    app.state.templates = make_templates()
    app.state.messages_per_page = messages_per_page
    # Open /events streams; close_streams(app) ends them before the server stops.
    app.state.live_streams = events.LiveStreams()
    app.state.max_message_size = max_message_size
    app.state.undo_seconds = undo_seconds
    app.state.control = control
    return app


def close_streams(app: Starlette) -> None:
    """End every open /events stream now: call before stopping uvicorn, which otherwise
    waits for those never-ending responses."""
    app.state.live_streams.close()
