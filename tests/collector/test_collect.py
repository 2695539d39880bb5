"""Collecting from a real ISP (Dovecot) over POP3 and IMAP, with and without TLS."""

from __future__ import annotations

import pytest

from mailstore.store import Store
from tests.collector.conftest import MODES, add_collector, collect, corpus, inbox
from tests.collector.isp import Isp

DAY = 86400


@pytest.mark.parametrize("protocol,tls", MODES)
async def test_single_recipient_gets_every_message_byte_for_byte(
        local: Store, isp: Isp, protocol: str, tls: str) -> None:
    mailbox = isp.new_mailbox()
    messages = corpus(5)
    for raw in messages:
        isp.put(mailbox[0], raw)
    account = await add_collector(local, isp, mailbox, protocol, tls)
    outcome = await collect(local, account)
    assert outcome.error is None
    assert outcome.report.delivered == 5
    assert sorted(await inbox(local, "ann@example.com")) == sorted(messages)
    assert isp.count(mailbox[0]) == 5  # left on the server (the default)
    assert await inbox(local, "bob@example.com") == []


@pytest.mark.parametrize("protocol", ["pop3", "imap"])
async def test_leave_on_server_across_runs_fetches_each_message_once(
        local: Store, isp: Isp, protocol: str) -> None:
    mailbox = isp.new_mailbox()
    first, second = corpus(3), corpus(2, start=3)
    for raw in first:
        isp.put(mailbox[0], raw)
    account = await add_collector(local, isp, mailbox, protocol)
    assert (await collect(local, account)).report.delivered == 3
    assert (await collect(local, account)).report.delivered == 0
    for raw in second:
        isp.put(mailbox[0], raw)
    outcome = await collect(local, account)
    assert outcome.report.delivered == 2 and outcome.report.on_server == 5
    assert sorted(await inbox(local, "ann@example.com")) == sorted(first + second)
    assert isp.count(mailbox[0]) == 5


@pytest.mark.parametrize("protocol", ["pop3", "imap"])
async def test_delete_after_fetching_empties_the_isp_mailbox(
        local: Store, isp: Isp, protocol: str) -> None:
    mailbox = isp.new_mailbox()
    messages = corpus(4)
    for raw in messages:
        isp.put(mailbox[0], raw)
    account = await add_collector(local, isp, mailbox, protocol, leave_on_server=False)
    outcome = await collect(local, account)
    assert outcome.error is None and outcome.report.deleted == 4
    assert isp.count(mailbox[0]) == 0
    assert sorted(await inbox(local, "ann@example.com")) == sorted(messages)
    assert (await collect(local, account)).report.delivered == 0


@pytest.mark.parametrize("protocol", ["pop3", "imap"])
async def test_delete_after_n_days_removes_only_old_fetched_messages(
        local: Store, isp: Isp, protocol: str) -> None:
    mailbox = isp.new_mailbox()
    old, new = corpus(2), corpus(1, start=2)
    for raw in old:
        isp.put(mailbox[0], raw)
    account = await add_collector(local, isp, mailbox, protocol, delete_after_days=3)
    start = 1_900_000_000
    assert (await collect(local, account, now=start)).report.delivered == 2
    for raw in new:
        isp.put(mailbox[0], raw)
    outcome = await collect(local, account, now=start + 2 * DAY)
    assert outcome.report.delivered == 1 and outcome.report.deleted == 0
    assert isp.count(mailbox[0]) == 3
    outcome = await collect(local, account, now=start + 3 * DAY + 60)
    assert outcome.report.deleted == 2 and outcome.report.delivered == 0
    assert isp.count(mailbox[0]) == 1
    assert len(await inbox(local, "ann@example.com")) == 3


@pytest.mark.parametrize("protocol", ["pop3", "imap"])
async def test_a_mailbox_of_hundreds_is_listed_and_fetched_in_ranges(
        local: Store, isp: Isp, protocol: str) -> None:
    mailbox = isp.new_mailbox()
    messages = [b"From: a@else.org\r\nSubject: n" + str(i).encode() + b"\r\nMessage-ID: <n"
                + str(i).encode() + b"@else.org>\r\n\r\nx\r\n" for i in range(450)]
    for raw in messages:
        isp.put(mailbox[0], raw)
    account = await add_collector(local, isp, mailbox, protocol)
    outcome = await collect(local, account)
    assert outcome.error is None and outcome.report.delivered == 450
    assert sorted(await inbox(local, "ann@example.com")) == sorted(messages)
