"""Receiving mail by SMTP: real clients (smtplib, aiosmtplib, raw sockets) on real sockets."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage

import aiosmtplib
import pytest

from mailstore.store import Store
from protocols.smtp.limits import parse_networks
from protocols.smtp.settings import MX, SUBMISSION, SUBMISSIONS
from tests.smtp.conftest import PASSWORD, RunningSmtp, inbox, lan_address

MESSAGE = (b"From: Zed <zed@example.org>\r\nTo: ann@example.com\r\nSubject: Hello\r\n"
           b"Message-ID: <hello.1@example.org>\r\n\r\nHi Ann,\r\n.leading dot\r\nbye\r\n")


def send(port: int, sender: str, recipients: list[str], data: bytes, **login) -> dict:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        if login:
            client.login(login["user"], login["password"])
        return client.sendmail(sender, recipients, data)


class Raw:
    """A line-at-a-time SMTP conversation, for what well-behaved libraries will not send."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, host: str = "127.0.0.1",
                   local: str | None = None) -> Raw:
        reader, writer = await asyncio.open_connection(
            host, port, local_addr=(local, 0) if local else None)
        raw = cls(reader, writer)
        await raw.reply()
        return raw

    async def reply(self) -> str:
        lines = []
        while True:
            line = (await asyncio.wait_for(self.reader.readline(), 10)).decode()
            lines.append(line.rstrip("\r\n"))
            if len(line) < 4 or line[3] != "-":
                return "\n".join(lines)

    async def send(self, data: bytes) -> str:
        self.writer.write(data)
        await self.writer.drain()
        return await self.reply()

    async def close(self) -> None:
        self.writer.close()


async def test_ehlo_advertises_the_extensions(smtp: RunningSmtp) -> None:
    raw = await Raw.open(smtp.ports[MX])
    reply = await raw.send(b"EHLO client.example.org\r\n")
    for extension in ("PIPELINING", "SIZE 26214400", "8BITMIME", "SMTPUTF8",
                      "ENHANCEDSTATUSCODES", "STARTTLS", "AUTH PLAIN LOGIN", "DSN"):
        assert f"250-{extension}" in reply or f"250 {extension}" in reply, extension
    assert (await raw.send(b"RSET\r\n")).startswith("250 2.0.0")
    assert (await raw.send(b"BOGUS\r\n")).startswith("500 5.5.2")
    await raw.close()


async def test_message_for_a_local_user_is_stored_with_a_received_header(
        smtp: RunningSmtp) -> None:
    refused = await asyncio.to_thread(send, smtp.ports[MX], "zed@example.org",
                                      ["ann@example.com"], MESSAGE)
    assert refused == {}
    [stored] = await inbox(smtp.store, "ann@example.com")
    received, _, rest = stored.partition(b"\r\nFrom: Zed")
    assert rest and (b"From: Zed" + rest) == MESSAGE.replace(b"\r\n.leading", b"\r\n.leading")
    assert received.startswith(b"Received: from ")
    assert b"by mx.example.com (Tidings) with ESMTP id " in received
    assert b"for <ann@example.com>;" in received


async def test_dot_stuffed_lines_arrive_unstuffed(smtp: RunningSmtp) -> None:
    raw = await Raw.open(smtp.ports[MX])
    await raw.send(b"EHLO c\r\n")
    await raw.send(b"MAIL FROM:<zed@example.org>\r\n")
    await raw.send(b"RCPT TO:<ann@example.com>\r\n")
    assert (await raw.send(b"DATA\r\n")).startswith("354")
    reply = await raw.send(b"Subject: dots\r\n\r\n..one dot\r\n...\r\n.\r\n")
    assert reply.startswith("250 2.0.0")
    [stored] = await inbox(smtp.store, "ann@example.com")
    assert stored.endswith(b"\r\n\r\n.one dot\r\n..\r\n")


