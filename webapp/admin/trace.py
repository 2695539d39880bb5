"""The message trace page: find what happened to a message, and read its whole story.

Every SMTP transaction (accepted or refused), every download by the collector, every
message sent from the webmail and every delivery attempt to another server leaves a trace
record. Records of one message share its Message-ID, which joins the story together.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mailstore.errors import NotFound
from webapp.admin.pages import page, store
from webapp.views.errors import error_page

PAGE = 50
# How each listener is described to an administrator.
LISTENERS = {
    "smtp": "Received from another mail server (SMTP, port 25)",
    "submission": "Sent by a user's mail program (submission)",
    "submissions": "Sent by a user's mail program (submission over TLS)",
    "collector": "Downloaded from an ISP mailbox by the collector",
    "webmail": "Sent from the webmail",
    "outbound": "Delivery attempt to another mail server",
}


@dataclass(frozen=True, slots=True)
class Search:
    sender: str = ""
    recipient: str = ""
    since: str = ""
    until: str = ""
    message_id: str = ""
    client_ip: str = ""

    def query(self) -> dict[str, str]:
        return {k: v for k, v in (
            ("sender", self.sender), ("recipient", self.recipient), ("since", self.since),
            ("until", self.until), ("message_id", self.message_id),
            ("client_ip", self.client_ip)) if v}


def _day(text: str) -> date:
    return date.fromisoformat(text)


def _midnight(day: date) -> int:
    return int(datetime(day.year, day.month, day.day).timestamp())


def _parse(values: Any) -> tuple[Search, dict[str, str], dict[str, Any]]:
    """The search as typed, its errors by field, and the store's arguments."""
    search = Search(*(values.get(name, "").strip()[:320] for name in (
        "sender", "recipient", "since", "until", "message_id", "client_ip")))
    errors: dict[str, str] = {}
    args: dict[str, Any] = {"sender": search.sender or None,
                            "recipient": search.recipient or None,
                            "message_id": search.message_id or None}
    days: dict[str, date] = {}
    for name in ("since", "until"):
        text = getattr(search, name)
        if text:
            try:
                days[name] = _day(text)
            except ValueError:
                errors[name] = "Give a date as YYYY-MM-DD, for example 2026-03-14."
    if "since" in days:
        args["since"] = _midnight(days["since"])
    if "until" in days:
        args["until"] = _midnight(days["until"] + timedelta(days=1))  # the whole day
    if "since" in days and "until" in days and days["until"] < days["since"]:
        errors["until"] = "The end date is before the start date."
    if search.client_ip:
        try:
            args["client_ip"] = str(ipaddress.ip_address(search.client_ip))
        except ValueError:
            errors["client_ip"] = ("Give one IP address, for example 192.0.2.7 or "
                                   "2001:db8::7.")
    return search, errors, args


async def show(request: Request) -> Response:
    search, errors, args = _parse(request.query_params)
    before = _before(request.query_params.get("before", ""))
    records: list = []
    more = False
    if not errors:
        records = await store(request).traces.find(limit=PAGE + 1, before=before, **args)
        more = len(records) > PAGE
        records = records[:PAGE]
    return page(request, "admin/trace.html", "/admin/trace", status=400 if errors else 200,
                search=search, errors=errors, records=records, more=more,
                query=search.query(), listeners=LISTENERS, paged=before is not None)


def _before(text: str) -> tuple[int, int] | None:
    at, _, record_id = text.partition(":")
    return (int(at), int(record_id)) if at.isdigit() and record_id.isdigit() else None


async def story(request: Request) -> Response:
    record_id = request.path_params["record_id"]
    try:
        records = await store(request).traces.story(record_id)
    except NotFound:
        return error_page(request, 404, f"There is no trace record #{record_id}; old "
                          "records may have been cleaned up.")
    first = next((r for r in records if r.id == record_id), records[0])
    return page(request, "admin/trace_story.html", "/admin/trace", records=records,
                chosen=first, listeners=LISTENERS)


ROUTES = [
    ("/admin/trace", show, ["GET"]),
    ("/admin/trace/{record_id:int}", story, ["GET"]),
]
