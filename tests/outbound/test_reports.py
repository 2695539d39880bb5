"""Delivery reports (RFC 3464): bounces, delay notices and what never gets one."""

from __future__ import annotations

from email import message_from_bytes
from email.message import Message

from mailstore.store import Store
from tests.outbound.conftest import Clock, Internet
from tests.outbound.internet import TEMPFAIL
from tests.outbound.test_queue import message, queue
from tests.smtp.conftest import inbox as raw_inbox


async def inbox(store: Store, address: str) -> list[Message]:
    return [message_from_bytes(raw) for raw in await raw_inbox(store, address)]


def report_fields(report: Message) -> list[Message]:
    """The per-message and per-recipient field groups of the delivery-status part."""
    [status] = [p for p in report.walk() if p.get_content_type() == "message/delivery-status"]
    return list(status.get_payload())


async def test_a_refused_recipient_bounces_to_the_sender_with_the_remote_answer(
        office: Store, internet: Internet, make_runner) -> None:
    remote = await internet.mail_server("remote.test")
    remote.refuse.add("nobody@remote.test")
    await queue(office, "bob@remote.test", "nobody@remote.test")
    await make_runner().run_until_idle()
    assert remote.received[0].recipients == ["bob@remote.test"]
    [bounce] = await inbox(office, "ann@example.com")
    assert bounce.get_content_type() == "multipart/report"
    assert bounce.get_param("report-type") == "delivery-status"
    assert bounce["Auto-Submitted"].startswith("auto-replied")
    _, recipient = report_fields(bounce)
    assert recipient["Final-Recipient"] == "rfc822; nobody@remote.test"
    assert recipient["Action"] == "failed" and recipient["Status"] == "5.1.1"
    assert recipient["Remote-MTA"] == "dns; mx2.net"
    assert "no such user here" in recipient["Diagnostic-Code"]
    text = bounce.get_payload()[0].get_payload(decode=True).decode()
    assert "mx2.net" in text and "no such user here" in text
    assert b"Subject: Hello" in bounce.get_payload()[2].as_bytes()
    assert await office.outbound.list() == []


async def test_a_null_mx_domain_bounces_at_once_without_a_connection(
        office: Store, internet: Internet, make_runner) -> None:
    internet.zone.mx("nomail.test", ".", 0)
    await queue(office, "bob@nomail.test")
    await make_runner().run_until_idle()
    [bounce] = await inbox(office, "ann@example.com")
    _, recipient = report_fields(bounce)
    assert recipient["Status"] == "5.1.10"
    assert "accepts no mail" in recipient["Diagnostic-Code"]


async def test_a_domain_that_does_not_exist_bounces(
        office: Store, internet: Internet, make_runner) -> None:
    await queue(office, "bob@no-such-domain.test")
    await make_runner().run_until_idle()
    [bounce] = await inbox(office, "ann@example.com")
    assert report_fields(bounce)[1]["Status"] == "5.1.2"


async def test_a_delay_notice_after_four_hours_once_then_a_bounce_at_expiry(
        office: Store, internet: Internet, make_runner, clock: Clock) -> None:
    await internet.mail_server("remote.test", TEMPFAIL)
    entry_id = await queue(office)
    runner = make_runner()
    await runner.run_until_idle()
    assert await inbox(office, "ann@example.com") == []
    while clock.now - (await office.outbound.get(entry_id)).created_at < 5 * 3600:
        clock.advance((await office.outbound.get(entry_id)).next_attempt_at - clock.now)
        await runner.run_until_idle()
    [notice] = await inbox(office, "ann@example.com")
    _, recipient = report_fields(notice)
    assert recipient["Action"] == "delayed" and recipient["Status"] == "4.3.0"
    assert recipient["Will-Retry-Until"]
    while await office.outbound.list():
        clock.advance(max(1, (await office.outbound.get(entry_id)).next_attempt_at
                          - clock.now))
        await runner.run_until_idle()
    notice, bounce = await inbox(office, "ann@example.com")
    _, recipient = report_fields(bounce)
    assert recipient["Action"] == "failed" and recipient["Status"] == "5.3.0"
    assert "gave up after 5 days" in recipient["Diagnostic-Code"]


async def test_a_bounce_for_a_sender_elsewhere_is_queued_from_the_null_sender(
        office: Store, internet: Internet, make_runner, clock: Clock) -> None:
    remote = await internet.mail_server("remote.test")
    remote.refuse.add("nobody@remote.test")
    home = await internet.mail_server("elsewhere.test")
    await queue(office, "nobody@remote.test", sender="zed@elsewhere.test",
                raw=message(to="nobody@remote.test"))
    runner = make_runner()
    await runner.run_until_idle()
    await runner.run_until_idle()
    [bounce] = home.received
    assert bounce.mail_from == "<>"  # aiosmtpd's spelling of the null sender
    assert bounce.recipients == ["zed@elsewhere.test"]
    assert bounce.message.get_content_type() == "multipart/report"


async def test_no_report_about_a_report_and_none_when_notify_never(
        office: Store, internet: Internet, make_runner) -> None:
    remote = await internet.mail_server("remote.test")
    remote.refuse.update({"nobody@remote.test", "gone@remote.test"})
    await queue(office, "nobody@remote.test", sender="")  # a bounce that bounces
    await queue(office, "gone@remote.test",
                dsn={"rcpt": {"gone@remote.test": {"NOTIFY": "NEVER"}}})
    await make_runner().run_until_idle()
    assert await inbox(office, "ann@example.com") == []
    assert await office.outbound.list() == []


async def test_notify_success_through_a_server_without_dsn_gets_a_relayed_notice(
        office: Store, internet: Internet, make_runner) -> None:
    await internet.mail_server("remote.test")
    await queue(office, "bob@remote.test",
                dsn={"envid": "QQ314159", "rcpt": {"bob@remote.test": {
                    "NOTIFY": "SUCCESS,FAILURE", "ORCPT": "rfc822;bob+2Bx@remote.test"}}})
    await make_runner().run_until_idle()
    [notice] = await inbox(office, "ann@example.com")
    envelope, recipient = report_fields(notice)
    assert envelope["Original-Envelope-Id"] == "QQ314159"
    assert recipient["Action"] == "relayed"
    assert recipient["Original-Recipient"] == "rfc822; bob+x@remote.test"