async def test_each_recipient_gets_its_own_answer_at_rcpt_time(smtp: RunningSmtp) -> None:
    await smtp.store.accounts.create("full@example.com", PASSWORD, quota_bytes=10)
    raw = await Raw.open(smtp.ports[MX])
    await raw.send(b"EHLO client.example.org\r\n")
    assert (await raw.send(b"MAIL FROM:<zed@example.org> SIZE=100\r\n")).startswith("250 2.1.0")
    assert (await raw.send(b"RCPT TO:<ann@example.com>\r\n")).startswith("250 2.1.5")
    assert await raw.send(b"RCPT TO:<x@example.com>\r\n") \
        == "550 5.1.1 <x@example.com>: no such user here"
    assert await raw.send(b"RCPT TO:<x@elsewhere.org>\r\n") \
        == "554 5.7.1 <x@elsewhere.org>: relaying denied, authenticate first"
    assert await raw.send(b"RCPT TO:<full@example.com>\r\n") \
        == "452 4.2.2 <full@example.com>: mailbox full"
    await raw.close()


async def test_full_mailbox_answer_can_be_permanent(start_smtp) -> None:
    smtp = await start_smtp(mailbox_full_code=552)
    await smtp.store.accounts.create("full@example.com", PASSWORD, quota_bytes=10)
    raw = await Raw.open(smtp.ports[MX])
    await raw.send(b"EHLO c\r\nMAIL FROM:<z@example.org> SIZE=100\r\n")
    await raw.reply()
    assert await raw.send(b"RCPT TO:<full@example.com>\r\n") \
        == "552 5.2.2 <full@example.com>: mailbox full"


async def test_too_many_recipients(start_smtp) -> None:
    smtp = await start_smtp(max_recipients=2)
    raw = await Raw.open(smtp.ports[MX])
    # Pipelined: every command in one write, the replies in order.
    raw.writer.write(b"EHLO c\r\nMAIL FROM:<z@example.org>\r\nRCPT TO:<ann@example.com>\r\n"
                     b"RCPT TO:<bob@example.com>\r\nRCPT TO:<ann@example.com>\r\n")
    replies = [await raw.reply() for _ in range(5)]
    assert replies[4] == "452 4.5.3 too many recipients"


async def test_loopback_may_not_relay_without_auth_but_a_listed_network_may(
        start_smtp) -> None:
    smtp = await start_smtp()
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        await asyncio.to_thread(send, smtp.ports[MX], "ann@example.com",
                                ["carol@elsewhere.org"], MESSAGE)
    assert refused.value.recipients["carol@elsewhere.org"][0] == 554
    trusted = await start_smtp(relay_networks=parse_networks(["127.0.0.0/8"]))
    assert await asyncio.to_thread(send, trusted.ports[MX], "ann@example.com",
                                   ["carol@elsewhere.org"], MESSAGE) == {}


async def test_authenticated_user_relays_and_the_message_waits_in_the_queue(
        smtp: RunningSmtp) -> None:
    assert await asyncio.to_thread(send, smtp.ports[SUBMISSION], "ann@example.com",
                                   ["carol@elsewhere.org", "bob@example.com"], MESSAGE,
                                   user="ann@example.com", password=PASSWORD) == {}
    [summary] = await smtp.store.outbound.list()
    row = await smtp.store.outbound.get(summary.id)
    assert [r.address for r in row.pending()] == ["carol@elsewhere.org"]
    assert row.origin == SUBMISSION
    assert row.message.endswith(MESSAGE.replace(b"\r\n.leading", b"\r\n.leading"))
    [copy] = await inbox(smtp.store, "bob@example.com")
    assert b"(authenticated as ann@example.com)" in copy
    assert b"with ESMTPA id" in copy


async def test_submission_needs_auth_before_mail(smtp: RunningSmtp) -> None:
    raw = await Raw.open(smtp.ports[SUBMISSION])
    await raw.send(b"EHLO c\r\n")
    reply = await raw.send(b"MAIL FROM:<ann@example.com>\r\n")
    assert reply.startswith("530 5.7.0")


async def test_starttls_then_auth_and_the_received_header_names_the_cipher(
        smtp: RunningSmtp) -> None:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp.ports[SUBMISSION],
                             tls_context=smtp.client_context(), start_tls=True)
    await client.connect()
    await client.ehlo()  # RFC 3207 §4.2: STARTTLS forgot the first EHLO
    await client.auth_plain("ann@example.com", PASSWORD)
    await client.sendmail("ann@example.com", ["bob@example.com"], MESSAGE)
    await client.quit()
    [stored] = await inbox(smtp.store, "bob@example.com")
    assert b"with ESMTPSA id" in stored
    assert b"(using TLSv1." in stored and b"with cipher " in stored


