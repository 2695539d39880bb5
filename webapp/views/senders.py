"""Remote images: shown for one message when asked ("show images"), or always for the
senders a user trusts ("always for this sender"), which the user can take back.

The trust is in the From address, as in other webmail: it decides only whether pictures
load (which tells the sender the mail was read), never whether anything else is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mailstore.store import Store
from mailstore.trusted import InvalidSender
from mailstore.values import StoredMessage
from webapp.auth import login_required, safe_next
from webapp.views.errors import error_page


@dataclass(frozen=True, slots=True)
class ImagesChoice:
    """``show``: load remote images; ``trusted``: because the sender is trusted."""

    show: bool
    trusted: bool
    asked: bool


async def images_choice(request: Request, message: StoredMessage) -> ImagesChoice:
    store: Store = request.app.state.store
    asked = request.query_params.get("images") == "1"
    trusted = bool(message.from_addr) and await store.trusted_senders.contains(
        request.state.account.id, message.from_addr)
    return ImagesChoice(show=asked or trusted, trusted=trusted, asked=asked)


@login_required
async def trusted_senders(request: Request) -> Response:
    """POST address=…&action=add|remove&next=…: trust a sender's images, or stop."""
    store: Store = request.app.state.store
    form = await request.form()
    address = str(form.get("address", ""))
    action = str(form.get("action", "add"))
    if action not in ("add", "remove"):
        return error_page(request, 400, "Choose to always show this sender's images, "
                                        "or to stop.")
    try:
        if action == "add":
            await store.trusted_senders.add(request.state.account.id, address)
        else:
            await store.trusted_senders.remove(request.state.account.id, address)
    except InvalidSender as exc:
        return error_page(request, 400, f"{exc}; images were not changed.")
    return RedirectResponse(safe_next(str(form.get("next", ""))), status_code=303)
