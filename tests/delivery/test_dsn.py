"""Delivery status notifications: parsed back with the email package, field by field."""

from __future__ import annotations

import email
from email.message import EmailMessage, Message
from email.policy import default
from email.utils import parsedate_to_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.delivery.dsn import (
    RecipientStatus,
    build_report,
    decode_xtext,
    may_bounce,
    orcpt_address,
)
from tests.corpus import message_files

ARRIVAL = 1_796_119_200  # 2026-12-01 10:00:00 UTC
NOW = ARRIVAL + 3600
ORIGINAL = (b"Return-Path: <ann@example.com>\r\nFrom: Ann <ann@example.com>\r\n"
            b"To: bob@example.org, carol@example.net\r\nSubject: Budget\r\n"
            b"Message-ID: <budget.1@example.com>\r\n\r\nThe numbers are attached.\r\n")
FAILED = RecipientStatus(
    "bob@example.org", "failed", "5.0.0",
    diagnostic="550 5.1.1 <bob@example.org>: Recipient address rejected: no such user",
    remote_mta="mx.example.org", original_recipient="Bob@Example.org", last_attempt=NOW)
DELAYED = RecipientStatus(
    "carol@example.net", "delayed", "4.0.0", diagnostic="451 4.7.1 greylisted, try later",
    remote_mta="mx.example.net", last_attempt=NOW, will_retry_until=ARRIVAL + 5 * 86400)


def report(recipients=(FAILED,), original: bytes = ORIGINAL, **kw) -> EmailMessage:
    raw = build_report(reporting_mta="mail.example.com", to="ann@example.com",
                       original=original, recipients=recipients, arrival=ARRIVAL,
                       now=NOW, **kw)
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF only
    return email.message_from_bytes(raw, policy=default)


def parts(msg: EmailMessage) -> tuple[Message, list[Message], Message]:
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    text, status, original = msg.get_payload()
    assert text.get_content_type() == "text/plain"
    assert status.get_content_type() == "message/delivery-status"
    return text, status.get_payload(), original


def body_of(text: Message) -> str:
    return text.get_content().replace("\r\n", "\n")


def test_bounce_headers_and_every_delivery_status_field() -> None:
    msg = report(envelope_id="QQ314159")
    assert msg["From"] == "Mail Delivery System <MAILER-DAEMON@mail.example.com>"
    assert msg["To"] == "ann@example.com"
    assert msg["Subject"] == "Undelivered Mail Returned to Sender"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert parsedate_to_datetime(msg["Date"]).timestamp() == NOW
    assert msg["Message-ID"].endswith("@mail.example.com>")
    assert msg["MIME-Version"] == "1.0"
    _, (per_message, per_recipient), _ = parts(msg)
    assert per_message["Reporting-MTA"] == "dns; mail.example.com"
    assert per_message["Original-Envelope-Id"] == "QQ314159"
    assert parsedate_to_datetime(per_message["Arrival-Date"]).timestamp() == ARRIVAL
    assert per_recipient["Final-Recipient"] == "rfc822; bob@example.org"
    assert per_recipient["Original-Recipient"] == "rfc822; Bob@Example.org"
    assert per_recipient["Action"] == "failed"
    assert per_recipient["Status"] == "5.1.1"  # from the reply, not the generic 5.0.0
    assert per_recipient["Remote-MTA"] == "dns; mx.example.org"
    assert per_recipient["Diagnostic-Code"] == (
        "smtp; 550 5.1.1 <bob@example.org>: Recipient address rejected: no such user")
    assert parsedate_to_datetime(per_recipient["Last-Attempt-Date"]).timestamp() == NOW
    assert per_recipient["Will-Retry-Until"] is None


def test_human_text_names_the_remote_server_as_the_source_of_the_error() -> None:
    text, _, _ = parts(report())
    body = body_of(text)
    assert "could not be delivered" in body
    assert ("<bob@example.org>: mx.example.org said:\n    550 5.1.1 <bob@example.org>: "
            "Recipient address rejected: no such user") in body
    assert "comes from the other server, not from mail.example.com" in body


def test_original_headers_are_attached_by_default_and_the_whole_message_with_ret_full(
        ) -> None:
    _, _, headers = parts(report())
    assert headers.get_content_type() == "text/rfc822-headers"
    attached = headers.get_payload(decode=True)
    assert attached == ORIGINAL.split(b"\r\n\r\n")[0] + b"\r\n"
    assert b"The numbers" not in attached
    _, _, full = parts(report(return_full=True))
    assert full.get_content_type() == "message/rfc822"
    [inner] = full.get_payload()
    assert inner["Subject"] == "Budget" and inner["Message-ID"] == "<budget.1@example.com>"
    assert inner.get_content() == "The numbers are attached.\r\n"
    raw = build_report(reporting_mta="m", to="a@b", original=ORIGINAL, recipients=[FAILED],
                       arrival=ARRIVAL, return_full=True)
    assert b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 7bit\r\n\r\n" \
        + ORIGINAL + b"\r\n--=_" in raw  # byte for byte