async def test_implicit_tls_on_submissions(smtp: RunningSmtp) -> None:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp.ports[SUBMISSIONS],
                             tls_context=smtp.client_context(), use_tls=True)
    await client.connect()
    assert "STARTTLS" not in (await client.ehlo()).message
    await client.auth_login("bob@example.com", PASSWORD)
    errors, _ = await client.sendmail("bob@example.com", ["ann@example.com"], MESSAGE)
    await client.quit()
    assert errors == {}
    assert len(await inbox(smtp.store, "ann@example.com")) == 1


async def test_auth_login_and_plain_with_initial_response(smtp: RunningSmtp) -> None:
    import base64

    raw = await Raw.open(smtp.ports[SUBMISSION])
    await raw.send(b"EHLO c\r\n")
    assert (await raw.send(b"AUTH LOGIN\r\n")).startswith("334 ")
    assert (await raw.send(base64.b64encode(b"ann@example.com") + b"\r\n")).startswith("334")
    assert (await raw.send(base64.b64encode(PASSWORD.encode()) + b"\r\n")) \
        .startswith("235 2.7.0")
    assert (await raw.send(b"AUTH PLAIN AGFubkBleGFtcGxlLmNvbQB4\r\n")).startswith("503")
    other = await Raw.open(smtp.ports[SUBMISSION])
    await other.send(b"EHLO c\r\n")
    assert (await other.send(b"AUTH PLAIN !!notbase64\r\n")).startswith("501 5.5.2")
    assert (await other.send(b"AUTH CRAM-MD5\r\n")).startswith("504 5.5.4")


async def test_failed_logins_are_capped(start_smtp) -> None:
    import base64

    from mailstore.throttle import FailureLimiter

    smtp = await start_smtp()
    smtp.store.logins = FailureLimiter(limit=3, lockout=900)
    raw = await Raw.open(smtp.ports[SUBMISSION])
    await raw.send(b"EHLO c\r\n")
    wrong = b"AUTH PLAIN " + base64.b64encode(b"\0ann@example.com\0wrong") + b"\r\n"
    for _ in range(3):
        assert (await raw.send(wrong)).startswith("535 5.7.8")
    right = b"AUTH PLAIN " + base64.b64encode(f"\0ann@example.com\0{PASSWORD}".encode())
    assert await raw.send(right + b"\r\n") == "454 4.7.0 too many failed attempts, try later"


async def test_auth_is_not_offered_in_the_clear_to_a_remote_client(start_smtp) -> None:
    lan = lan_address()
    if lan is None:
        pytest.skip("this machine has no non-loopback address")
    smtp = await start_smtp(host=lan)
    mx = await Raw.open(smtp.ports[MX], host=lan, local=lan)
    ehlo = await mx.send(b"EHLO c\r\n")
    assert "STARTTLS" in ehlo and "AUTH" not in ehlo
    assert (await mx.send(b"AUTH PLAIN AGEAYg==\r\n")).startswith("538 5.7.11")
    submission = await Raw.open(smtp.ports[SUBMISSION], host=lan, local=lan)
    await submission.send(b"EHLO c\r\n")
    assert (await submission.send(b"MAIL FROM:<ann@example.com>\r\n")) \
        == "530 5.7.0 Must issue a STARTTLS command first"


async def test_declared_size_over_the_limit_is_refused_at_mail(start_smtp) -> None:
    smtp = await start_smtp(max_message_size=1000)
    raw = await Raw.open(smtp.ports[MX])
    await raw.send(b"EHLO c\r\n")
    assert await raw.send(b"MAIL FROM:<z@example.org> SIZE=5000\r\n") \
        == "552 5.3.4 message too big: 5000 bytes, limit is 1000"


