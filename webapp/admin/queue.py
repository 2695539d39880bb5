"""The outbound queue page: what is waiting to leave the server, and why; retry, delete or
return a message to its sender.

The webapp never sends anything itself: retry makes an entry due, delete removes it, and
bounce leaves a request on the entry that the queue runner of whichever node claims it next
carries out (it writes the delivery report). Every change is audited with the entry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mailstore.errors import NotFound
from mailstore.outbound import STATES, QueueEntry, QueueFilter, QueueOutcome, entry_state
from webapp.admin.guard import actor
from webapp.admin.pages import done, page, store
from webapp.views.errors import error_page

PAGE = 50
# Age filter choices: (value, label, seconds).
AGES = [("", "Any age", None), ("1h", "Older than an hour", 3600),
        ("4h", "Older than 4 hours", 4 * 3600), ("1d", "Older than a day", 86400),
        ("3d", "Older than 3 days", 3 * 86400)]
ACTIONS = {"retry": "Retry now", "delete": "Delete", "bounce": "Return to sender"}
SHOWN_HEADERS = ("Subject", "From", "To", "Cc", "Date", "Message-ID")


@dataclass(frozen=True, slots=True)
class Form:
    sender: str = ""
    recipient: str = ""
    state: str = ""
    age: str = ""

    def filter(self) -> QueueFilter:
        seconds = next((s for value, _, s in AGES if value == self.age), None)
        return QueueFilter(self.sender, self.recipient, self.state, seconds)

    def query(self) -> dict[str, str]:
        return {k: v for k, v in (("sender", self.sender), ("recipient", self.recipient),
                                  ("state", self.state), ("age", self.age)) if v}


def _form(values: Any) -> tuple[Form, dict[str, str]]:
    errors: dict[str, str] = {}
    state = values.get("state", "").strip()
    if state and state not in STATES:
        errors["state"] = "Choose one of the states in the list."
        state = ""
    age = values.get("age", "").strip()
    if age not in {value for value, _, _ in AGES}:
        errors["age"] = "Choose one of the ages in the list."
        age = ""
    return Form(values.get("sender", "").strip()[:320], values.get("recipient", "").strip()[:320],
                state, age), errors


async def show(request: Request, *, errors: dict[str, str] | None = None,
               selected: list[int] | None = None, status: int = 200) -> Response:
    form, form_errors = _form(request.query_params)
    errors = {**form_errors, **(errors or {})}
    after = request.query_params.get("after", "")
    queue = store(request).outbound
    where = form.filter()
    entries = await queue.list(limit=PAGE + 1, where=where,
                               after_id=int(after) if after.isdigit() else None)
    more = len(entries) > PAGE
    entries = entries[:PAGE]
    counts = await queue.counts()
    matching = await queue.counts(where) if form.query() else counts
    return page(request, "admin/queue.html", "/admin/queue", status=status,
                entries=entries, more=more, form=form, errors=errors, counts=counts,
                matching=matching, states=STATES, ages=AGES, state_of=entry_state,
                selected=set(selected or ()), now=int(time.time()), query=form.query(),
                after=after)


async def bulk(request: Request) -> Response:
    """Retry, delete or bounce the ticked entries of the list."""
    data = await request.form()
    ids = [int(v) for v in data.getlist("id") if str(v).isdigit()]
    action = str(data.get("action", ""))
    if action not in ACTIONS:
        return await show(request, errors={"action": "Choose Retry now, Delete or Return "
                                                     "to sender."}, selected=ids, status=400)
    if not ids:
        return await show(request, errors={"id": "Tick at least one message in the list "
                                                 "first."}, status=400)
    message, _ = await _apply(request, action, ids)
    back = "/admin/queue"
    query = str(data.get("back", ""))
    if query.startswith("?"):
        back += query
    return done(back, message)


async def entry(request: Request) -> Response:
    entry_id = request.path_params["entry_id"]
    try:
        found = await store(request).outbound.get(entry_id)
    except NotFound:
        return error_page(request, 404, f"Queue entry #{entry_id} is no longer in the queue: "
                          "it was delivered, returned or deleted. The message trace has "
                          "its story.")
    return page(request, "admin/queue_entry.html", "/admin/queue", entry=found,
                state=entry_state(found), states=STATES, headers=_headers(found),
                header_text=_header_text(found), now=int(time.time()))


async def act(request: Request) -> Response:
    """One entry's button: retry, delete or bounce."""
    entry_id = request.path_params["entry_id"]
    action = str((await request.form()).get("action", ""))
    if action not in ACTIONS:
        return error_page(request, 400, "Choose Retry now, Delete or Return to sender.")
    message, outcome = await _apply(request, action, [entry_id])
    kept = action != "delete" and entry_id not in outcome.missing
    return done(f"/admin/queue/{entry_id}" if kept else "/admin/queue", message)


async def _apply(request: Request, action: str, ids: list[int]) -> tuple[str, QueueOutcome]:
    queue, who = store(request).outbound, actor(request)
    if action == "retry":
        outcome = await queue.retry_many(ids, who)
        verb = "will be tried again now"
    elif action == "delete":
        outcome = await queue.delete_many(ids, who)
        verb = "deleted without sending"
    else:
        outcome = await queue.bounce_many(ids, who)
        verb = "will be returned to the sender with a delivery report within seconds"
    parts = []
    if outcome.done:
        parts.append(f"{_numbers(outcome.done)} {verb}.")
    if outcome.busy:
        parts.append(f"{_numbers(outcome.busy)} {'is' if len(outcome.busy) == 1 else 'are'} "
                     "being sent right now; try again in a moment.")
    if outcome.missing:
        parts.append(f"{_numbers(outcome.missing)} no longer in the queue (delivered, "
                     "returned or deleted meanwhile).")
    return " ".join(parts), outcome


def _numbers(ids: list[int]) -> str:
    shown = ", ".join(f"#{i}" for i in ids[:10])
    more = f" and {len(ids) - 10} more" if len(ids) > 10 else ""
    return f"Queue entr{'y' if len(ids) == 1 else 'ies'} {shown}{more}"


def _header_block(e: QueueEntry) -> bytes:
    message = e.message or b""
    for end in (b"\r\n\r\n", b"\n\n"):
        if end in message:
            return message.split(end, 1)[0]
    return message


def _header_text(e: QueueEntry) -> str:
    return _header_block(e).decode("utf-8", "replace")


def _headers(e: QueueEntry) -> list[tuple[str, str]]:
    """The fields an admin recognises a message by, decoded (RFC 2047)."""
    parsed = BytesHeaderParser(policy=compat32).parsebytes(_header_block(e) + b"\r\n\r\n")
    shown = []
    for name in SHOWN_HEADERS:
        value = parsed.get(name)
        if value is None:
            continue
        try:
            text = str(make_header(decode_header(str(value))))
        except Exception:
            text = str(value)
        shown.append((name, " ".join(text.split())))
    return shown


ROUTES = [
    ("/admin/queue", show, ["GET"]),
    ("/admin/queue", bulk, ["POST"]),
    ("/admin/queue/{entry_id:int}", entry, ["GET"]),
    ("/admin/queue/{entry_id:int}", act, ["POST"]),
]
