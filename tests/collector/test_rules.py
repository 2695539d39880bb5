"""Download rules: decided from the size and the header, before the body is downloaded."""

from __future__ import annotations

import pytest

from mailstore.collectors import Rule
from mailstore.store import Store
from protocols.collector.rules import decide
from tests.collector.conftest import add_collector, collect, inbox
from tests.collector.isp import Isp


def message(sender: bytes, subject: bytes, body: bytes = b"hello\r\n") -> bytes:
    return (b"From: " + sender + b"\r\nTo: ann@example.com\r\nSubject: " + subject +
            b"\r\nMessage-ID: <" + subject.replace(b" ", b"-") + b"@x>\r\n\r\n" + body)


def test_first_matching_rule_wins_and_globs_are_exact() -> None:
    rules = (Rule("skip", "size", "1000"), Rule("delete", "from", "*@spam.example"),
             Rule("skip", "subject", "newsletter"))
    header = b"From: Bob <bob@spam.example>\r\nSubject: Weekly NEWSLETTER\r\n\r\n"
    assert decide(rules, 5000, header) == rules[0]
    assert decide(rules, 10, header) == rules[1]
    assert decide(rules, 10, header.replace(b"spam.example", b"spam.example.org")) == rules[2]
    assert decide(rules, 10, b"From: a@b\r\nSubject: hi\r\n\r\n") is None


@pytest.mark.parametrize("protocol", ["pop3", "imap"])
async def test_rules_skip_or_delete_at_the_isp_and_the_recipient_is_told(
        local: Store, isp: Isp, protocol: str) -> None:
    mailbox = isp.new_mailbox()
    isp.put(mailbox[0], message(b"friend@ok.example", b"keep me"))
    isp.put(mailbox[0], message(b"friend@ok.example", b"huge one", b"x" * 4000 + b"\r\n"))
    isp.put(mailbox[0], message(b"pest@spam.example", b"buy now"))
    rules = (Rule("skip", "size", "2000"), Rule("delete", "from", "*@spam.example"))
    account = await add_collector(local, isp, mailbox, protocol, rules=rules)
    outcome = await collect(local, account)
    assert outcome.error is None
    assert (outcome.report.delivered, outcome.report.skipped,
            outcome.report.deleted_by_rule) == (1, 1, 1)
    got = await inbox(local, "ann@example.com")
    assert len(got) == 3
    kept = [m for m in got if b"Subject: keep me" in m]
    assert kept == [message(b"friend@ok.example", b"keep me")]
    notices = b"\n".join(m for m in got if b"Message not downloaded" in m)
    assert b"huge one" in notices and b"left on the ISP server" in notices
    assert b"buy now" in notices and b"deleted from the ISP server" in notices
    assert isp.count(mailbox[0]) == 2  # the big one stays, the spam is gone
    again = await collect(local, account)
    assert (again.report.delivered, again.report.skipped) == (0, 0)
    assert len(await inbox(local, "ann@example.com")) == 3  # no second notice