async def test_a_lie_about_size_is_caught_after_data(start_smtp) -> None:
    smtp = await start_smtp(max_message_size=1000)
    raw = await Raw.open(smtp.ports[MX])
    await raw.send(b"EHLO c\r\n")
    await raw.send(b"MAIL FROM:<z@example.org> SIZE=100\r\n")
    await raw.send(b"RCPT TO:<ann@example.com>\r\n")
    await raw.send(b"DATA\r\n")
    body = b"Subject: big\r\n\r\n" + b"0123456789\r\n" * 200
    assert await raw.send(body + b".\r\n") \
        == f"552 5.3.4 message too big: {len(body)} bytes, limit is 1000"
    assert await inbox(smtp.store, "ann@example.com") == []
    # The session goes on: the next message is fine.
    await raw.send(b"MAIL FROM:<z@example.org>\r\nRCPT TO:<ann@example.com>\r\nDATA\r\n")
    await raw.reply(), await raw.reply()
    assert (await raw.send(b"Subject: small\r\n\r\nok\r\n.\r\n")).startswith("250")


@pytest.mark.parametrize("data, kind", [
    (b"Subject: x\r\n\r\nline\nsmuggled\r\n", "LF"),
    (b"Subject: x\r\n\r\nhello\n.\nMAIL FROM:<evil@example.org>\r\n", "LF"),
    (b"Subject: x\r\n\r\nline\rmore\r\n", "CR"),
])
async def test_bare_line_ends_are_refused_not_reinterpreted(smtp: RunningSmtp, data: bytes,
                                                            kind: str) -> None:
    raw = await Raw.open(smtp.ports[MX])
    await raw.send(b"EHLO c\r\n")
    await raw.send(b"MAIL FROM:<z@example.org>\r\n")
    await raw.send(b"RCPT TO:<ann@example.com>\r\n")
    await raw.send(b"DATA\r\n")
    assert await raw.send(data + b".\r\n") == f"550 5.6.11 bare {kind} not allowed"
    assert await inbox(smtp.store, "ann@example.com") == []


async def test_mail_loops_are_refused(smtp: RunningSmtp) -> None:
    hops = b"".join(b"Received: from hop%d by x; Mon, 1 Jan 2024 00:00:00 +0000\r\n" % i
                    for i in range(51))
    with pytest.raises(smtplib.SMTPDataError) as looped:
        await asyncio.to_thread(send, smtp.ports[MX], "z@example.org", ["ann@example.com"],
                                hops + MESSAGE)
    assert looped.value.smtp_code == 554 and b"5.4.6 mail loop detected" in \
        looped.value.smtp_error
    with pytest.raises(smtplib.SMTPDataError):
        await asyncio.to_thread(send, smtp.ports[MX], "z@example.org", ["ann@example.com"],
                                b"Delivered-To: Ann@Example.com\r\n" + MESSAGE)
    assert await inbox(smtp.store, "ann@example.com") == []


async def test_dropped_connection_mid_data_stores_nothing_and_is_traced(
        smtp: RunningSmtp) -> None:
    raw = await Raw.open(smtp.ports[MX])
    await raw.send(b"EHLO c\r\nMAIL FROM:<z@example.org>\r\n")
    await raw.reply()
    await raw.send(b"RCPT TO:<ann@example.com>\r\n")
    await raw.send(b"DATA\r\n")
    raw.writer.write(b"Subject: half\r\n\r\nthe first half")
    await raw.writer.drain()
    raw.writer.close()
    for _ in range(100):
        traces = await smtp.store.traces.find()
        if traces:
            break
        await asyncio.sleep(0.05)
    assert [t.verdict for t in traces] == ["aborted"]
    assert await inbox(smtp.store, "ann@example.com") == []


async def test_every_transaction_is_in_the_trace(smtp: RunningSmtp) -> None:
    await asyncio.to_thread(send, smtp.ports[MX], "zed@example.org", ["ann@example.com"],
                            MESSAGE)
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        await asyncio.to_thread(send, smtp.ports[MX], "spam@bad.example",
                                ["x@elsewhere.org"], MESSAGE)
    for _ in range(100):
        traces = await smtp.store.traces.find()
        if len(traces) == 2:
            break
        await asyncio.sleep(0.05)
    rejected, accepted = traces
    assert accepted.verdict == "accepted" and accepted.mail_from == "zed@example.org"
    assert accepted.message_id == "<hello.1@example.org>" and accepted.helo
    assert [(r.address, r.destination) for r in accepted.recipients] \
        == [("ann@example.com", "ann@example.com/INBOX")]
    assert rejected.verdict == "rejected" and rejected.mail_from == "spam@bad.example"
    assert rejected.recipients[0].reply.startswith("554 5.7.1")


