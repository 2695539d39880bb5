"""The admin's message trace: find a message by sender, recipient, dates, Message-ID or
client IP, and read its whole story: a real SMTP arrival, then the attempts to deliver its
outbound copy, joined by the Message-ID."""

from __future__ import annotations

import time
from datetime import date, timedelta

import httpx
import pytest

from mailstore.outbound import SENT, enqueue_row, outbound_trace
from mailstore.store import Store
from mailstore.trace import RecipientVerdict, TraceRecord
from protocols.smtp.settings import MX
from tests.smtp.conftest import PASSWORD
from tests.smtp.conftest import office as office  # noqa: F401  (fixture)
from tests.smtp.conftest import start_smtp as start_smtp  # noqa: F401
from tests.smtp.conftest import tls_files as tls_files  # noqa: F401
from tests.smtp.test_receiving import Raw
from tests.web.conftest import login

MESSAGE_ID = "<figures-2026@faraway.example>"
RAW = (f"From: Bob <bob@faraway.example>\r\nTo: Ann <ann@example.com>\r\n"
       f"Subject: Quarterly figures\r\nMessage-ID: {MESSAGE_ID}\r\n\r\nHello Ann\r\n").encode()


@pytest.fixture
async def root(office: Store, client: httpx.AsyncClient) -> httpx.AsyncClient:  # noqa: F811
    """The administrator, signed in, on the office's store (example.com: ann and bob)."""
    await office.accounts.create("root@example.com", PASSWORD, is_admin=True)
    assert (await login(client, "root@example.com")).status_code == 303
    return client


async def send_over_smtp(port: int) -> str:
    raw = await Raw.open(port)
    await raw.send(b"EHLO client.faraway.example\r\n")
    await raw.send(b"MAIL FROM:<bob@faraway.example>\r\n")
    await raw.send(b"RCPT TO:<ann@example.com>\r\n")
    refused = await raw.send(b"RCPT TO:<nobody@example.com>\r\n")
    assert refused.startswith("550")
    await raw.send(b"DATA\r\n")
    reply = await raw.send(RAW + b".\r\n")
    await raw.send(b"QUIT\r\n")
    await raw.close()
    return reply


def ids(html: str) -> list[str]:
    import re

    return re.findall(r'href="/admin/trace/(\d+)"', html)


async def test_a_message_received_over_smtp_is_found_and_its_story_told(
        root: httpx.AsyncClient, start_smtp, office: Store) -> None:  # noqa: F811
    smtp = await start_smtp()
    assert (await send_over_smtp(smtp.ports[MX])).startswith("250")
    # Its outbound copy (a forward) got "try later", then was delivered.
    entry_id = await office.db.write_sync(lambda conn: enqueue_row(
        conn, mail_from="bob@faraway.example", recipients=["ann@home.example"], message=RAW,
        origin="smtp"))
    entry = await office.outbound.get(entry_id)
    entry.recipients[0].reply, entry.recipients[0].remote = "451 4.7.1 greylisted", "mx.home"
    await office.traces.record(outbound_trace(entry, entry.recipients, verdict="deferred",
                                              remote_ip="192.0.2.9", remote_host="mx.home",
                                              now=int(time.time()) + 1))
    entry.recipients[0].state, entry.recipients[0].reply = SENT, "250 2.0.0 queued as 7"
    await office.traces.record(outbound_trace(entry, entry.recipients, verdict="sent",
                                              remote_ip="192.0.2.9", remote_host="mx.home",
                                              now=int(time.time()) + 2))

    today = date.today().isoformat()
    for params in ({"recipient": "ANN@example"}, {"sender": "bob@faraway"},
                   {"message_id": MESSAGE_ID}, {"message_id": MESSAGE_ID.strip("<>")},
                   {"client_ip": "127.0.0.1"}, {"since": today, "until": today}):
        page = await root.get("/admin/trace", params=params)
        assert page.status_code == 200, params
        assert len(ids(page.text)) >= 1, params
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    none = (await root.get("/admin/trace", params={"until": yesterday})).text
    assert ids(none) == [] and "Nothing matches" in none
    assert ids((await root.get("/admin/trace", params={"client_ip": "192.0.2.200"})).text) \
        == []

    arrival = ids((await root.get("/admin/trace", params={"client_ip": "127.0.0.1"})).text)
    story = (await root.get(f"/admin/trace/{arrival[0]}")).text
    assert "Received from another mail server" in story
    assert "client.faraway.example" in story  # the HELO name
    assert "ann@example.com/INBOX" in story  # where it went
    assert "nobody@example.com" in story and "550 5.1.1" in story  # refused, and why
    assert "Delivery attempt to another mail server" in story
    assert story.index("451 4.7.1 greylisted") < story.index("250 2.0.0 queued as 7")
    assert (await root.get("/admin/trace/999999")).status_code == 404


async def test_wrong_search_fields_are_explained_next_to_them_and_keep_what_was_typed(
        root: httpx.AsyncClient) -> None:
    page = await root.get("/admin/trace", params={
        "since": "14/03/2026", "client_ip": "192.0.2.300", "sender": "bob"})
    assert page.status_code == 400
    assert 'id="since-error"' in page.text and "YYYY-MM-DD" in page.text
    assert 'id="client_ip-error"' in page.text and "one IP address" in page.text
    assert 'value="14/03/2026"' in page.text and 'value="bob"' in page.text
    backwards = await root.get("/admin/trace", params={"since": "2026-03-14",
                                                       "until": "2026-03-01"})
    assert backwards.status_code == 400 and "before the start date" in backwards.text


async def test_results_come_in_pages_newest_first(root: httpx.AsyncClient,
                                                  office: Store) -> None:
    now = int(time.time())
    for n in range(60):
        await office.traces.record(TraceRecord(
            at=now - n, listener="smtp", client_ip="198.51.100.7", verdict="rejected",
            mail_from=f"spammer{n}@bulk.example", reply="554 5.7.1 listed",
            recipients=[RecipientVerdict("ann@example.com", "rejected", "554 5.7.1")]))
    first = (await root.get("/admin/trace", params={"client_ip": "198.51.100.7"})).text
    assert len(ids(first)) == 50
    assert first.index("spammer0@") < first.index("spammer1@")
    import html
    import re

    older = html.unescape(re.search(r'href="(/admin/trace\?[^"]*before=[^"]*)"', first)[1])
    second = (await root.get(older)).text
    assert len(ids(second)) == 10 and not set(ids(first)) & set(ids(second))
    assert "spammer59@" in second and "Older</a>" not in second
