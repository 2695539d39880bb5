"""The aliases page: addresses that deliver elsewhere, wildcard mappings, each domain's
catch-all, and the "where would mail for this address go?" tester.

The tester asks the real router (``store.router.resolve``), the same call SMTP makes at
RCPT time, so its answer is what a sending server would get; the store's ``explain`` adds
which rule gave that answer, in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mailstore.errors import StoreError
from mailstore.lists import PostingDenied
from mailstore.routing import MailboxDisabled, NotLocal, RoutingLoop, UnknownRecipient
from mailstore.store import Store
from webapp.admin.directory import field_errors, text
from webapp.admin.guard import actor
from webapp.admin.pages import done, page, store

PATH = "/admin/aliases"


@dataclass
class Answer:
    """The tester's answer: delivered where, or refused and why."""

    address: str
    sender: str
    refused: str = ""  # why the mail is refused; empty when it is delivered
    mailboxes: list[tuple[str, str]] = field(default_factory=list)  # (account, folder)
    forwards: list[str] = field(default_factory=list)
    list_address: str = ""
    steps: list[str] = field(default_factory=list)


async def where_would_it_go(mail: Store, address: str, sender: str) -> Answer:
    answer = Answer(address, sender)
    try:
        route = await mail.router.resolve(address, sender or None)
    except NotLocal:
        answer.refused = ("this is not one of this server's domains. Mail from the internet "
                          "for it is refused (this server is not an open relay); mail your "
                          "users send to it goes out to the internet.")
    except UnknownRecipient as exc:
        answer.refused = (f"there is no such address here ({exc}). A sending server is told "
                          "“550 no such user”, so the sender learns at once.")
    except MailboxDisabled:
        answer.refused = ("the account is disabled: its mail is refused until an "
                          "administrator enables it again.")
    except RoutingLoop:
        answer.refused = ("its aliases form a loop that never reaches a mailbox: fix one of "
                          "the aliases below.")
    except PostingDenied as exc:
        answer.refused = f"the sender may not post to this list ({exc})."
    else:
        answer.address = route.recipient
        answer.mailboxes = [(m.address, m.folder) for m in route.local]
        answer.forwards = list(route.external)
        answer.list_address = route.list.address if route.list else ""
    answer.steps = (await mail.directory.explain(address)).steps
    return answer


async def _show(request: Request, status: int = 200, **context: Any) -> Response:
    mail = store(request)
    pairs = await mail.accounts.aliases()
    catch_alls = await mail.directory.catch_alls()
    patterns = {f"*@{d}" for d in catch_alls}
    aliases = [(a, t) for a, t in pairs if "*" not in a]
    wildcards = [(a, t) for a, t in pairs if "*" in a and a not in patterns]
    tested = request.query_params.get("address", "").strip()[:320]
    sender = request.query_params.get("sender", "").strip()[:320]
    answer = await where_would_it_go(mail, tested, sender) if tested else None
    context.setdefault("errors", {})
    context.setdefault("typed", {"address": "", "target": ""})
    context.setdefault("catch_errors", {})
    context.setdefault("catch_typed", {})
    return page(request, "admin/aliases.html", PATH, status, aliases=aliases,
                wildcards=wildcards, catch_alls=catch_alls, answer=answer, tested=tested,
                sender=sender, **context)


async def show(request: Request) -> Response:
    return await _show(request)


async def add(request: Request) -> Response:
    form = await request.form()
    typed = {"address": text(form, "address", 320), "target": text(form, "target", 320)}
    try:
        await store(request).directory.add_alias(actor(request), typed["address"],
                                                  typed["target"])
    except StoreError as exc:
        return await _show(request, 400, errors=field_errors(exc, "address"), typed=typed)
    return done(PATH, f"Mail for {typed['address'].lower()} now also goes to "
                      f"{typed['target'].lower()}.")


async def remove(request: Request) -> Response:
    form = await request.form()
    address, target = text(form, "address", 320), text(form, "target", 320)
    try:
        await store(request).directory.remove_alias(actor(request), address, target)
    except StoreError as exc:
        return await _show(request, 400, errors={"remove": field_errors(exc, "address")
                                                 .popitem()[1]})
    return done(PATH, f"Removed the alias {address} → {target}.")


async def catch_all(request: Request) -> Response:
    form = await request.form()
    domain, target = text(form, "domain", 253), text(form, "target", 320)
    if text(form, "action", 10) == "clear":
        target = ""
    try:
        await store(request).directory.set_catch_all(actor(request), domain, target or None)
    except StoreError as exc:
        return await _show(request, 400, catch_errors={domain: field_errors(exc, "target")
                                                       .popitem()[1]},
                           catch_typed={domain: target})
    if target:
        return done(PATH, f"Mail for unknown addresses at {domain} now goes to {target}.")
    return done(PATH, f"Mail for unknown addresses at {domain} is now refused.")


ROUTES = [
    (PATH, show, ["GET"]),
    (PATH, add, ["POST"]),
    (f"{PATH}/remove", remove, ["POST"]),
    (f"{PATH}/catch-all", catch_all, ["POST"]),
]