async def test_denied_networks_are_turned_away_at_connect(start_smtp) -> None:
    from protocols.smtp.settings import ListenerSettings

    deny = parse_networks(["127.0.0.0/8"])
    smtp = await start_smtp(listeners={
        MX: ListenerSettings(MX, deny=deny),
        SUBMISSION: ListenerSettings(SUBMISSION, auth_required=True),
        SUBMISSIONS: ListenerSettings(SUBMISSIONS, implicit_tls=True, auth_required=True)})
    reader, writer = await asyncio.open_connection("127.0.0.1", smtp.ports[MX])
    assert (await reader.readline()).startswith(b"554 5.7.1 access denied for 127.0.0.1")
    assert await reader.read() == b""
    writer.close()


async def test_connections_per_ip_are_limited(start_smtp) -> None:
    smtp = await start_smtp(max_connections_per_ip=2)
    first = await Raw.open(smtp.ports[MX])
    second = await Raw.open(smtp.ports[MX])
    reader, writer = await asyncio.open_connection("127.0.0.1", smtp.ports[MX])
    assert (await reader.readline()).startswith(b"421 4.7.0 too many connections")
    writer.close()
    await first.send(b"QUIT\r\n")
    await first.close()
    await asyncio.sleep(0.1)
    third = await Raw.open(smtp.ports[MX])
    assert (await third.send(b"NOOP\r\n")).startswith("250")
    await second.close(), await third.close()


async def test_messages_per_minute_per_ip_are_limited(start_smtp) -> None:
    smtp = await start_smtp(messages_per_minute_per_ip=2)
    for _ in range(2):
        await asyncio.to_thread(send, smtp.ports[MX], "z@example.org", ["ann@example.com"],
                                MESSAGE.replace(b"hello.1", b"x%d" % _))
    with pytest.raises(smtplib.SMTPSenderRefused) as slow:
        await asyncio.to_thread(send, smtp.ports[MX], "z@example.org", ["ann@example.com"],
                                MESSAGE)
    assert slow.value.smtp_code == 451


async def test_messages_per_minute_per_user_are_limited(start_smtp) -> None:
    smtp = await start_smtp(messages_per_minute_per_user=1)
    login = {"user": "ann@example.com", "password": PASSWORD}
    await asyncio.to_thread(send, smtp.ports[SUBMISSION], "ann@example.com",
                            ["bob@example.com"], MESSAGE, **login)
    with pytest.raises(smtplib.SMTPSenderRefused) as slow:
        await asyncio.to_thread(send, smtp.ports[SUBMISSION], "ann@example.com",
                                ["bob@example.com"], MESSAGE, **login)
    assert slow.value.smtp_code == 451 and b"ann@example.com" in slow.value.smtp_error


async def test_aiosmtplib_pipelines_many_recipients_in_one_transaction(
        smtp: RunningSmtp, office: Store) -> None:
    for n in range(5):
        await office.accounts.create(f"user{n}@example.com", PASSWORD)
    message = EmailMessage()
    message["From"], message["Subject"] = "zed@example.org", "to all"
    message.set_content("one blob for everyone")
    errors, _ = await aiosmtplib.send(
        message, hostname="127.0.0.1", port=smtp.ports[MX], sender="zed@example.org",
        tls_context=smtp.client_context(),
        recipients=[f"user{n}@example.com" for n in range(5)] + ["nobody@example.com"])
    assert list(errors) == ["nobody@example.com"]
    for n in range(5):
        assert len(await inbox(office, f"user{n}@example.com")) == 1
    assert len(office.blobs.files()) == 1


