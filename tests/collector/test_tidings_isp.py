"""The collector against Tidings's own POP3 server as the ISP (one Tidings collecting from
another), with and without TLS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailstore.store import Store
from tests.collector.conftest import add_collector, collect, corpus, inbox
from tests.collector.tidings_isp import TidingsIsp


@pytest.fixture
def tidings_isp(tmp_path: Path) -> Iterator[TidingsIsp]:
    isp = TidingsIsp(tmp_path / "isp")
    yield isp
    isp.stop()


@pytest.mark.parametrize("tls", ["none", "starttls", "implicit"])
async def test_every_message_arrives_byte_for_byte_and_stays_on_the_server(
        local: Store, tidings_isp: TidingsIsp, tls: str) -> None:
    mailbox = tidings_isp.new_mailbox()
    messages = corpus(5)
    for raw in messages:
        tidings_isp.put(mailbox[0], raw)
    account = await add_collector(local, tidings_isp, mailbox, "pop3", tls)
    outcome = await collect(local, account)
    assert outcome.error is None and outcome.report.delivered == 5
    assert sorted(await inbox(local, "ann@example.com")) == sorted(messages)
    assert tidings_isp.count(mailbox[0]) == 5
    assert (await collect(local, account)).report.delivered == 0  # UIDLs remembered


async def test_delete_after_fetching_empties_the_mailbox_at_quit(
        local: Store, tidings_isp: TidingsIsp) -> None:
    mailbox = tidings_isp.new_mailbox()
    messages = corpus(4)
    for raw in messages:
        tidings_isp.put(mailbox[0], raw)
    account = await add_collector(local, tidings_isp, mailbox, "pop3", leave_on_server=False)
    outcome = await collect(local, account)
    assert outcome.error is None and outcome.report.deleted == 4
    assert tidings_isp.count(mailbox[0]) == 0
    assert sorted(await inbox(local, "ann@example.com")) == sorted(messages)


async def test_a_wrong_password_is_reported_in_the_isps_own_words(
        local: Store, tidings_isp: TidingsIsp) -> None:
    user, _ = tidings_isp.new_mailbox()
    account = await add_collector(local, tidings_isp, (user, "wrong"), "pop3")
    outcome = await collect(local, account)
    assert outcome.error is not None
    assert "invalid user name or password" in str(outcome.error)
