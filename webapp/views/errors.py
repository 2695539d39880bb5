"""Error pages: a friendly page with a way back, never a traceback."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from mailstore.errors import NotFound
from webapp.security import PAGE_POLICY

log = logging.getLogger("tidings.web")

_TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    413: "Too large",
    500: "Something went wrong",
}


def error_page(request: Request, status: int, detail: str) -> HTMLResponse:
    templates = request.app.state.templates
    html = templates.get_template("error.html").render(
        title=_TITLES.get(status, "Error"), detail=detail, status=status,
        csrf_token=getattr(request.state, "csrf_token", ""), account=None)
    return HTMLResponse(html, status_code=status)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        detail = "There is nothing at this address. Check the link, or go back to your mail."
    else:
        detail = exc.detail if isinstance(exc.detail, str) else "The request was refused."
    return error_page(request, exc.status_code, detail)


async def store_not_found(request: Request, exc: Exception) -> Response:
    text = str(exc) or "not found"
    detail = text[0].upper() + text[1:] + ". It may have been moved or deleted."
    return error_page(request, 404, detail)


async def csrf_failed(request: Request, exc: Exception) -> Response:
    return error_page(request, 403, "This form has expired or did not come from this site. "
                                    "Go back, reload the page and try again.")


async def server_error(request: Request, exc: Exception) -> Response:
    """Runs outside the other middleware, so it sets the security headers itself."""
    log.exception("webmail error on %s %s", request.method, request.url.path, exc_info=exc)
    response = error_page(request, 500, "The server could not show this page. "
                                        "The problem has been logged; try again in a moment.")
    response.headers["content-security-policy"] = PAGE_POLICY
    response.headers["x-content-type-options"] = "nosniff"
    response.headers["cache-control"] = "no-store"
    return response


HANDLERS = {
    HTTPException: http_error,
    NotFound: store_not_found,
    500: server_error,
}