async def test_list_members_get_their_own_copy_and_strangers_are_refused(
        smtp: RunningSmtp, office: Store) -> None:
    await office.lists.create("team@example.com", policy="members", subject_prefix="[team]",
                              reply_to_list=True)
    for member in ("ann@example.com", "bob@example.com"):
        await office.lists.add("team@example.com", member)
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        await asyncio.to_thread(send, smtp.ports[MX], "zed@example.org",
                                ["team@example.com"], MESSAGE)
    code, text = refused.value.recipients["team@example.com"]
    assert (code, text) == (550, b"5.7.2 <team@example.com>: only its members may post "
                                 b"to this list")
    # A member posts to the list and also writes to Ann directly: she gets one copy.
    assert await asyncio.to_thread(send, smtp.ports[MX], "bob@example.com",
                                   ["team@example.com", "ann@example.com"], MESSAGE) == {}
    [ann] = await inbox(office, "ann@example.com")
    [bob] = await inbox(office, "bob@example.com")
    assert b"Subject: [team] Hello" in bob and b"Reply-To: <team@example.com>" in bob
    assert b"List-Id: <team.example.com>" in bob
    assert b"Subject: Hello" in ann and b"List-Id" not in ann


async def test_concurrent_clients_each_get_their_own_answer_when_one_cannot_be_stored(
        smtp: RunningSmtp, office: Store) -> None:
    """Deliveries of concurrent sessions commit together; the one that does not fit (its
    mailbox fills up between RCPT and the commit) gets a 4xx, every other one a 250."""
    await office.accounts.create("tiny@example.com", PASSWORD, quota_bytes=3000)

    async def deliver(recipient: str, n: int, size: int) -> str:
        body = (f"From: zed@example.org\r\nTo: {recipient}\r\nSubject: n{n}\r\n"
                f"Message-ID: <n{n}@example.org>\r\n\r\n").encode() + b"x" * size
        raw = await Raw.open(smtp.ports[MX])  # no SIZE=: RCPT cannot see it will not fit
        await raw.send(b"HELO client.example.org\r\n")
        await raw.send(b"MAIL FROM:<zed@example.org>\r\n")
        assert (await raw.send(f"RCPT TO:<{recipient}>\r\n".encode())).startswith("250")
        assert (await raw.send(b"DATA\r\n")).startswith("354")
        reply = await raw.send(body + b"\r\n.\r\n")
        await raw.close()
        return reply

    replies = await asyncio.gather(
        deliver("tiny@example.com", 0, 5000),
        *(deliver("ann@example.com", n, 100) for n in range(1, 10)))
    assert replies[0] == "452 4.2.2 <tiny@example.com>: mailbox full"
    assert all(r.startswith("250 2.0.0 OK id=") for r in replies[1:]), replies
    assert len(await inbox(office, "ann@example.com")) == 9
    assert await inbox(office, "tiny@example.com") == []


async def test_many_concurrent_sessions_each_message_stored_once(
        smtp: RunningSmtp, office: Store) -> None:
    async def session(client_no: int) -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp.ports[MX], start_tls=False)
        await client.connect()
        for n in range(10):
            await client.sendmail("zed@example.org", ["ann@example.com"], (
                f"Subject: c{client_no}.{n}\r\nMessage-ID: <c{client_no}.{n}@x>\r\n\r\n"
                "hello\r\n").encode())
        await client.quit()

    await asyncio.gather(*(session(c) for c in range(8)))
    stored = await inbox(office, "ann@example.com")
    subjects = sorted(raw.split(b"Subject: ")[1].split(b"\r\n")[0].decode() for raw in stored)
    assert subjects == sorted(f"c{c}.{n}" for c in range(8) for n in range(10))


async def test_a_new_user_is_reachable_at_once_after_a_refusal(
        smtp: RunningSmtp, office: Store) -> None:
    """Routes are remembered for a moment to spare the database, refusals never are."""
    raw = await Raw.open(smtp.ports[MX])
    await raw.send(b"EHLO client.example.org\r\n")
    await raw.send(b"MAIL FROM:<zed@example.org>\r\n")
    assert (await raw.send(b"RCPT TO:<new@example.com>\r\n")).startswith("550 5.1.1")
    await office.accounts.create("new@example.com", PASSWORD)
    assert (await raw.send(b"RCPT TO:<new@example.com>\r\n")).startswith("250 2.1.5")
    assert (await raw.send(b"RCPT TO:<ann@example.com>\r\n")).startswith("250 2.1.5")
    assert (await raw.send(b"RCPT TO:<ann@example.com>\r\n")).startswith("250 2.1.5")
    await raw.close()
