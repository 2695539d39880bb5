"""Address autocomplete for To, Cc and Bcc: the address book and people written to."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mailstore.store import Store
from webapp.auth import login_required

MAX_QUERY = 200


@login_required
async def suggest(request: Request) -> Response:
    """A small JSON list for compose.js: [{"address", "name", "value"}], best first."""
    store: Store = request.app.state.store
    query = request.query_params.get("q", "")[:MAX_QUERY]
    found = await store.contacts.suggest(request.state.account.id, query)
    return JSONResponse(
        [{"address": c.address, "name": c.name, "value": c.formatted} for c in found],
        headers={"cache-control": "private, no-store"})
