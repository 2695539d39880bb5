"""The dashboard: is everything running, and what needs the administrator's attention."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from webapp.admin.pages import control, page


async def show(request: Request) -> Response:
    running = control(request)
    services = running.services() if running is not None else None
    return page(request, "admin/dashboard.html", "/admin", services=services)


ROUTES = [("/admin", show, ["GET"])]
