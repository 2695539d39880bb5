"""The dashboard: is everything running, and what needs the administrator's attention.

Figures come from ``store.stats`` (indexed queries, fast on a large store); each problem
shown comes with a plain-language hint, because the administrator is not a mail expert.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from starlette.requests import Request
from starlette.responses import Response

from mailstore.outbound import QueueFilter
from mailstore.stats import DayTraffic
from webapp.admin.pages import control, page, store

DAYS = 7
TOP_ACCOUNTS = 5
CHART_WIDTH, CHART_HEIGHT, CHART_TOP = 560, 150, 16  # SVG units; labels below the bars


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of the traffic chart, in SVG units."""

    x: int
    width: int
    height: int
    y: int
    kind: str  # "in" or "out"
    count: int
    label: str


@dataclass(frozen=True, slots=True)
class Problem:
    title: str
    detail: str
    hint: str
    link: str = ""


def day_starts(today: date, days: int = DAYS) -> list[int]:
    """Local midnights of the last ``days`` days, oldest first."""
    return [int(datetime.combine(today - timedelta(days=n), datetime.min.time()).timestamp())
            for n in range(days - 1, -1, -1)]


def chart(traffic: list[DayTraffic]) -> list[Bar]:
    """Two bars a day (in, out), scaled to the busiest bar."""
    peak = max([1] + [max(d.received, d.sent) for d in traffic])
    slot = CHART_WIDTH // max(1, len(traffic))
    width = max(4, (slot - 12) // 2)
    bars = []
    for i, d in enumerate(traffic):
        for j, (kind, count) in enumerate((("in", d.received), ("out", d.sent))):
            height = round(count / peak * (CHART_HEIGHT - CHART_TOP))
            bars.append(Bar(i * slot + 6 + j * width, width, height,
                            CHART_HEIGHT - height, kind, count,
                            datetime.fromtimestamp(d.start).strftime("%a %d")))
    return bars


def reply_hint(reply: str) -> str:
    """What an administrator can do about another server's (or the network's) answer."""
    text = reply.lower()
    if "5.1.1" in text or "no such user" in text or "unknown user" in text or \
            "does not exist" in text:
        return ("The receiving server says this address does not exist: ask the sender to "
                "check it for typing mistakes.")
    if "5.2.2" in text or "mailbox full" in text or "quota" in text:
        return "The recipient's mailbox is full on their side: they must make room."
    if "spam" in text or "blocked" in text or "listed" in text or "5.7." in text:
        return ("The receiving server refused our mail as possible spam or by policy. Check "
                "that this server's address is not on a blocklist, that its DNS name matches "
                "its IP address (reverse DNS), and that SPF and DKIM are published (Sending), "
                "or send through your ISP's smart host.")
    if "no mail host" in text or "dns" in text or "nxdomain" in text or "4.4.3" in text:
        return ("The recipient's domain could not be found in the DNS: check its spelling, "
                "or this server's DNS resolver.")
    if "refused" in text or "timed out" in text or "timeout" in text or "4.4.1" in text or \
            "4.4.2" in text:
        return ("The receiving server could not be reached. Many internet providers block "
                "outgoing connections to port 25: if every message waits, send through your "
                "provider's smart host (Sending).")
    if text.startswith("4"):
        return "The receiving server asked us to try later; the server retries on its own."
    return "Open the message to see every answer it got."


def collector_hint(error: str) -> str:
    text = error.lower()
    if "login" in text or "auth" in text or "password" in text or "credentials" in text:
        return ("The ISP refused the user name or password: correct them in Collector "
                "accounts (the ISP may have asked for an app password).")
    if "certificate" in text or "tls" in text or "ssl" in text:
        return ("The secure connection to the ISP failed: check the port and security "
                "setting for this account.")
    if "dns" in text or "resolve" in text or "name" in text:
        return "The ISP's server name could not be found: check the host name."
    return ("The ISP's server could not be reached or answered with an error: check the host "
            "and port; if it keeps failing, ask the ISP.")


async def _problems(request: Request, now: int) -> tuple[list[Problem], dict[str, int]]:
    s = store(request)
    found: list[Problem] = []
    for e in await s.outbound.list(limit=5, where=QueueFilter(state="deferred")):
        waiting = ", ".join(r.address for r in e.pending())
        found.append(Problem(
            f"Mail to {waiting} is waiting ({e.attempts} attempt"
            f"{'' if e.attempts == 1 else 's'})",
            e.last_error or "", reply_hint(e.last_error or ""), f"/admin/queue/{e.id}"))
    for t in await s.stats.failed_deliveries(now - DAYS * 86400):
        for r in t.recipients:
            if r.verdict == "bounced":
                found.append(Problem(
                    f"Mail from {t.mail_from or '(no sender)'} to {r.address} could not be "
                    "delivered", r.reply, reply_hint(r.reply), f"/admin/trace/{t.id}"))
    for c in await s.collectors.list():
        if c.last_error and c.enabled:
            found.append(Problem(
                f"Collector {c.name} ({c.username}@{c.host}) failed"
                + (f" {c.failures} times in a row" if c.failures > 1 else ""),
                c.last_error, collector_hint(c.last_error)))
    refusals = await s.stats.refusals(now - 86400)
    listed = refusals.by_reason.get("blocklist", 0)
    if listed:
        found.append(Problem(
            f"{listed} connection{'' if listed == 1 else 's'} refused in the last 24 hours "
            "because the sender's IP address is on a DNS blocklist", "",
            "Usually spam, nothing to do. If a correspondent says their mail is refused, "
            "find their address in the Message trace and ask them to have their server "
            "delisted, or allow their network under Receiving.",
            "/admin/trace"))
    return found, refusals.by_reason


async def show(request: Request) -> Response:
    running = control(request)
    services = running.services() if running is not None else None
    s = store(request)
    now = int(time.time())
    traffic = await s.stats.traffic(day_starts(date.today()))
    queue = await s.outbound.counts()
    storage = await s.stats.storage(TOP_ACCOUNTS)
    collectors = await s.collectors.list()
    problems, refusals = await _problems(request, now)
    return page(request, "admin/dashboard.html", "/admin", services=services,
                traffic=traffic, bars=chart(traffic), chart_width=CHART_WIDTH,
                chart_height=CHART_HEIGHT, today=traffic[-1],
                week_in=sum(d.received for d in traffic),
                week_out=sum(d.sent for d in traffic), queue=queue, storage=storage,
                collectors=collectors, problems=problems, refusals=refusals, now=now)


ROUTES = [("/admin", show, ["GET"])]
