"""The dashboard: mail in and out per day with a chart, the queue, storage, the collector's
last runs, and the problems to look at, each with a hint. A DNS blocklist refusal comes
from a real SMTP connection refused at connect."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
import pytest

from mailstore.collectors import CollectorSettings
from mailstore.outbound import enqueue_row
from mailstore.store import Store
from mailstore.trace import RecipientVerdict, TraceRecord
from mailstore.values import AccountInfo
from protocols.smtp.settings import MX
from tests.admin.test_queue import defer, queue
from tests.smtp.conftest import PASSWORD
from tests.smtp.conftest import office as office  # noqa: F401  (fixture)
from tests.smtp.conftest import start_smtp as start_smtp  # noqa: F401
from tests.smtp.conftest import tls_files as tls_files  # noqa: F401
from tests.smtp.test_sender_auth import LAN
from tests.smtp.test_sender_auth import checked as checked  # noqa: F401
from tests.web.conftest import deliver, inbox_id, login, make_message


def arrival(at: int, verdict: str = "accepted", listener: str = "smtp") -> TraceRecord:
    return TraceRecord(at=at, listener=listener, client_ip="198.51.100.4", verdict=verdict,
                       mail_from="bob@faraway.example",
                       recipients=[RecipientVerdict("ann@example.com", verdict)])


def figure(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">(?:<a [^>]*>)?([^<]*)<', html)
    assert found, element_id
    return found[1].strip()


async def test_mail_in_and_out_today_and_this_week_with_a_chart(
        admin: httpx.AsyncClient, store: Store) -> None:
    now = int(time.time())
    for at in (now, now - 1, now - 2, now - 3 * 86400):
        await store.traces.record(arrival(at))
    await store.traces.record(arrival(now, listener="collector"))
    await store.traces.record(arrival(now, verdict="rejected"))  # refused: not "in"
    for at, verdict in ((now, "sent"), (now - 5, "sent"), (now, "deferred"),
                        (now - 10 * 86400, "sent")):
        await store.traces.record(arrival(at, verdict, listener="outbound"))
    page = await admin.get("/admin")
    assert page.status_code == 200
    assert figure(page.text, "in-today") == "4"
    assert figure(page.text, "out-today") == "2"
    assert "5 in the last 7 days" in page.text and "2 in the last 7 days" in page.text
    bars = re.findall(r'<rect class="bar-(in|out)" x="\d+" y="\d+" width="\d+" '
                      r'height="(\d+)"', page.text)
    assert len(bars) == 14
    assert max(int(h) for _, h in bars) > 0
    # A strict Content-Security-Policy: no inline style or script.
    assert "style=" not in page.text and not re.search(r"<script(?![^>]*src=)", page.text)


async def test_queue_length_and_its_oldest_entry(admin: httpx.AsyncClient,
                                                 store: Store) -> None:
    assert figure((await admin.get("/admin")).text, "queue-length") == "0"
    await queue(store)
    await queue(store, age=2 * 86400)
    page = (await admin.get("/admin")).text
    assert figure(page, "queue-length") == "2"
    assert "oldest since" in page


async def test_storage_used_and_the_biggest_accounts(admin: httpx.AsyncClient, store: Store,
                                                     account: AccountInfo) -> None:
    await deliver(store, await inbox_id(store, account),
                  [make_message(f"n{n}", body="x" * 5000) for n in range(3)])
    storage = await store.stats.storage()
    assert storage.blob_count == 3 and storage.blob_bytes > 15000
    assert storage.database_bytes and storage.database_bytes > 0
    page = (await admin.get("/admin")).text
    usage = page[page.index('id="usage"'):]
    assert "ann@example.com" in usage
    assert "the database takes" in page


async def test_collector_runs_and_their_failures_with_a_hint(
        admin: httpx.AsyncClient, store: Store, account: AccountInfo) -> None:
    ok = await store.collectors.add(CollectorSettings(
        "office-isp", "pop3", "pop.isp.example", "office", "secret", "ann@example.com"))
    bad = await store.collectors.add(CollectorSettings(
        "old-isp", "imap", "imap.old.example", "ann", "secret", "ann@example.com"))
    now = int(time.time())
    await store.collectors.finish(ok.id, "n", None, "3 new messages", now)
    for _ in range(2):
        await store.collectors.finish(bad.id, "n", "login failed: [AUTHENTICATIONFAILED] "
                                      "invalid credentials", "", now)
    page = (await admin.get("/admin")).text
    collectors = page[page.index('id="collectors"'):]
    assert "3 new messages" in collectors and "login failed" in collectors
    problems = page[page.index('id="problems"'):page.index('id="services"')]
    assert "Collector old-isp" in problems and "2 times in a row" in problems
    assert "user name or password" in problems


async def test_waiting_and_failed_mail_are_shown_with_what_to_do(
        admin: httpx.AsyncClient, store: Store) -> None:
    entry_id = await queue(store, recipients=("bob@faraway.example",))
    await defer(store, entry_id, "421 4.4.2 mx.faraway.example: connection timed out")
    await store.traces.record(TraceRecord(
        at=int(time.time()), listener="outbound", client_ip="192.0.2.9", verdict="bounced",
        mail_from="ann@example.com", recipients=[RecipientVerdict(
            "bobb@faraway.example", "bounced", "550 5.1.1 <bobb@faraway.example>: no such "
            "user")]))
    page = (await admin.get("/admin")).text
    problems = page[page.index('id="problems"'):page.index('id="services"')]
    assert f'href="/admin/queue/{entry_id}"' in problems
    assert "connection timed out" in problems and "smart host" in problems
    assert "bobb@faraway.example could not be delivered" in problems
    assert "does not exist" in problems  # the hint for 5.1.1


@pytest.mark.skipif(LAN is None, reason="this machine has no non-loopback address")
async def test_connections_refused_by_a_dns_blocklist_are_counted(
        checked, zone, office: Store, client: httpx.AsyncClient) -> None:  # noqa: F811
    reversed_ip = ".".join(reversed(LAN.split(".")))
    zone.a(f"{reversed_ip}.bl.example", "127.0.0.2")
    reader, writer = await asyncio.open_connection(LAN, checked.ports[MX],
                                                   local_addr=(LAN, 0))
    assert (await reader.readline()).startswith(b"554 5.7.1")
    writer.close()
    for _ in range(50):  # the trace of a refusal is written just after the reply
        if (await office.stats.refusals(int(time.time()) - 60)).total:
            break
        await asyncio.sleep(0.1)
    await office.accounts.create("root@example.com", PASSWORD, is_admin=True)
    assert (await login(client, "root@example.com")).status_code == 303
    page = (await client.get("/admin")).text
    assert figure(page, "refused") == "1"
    assert "1 connection refused in the last 24 hours" in page
    assert "DNS blocklist" in page


async def test_an_empty_server_has_nothing_to_report(admin: httpx.AsyncClient) -> None:
    page = (await admin.get("/admin")).text
    assert figure(page, "in-today") == "0" and figure(page, "queue-length") == "0"
    assert "Nothing: no waiting or failed mail" in page
    assert "No ISP mailboxes are collected from." in page


async def test_traffic_is_counted_per_local_day(store: Store) -> None:
    from datetime import date

    from webapp.admin.dashboard import day_starts

    starts = day_starts(date.today())
    for i, start in enumerate(starts):
        for n in range(i):
            await store.traces.record(arrival(start + 60 + n))
    await store.db.write_sync(lambda conn: enqueue_row(  # a queued entry is not "out"
        conn, mail_from="a@example.com", recipients=["b@x.example"],
        message=b"Subject: x\r\n\r\nx\r\n", origin="smtp"))
    traffic = await store.stats.traffic(starts)
    assert [d.received for d in traffic] == list(range(7))
    assert [d.sent for d in traffic] == [0] * 7
