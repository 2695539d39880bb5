"""Rendering an admin page: the section list, which one is current, and the control."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from mailstore.store import Store
from webapp.admin.control import ServerControl
from webapp.templating import render

# The sections in the left-hand list, in order: (path, label).
SECTIONS: list[tuple[str, str]] = [
    ("/admin", "Dashboard"),
    ("/admin/queue", "Queue"),
    ("/admin/trace", "Message trace"),
    ("/admin/domains", "Domains"),
    ("/admin/accounts", "Accounts"),
    ("/admin/aliases", "Aliases"),
    ("/admin/lists", "Distribution lists"),
    ("/admin/collectors", "Collector accounts"),
    ("/admin/import", "Import mail"),
    ("/admin/sending", "Sending"),
    ("/admin/dkim", "DKIM keys"),
    ("/admin/limits", "Limits"),
    ("/admin/access", "Receiving and access"),
    ("/admin/tls", "TLS certificate"),
    ("/admin/server", "Server"),
    ("/admin/audit", "Audit log"),
]


def store(request: Request) -> Store:
    return request.app.state.store


def control(request: Request) -> ServerControl | None:
    """The running server, or None in an app made without one (most web tests)."""
    return request.app.state.control


def page(request: Request, template: str, section: str, status: int = 200,
         **context: Any) -> HTMLResponse:
    notice = context.pop("notice", None) or request.query_params.get("done", "")
    return render(request, template, {
        "admin_sections": SECTIONS, "admin_section": section,
        "notice": notice if isinstance(notice, str) else "", **context}, status_code=status)


def done(path: str, message: str) -> RedirectResponse:
    """POST/redirect/GET after a change, with a one-line confirmation shown on the page."""
    separator = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{separator}{urlencode({'done': message})}",
                            status_code=303)
