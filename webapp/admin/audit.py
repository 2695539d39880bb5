"""The audit log page: every change made in the admin, newest first, with a filter."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from webapp.admin.pages import page, store

PAGE = 100


async def show(request: Request) -> Response:
    who = request.query_params.get("actor", "").strip()[:320]
    target = request.query_params.get("target", "").strip()[:500]
    before = request.query_params.get("before", "")
    entries = await store(request).audit.recent(
        limit=PAGE + 1, actor=who or None, target=target or None,
        before_id=int(before) if before.isdigit() else None)
    more = len(entries) > PAGE
    entries = entries[:PAGE]
    return page(request, "admin/audit.html", "/admin/audit", entries=entries, more=more,
                actor=who, target=target)


ROUTES = [("/admin/audit", show, ["GET"])]
