"""Multi-drop: one ISP mailbox for the whole office, routed by the envelope traces."""

from __future__ import annotations

import pytest

from mailstore.store import Store
from tests.collector.conftest import add_collector, collect, inbox
from tests.collector.isp import Isp


def message(n: int, extra: bytes, to: bytes = b"team@else.org", mid: bytes | None = None
            ) -> bytes:
    return (extra + b"From: Zed <zed@else.org>\r\nTo: " + to + b"\r\n"
            b"Subject: message " + str(n).encode() + b"\r\n"
            b"Message-ID: <" + (mid or f"m{n}".encode()) + b"@else.org>\r\n"
            b"Date: Mon, 01 Dec 2025 10:00:00 +0000\r\n\r\nHello " + str(n).encode() + b"\r\n")


def subjects(raws: list[bytes]) -> list[str]:
    return sorted(r.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0].decode() for r in raws)


@pytest.mark.parametrize("protocol", ["pop3", "imap"])
async def test_multidrop_routes_by_each_envelope_header_then_to_cc_then_default(
        local: Store, isp: Isp, protocol: str) -> None:
    await local.accounts.add_alias("sales@example.com", "carol@example.com")
    mailbox = isp.new_mailbox()
    for raw in (
        message(1, b"Delivered-To: bob@example.com\r\n"),
        message(2, b"X-Original-To: carol@example.com\r\n"),
        message(3, b"X-Envelope-To: ann@example.com\r\n"),
        message(4, b"Envelope-To: bob@example.com\r\n"),
        message(5, b"Received: from mx.isp.net by pop.isp.net for <carol@example.com>;"
                   b" Mon, 01 Dec 2025 10:00:00 +0000\r\n"),
        message(6, b"", to=b"ann@example.com, bob@example.com"),
        message(7, b"", to=b"stranger@else.org"),
        message(8, b"Delivered-To: sales@example.com\r\n"),
    ):
        isp.put(mailbox[0], raw)
    account = await add_collector(local, isp, mailbox, protocol, multidrop=True,
                                  recipient="admin@example.com")
    outcome = await collect(local, account)
    assert outcome.error is None and outcome.report.delivered == 8
    assert subjects(await inbox(local, "ann@example.com")) == ["message 3", "message 6"]
    assert subjects(await inbox(local, "bob@example.com")) == \
        ["message 1", "message 4", "message 6"]
    assert subjects(await inbox(local, "carol@example.com")) == \
        ["message 2", "message 5", "message 8"]
    assert subjects(await inbox(local, "admin@example.com")) == ["message 7"]


@pytest.mark.parametrize("protocol", ["pop3", "imap"])
async def test_copies_of_one_message_are_delivered_once_per_recipient(
        local: Store, isp: Isp, protocol: str) -> None:
    mailbox = isp.new_mailbox()
    # The ISP put one copy per local recipient in the mailbox, and one twice.
    for extra in (b"Delivered-To: bob@example.com\r\n", b"Delivered-To: carol@example.com\r\n",
                  b"Delivered-To: bob@example.com\r\n", b""):
        isp.put(mailbox[0], message(1, extra, to=b"bob@example.com, carol@example.com",
                                    mid=b"same"))
    account = await add_collector(local, isp, mailbox, protocol, multidrop=True,
                                  recipient="admin@example.com")
    outcome = await collect(local, account)
    assert outcome.error is None and outcome.report.delivered == 4
    assert len(await inbox(local, "bob@example.com")) == 1
    assert len(await inbox(local, "carol@example.com")) == 1
    assert await inbox(local, "admin@example.com") == []