def test_delay_notice_says_until_when_it_keeps_trying() -> None:
    msg = report([DELAYED])
    assert msg["Subject"] == "Delayed Mail (still being retried)"
    text, (_, fields), _ = parts(msg)
    body = body_of(text)
    assert "has not been delivered yet" in body
    assert "keeps trying until Sun, 06 Dec 2026 10:00:00 +0000" in body
    assert "mx.example.net said:\n    451 4.7.1 greylisted, try later" in body
    assert fields["Action"] == "delayed" and fields["Status"] == "4.7.1"
    assert parsedate_to_datetime(fields["Will-Retry-Until"]).timestamp() == ARRIVAL + 5 * 86400
    assert "Original-Recipient" not in fields


def test_failed_and_delayed_recipients_in_one_report() -> None:
    msg = report([FAILED, DELAYED])
    assert msg["Subject"] == "Undelivered Mail Returned to Sender"
    text, (_, first, second), _ = parts(msg)
    assert [first["Action"], second["Action"]] == ["failed", "delayed"]
    body = body_of(text)
    assert "bob@example.org" in body and "carol@example.net" in body


def test_no_remote_server_means_no_remote_mta_and_a_local_diagnostic_type() -> None:
    dns_failure = RecipientStatus("x@nowhere.invalid", "failed", "5.1.2",
                                  diagnostic="Host or domain name not found: nowhere.invalid")
    text, (_, fields), _ = parts(report([dns_failure]))
    assert "Remote-MTA" not in fields
    assert fields["Status"] == "5.1.2"
    assert fields["Diagnostic-Code"] == (
        "X-Tidings; Host or domain name not found: nowhere.invalid")
    assert "said:" not in body_of(text)
    assert "<x@nowhere.invalid>: Host or domain name not found" in body_of(text)


@pytest.mark.parametrize(("diagnostic", "given", "expected"), [
    ("550 5.7.1 spam", "5.0.0", "5.7.1"),
    ("550 spam", "5.7.0", "5.7.0"),
    ("554 transaction failed", "", "5.0.0"),
    ("452 4.2.2 mailbox full", "", "4.2.2"),
    ("550 4.2.2 inconsistent classes", "5.2.0", "5.2.0"),
    ("", "bogus", "5.0.0"),
])
def test_status_comes_from_the_enhanced_code_of_the_reply(diagnostic: str, given: str,
                                                           expected: str) -> None:
    _, (_, fields), _ = parts(report([RecipientStatus("b@x.org", "failed", given,
                                                      diagnostic=diagnostic)]))
    assert fields["Status"] == expected


def test_success_report_for_notify_success() -> None:
    delivered = RecipientStatus("b@x.org", "relayed", "2.0.0", diagnostic="250 2.0.0 Ok",
                                remote_mta="mx.x.org")
    msg = report([delivered])
    assert msg["Subject"] == "Successful Mail Delivery Report"
    text, (_, fields), _ = parts(msg)
    assert fields["Action"] == "relayed" and fields["Status"] == "2.0.0"
    assert "was delivered" in body_of(text)
    assert "original message's headers are attached" in body_of(text)
    text, _, _ = parts(report([delivered], return_full=True))
    assert "the original message are attached" in body_of(text)


def test_multiline_and_8bit_replies_stay_readable_and_the_fields_ascii() -> None:
    odd = RecipientStatus(
        "jürgen@exämple.de", "failed", "5.0.0",
        diagnostic="550-5.7.1 Nachricht abgelehnt: Größe\r\n550 5.7.1 siehe https://x/"
                   + "y" * 2000,
        remote_mta="mx.exämple.de", original_recipient="jürgen@exämple.de")
    raw = build_report(reporting_mta="mail.example.com", to="ann@example.com",
                       original=ORIGINAL, recipients=[odd], arrival=ARRIVAL, now=NOW)
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    msg = email.message_from_bytes(raw, policy=default)
    text, (_, fields), _ = parts(msg)
    assert "Nachricht abgelehnt: Größe\n    550 5.7.1 siehe" in body_of(text)
    assert fields["Final-Recipient"] == "utf-8; j\\x{FC}rgen@ex\\x{E4}mple.de"
    assert fields["Original-Recipient"] == "utf-8; j\\x{FC}rgen@ex\\x{E4}mple.de"
    assert fields["Diagnostic-Code"].startswith(
        "smtp; 550-5.7.1 Nachricht abgelehnt: Gr??e 550 5.7.1 siehe")
    assert fields["Status"] == "5.7.1"


def test_hostile_original_headers_cannot_break_the_report() -> None:
    nasty = (b"From: \xff\xfe bad bytes <x@y>\r\nSubject: =?utf-8?q?broken\r\n"
             b"X-Long: " + b"a" * 5000 + b"\r\nNo colon here\r\n"
             b"Content-Type: multipart/mixed; boundary=\"--\"\r\n"
             b"X-Fake: \r\n--=_1796122800.ffff\r\n\tContent-Type: text/plain\r\n"
             b"\r\nbody\r\n")
    msg = report(original=nasty)
    _, (_, fields), headers = parts(msg)
    assert fields["Final-Recipient"] == "rfc822; bob@example.org"
    attached = headers.get_payload(decode=True)
    assert attached == nasty.split(b"\r\n\r\n")[0] + b"\r\n"
    assert headers["Content-Transfer-Encoding"] == "binary"  # a line over 998 bytes


def test_original_without_a_body_or_with_bare_lf_line_endings() -> None:
    _, _, headers = parts(report(original=b"Subject: only headers"))
    assert headers.get_payload(decode=True) == b"Subject: only headers\r\n"
    _, _, headers = parts(report(original=b"Subject: lf\nFrom: a@b\n\nbody\n"))
    assert headers.get_payload(decode=True) == b"Subject: lf\r\nFrom: a@b\r\n"
    _, _, headers = parts(report(original=b""))
    assert headers.get_payload(decode=True) in (b"", None)


@settings(max_examples=300, deadline=None)
@given(original=st.binary(max_size=3000), full=st.booleans(),
       diagnostic=st.text(max_size=300), recipient=st.text(min_size=1, max_size=60))
def test_any_original_bytes_give_a_parseable_report(original: bytes, full: bool,
                                                    diagnostic: str, recipient: str) -> None:
    status = RecipientStatus(recipient, "failed", "5.0.0", diagnostic=diagnostic,
                             remote_mta="mx.example.org")
    raw = build_report(reporting_mta="mail.example.com", to="ann@example.com",
                       original=original, recipients=[status], arrival=ARRIVAL,
                       return_full=full, now=NOW)
    msg = email.message_from_bytes(raw, policy=default)
    text, (per_message, per_recipient), attached = parts(msg)
    assert per_message["Reporting-MTA"] == "dns; mail.example.com"
    assert per_recipient["Action"] == "failed"
    assert per_recipient["Status"].startswith("5.")
    assert attached.get_content_type() == ("message/rfc822" if full else "text/rfc822-headers")
    assert len(msg.get_payload()) == 3
    assert not msg.defects or all("Boundary" not in type(d).__name__ for d in msg.defects)


def test_real_mail_corpus_originals_give_valid_reports() -> None:
    for path in list(message_files("real-mail"))[:200]:
        original = path.read_bytes()
        for full in (False, True):
            _, (_, fields), attached = parts(report(original=original, return_full=full))
            assert fields["Action"] == "failed"
            if not full:
                head = original.replace(b"\r\n", b"\n").split(b"\n\n")[0]
                assert attached.get_payload(decode=True) == head.replace(b"\n", b"\r\n") + \
                    b"\r\n"


# Never a bounce of a bounce ----------------------------------------------------------------

def test_no_report_to_the_null_sender_or_mailer_daemon() -> None:
    assert may_bounce("ann@example.com", ORIGINAL)
    for sender in ("", "<>", "  ", "MAILER-DAEMON@mx.example.org", "mailer-daemon@x",
                   "<MAILER-DAEMON@x>", "MAILER-DAEMON"):
        assert not may_bounce(sender, ORIGINAL), sender


def test_no_report_about_a_delivery_report() -> None:
    bounce = build_report(reporting_mta="mx.example.org", to="ann@example.com",
                          original=ORIGINAL, recipients=[FAILED], arrival=ARRIVAL, now=NOW)
    assert not may_bounce("someone@example.org", bounce)
    folded = (b"From: x@y\r\nContent-Type: multipart/report;\r\n report-type=\"Delivery-Status\";"
              b" boundary=b\r\n\r\n")
    assert not may_bounce("someone@example.org", folded)
    other_report = (b"Content-Type: multipart/report; report-type=disposition-notification;"
                    b" boundary=b\r\n\r\n")
    assert may_bounce("someone@example.org", other_report)  # a read receipt is not a DSN


@given(st.binary(max_size=2000), st.text(max_size=50))
def test_may_bounce_never_raises(original: bytes, sender: str) -> None:
    assert may_bounce(sender, original) in (True, False)


def test_orcpt_and_xtext_decoding() -> None:
    assert decode_xtext("ann+2Bnews+3Dx") == "ann+news=x"
    assert orcpt_address("rfc822;ann+2Bnews@example.com") == "ann+news@example.com"
    assert orcpt_address("ann@example.com") == ""
