"""SPF, DKIM and DMARC of mail arriving on the MX port, and DNS blocklists at connect.

DNS comes from the loopback DNS server of ``tests/dnszone.py``. Checks are skipped for
loopback clients (the local machine is trusted), so the client connects from this machine's
LAN address.
"""

from __future__ import annotations

import pytest

from mailstore.store import Store
from protocols.smtp.checks import connect_check, sender_check
from protocols.smtp.settings import MX, SmtpSettings
from tests.dnszone import Zone
from tests.smtp.conftest import HOSTNAME, inbox, lan_address
from tests.smtp.test_receiving import Raw

LAN = lan_address()
pytestmark = pytest.mark.skipif(LAN is None, reason="this machine has no non-loopback address")


def mail(sender: str, extra: bytes = b"") -> bytes:
    return (f"From: {sender}\r\nTo: ann@example.com\r\nSubject: checked\r\n"
            f"Message-ID: <{sender.replace('@', '.')}@id>\r\n").encode() + extra + \
        b"\r\nbody\r\n"


@pytest.fixture
async def checked(start_smtp, resolver):
    settings = SmtpSettings(HOSTNAME, dnsbl_zones=("bl.example",))
    return await start_smtp(host=LAN, sender_check=sender_check(settings, resolver),
                            connect_check=connect_check(settings, resolver),
                            dnsbl_zones=("bl.example",))


async def deliver(smtp, sender: str, data: bytes) -> str:
    raw = await Raw.open(smtp.ports[MX], host=LAN, local=LAN)
    await raw.send(b"EHLO client.example.org\r\n")
    await raw.send(f"MAIL FROM:<{sender}>\r\n".encode())
    await raw.send(b"RCPT TO:<ann@example.com>\r\n")
    await raw.send(b"DATA\r\n")
    reply = await raw.send(data + b".\r\n")
    await raw.close()
    return reply


async def test_aligned_spf_passes_and_the_result_is_in_the_header(checked, zone: Zone,
                                                                  office: Store) -> None:
    zone.txt("example.org", f"v=spf1 ip4:{LAN}/32 -all")
    zone.txt("_dmarc.example.org", "v=DMARC1; p=reject")
    assert (await deliver(checked, "zed@example.org", mail("zed@example.org"))) \
        .startswith("250 2.0.0")
    [stored] = await inbox(office, "ann@example.com")
    received, results = stored.split(b"\r\nAuthentication-Results: ", 1)
    assert received.startswith(b"Received: ")
    header = results.split(b"\r\nFrom:", 1)[0]
    assert header.startswith(HOSTNAME.encode()) and b"spf=pass" in header \
        and b"dmarc=pass" in header


async def test_dmarc_reject_is_refused_with_550(checked, zone: Zone, office: Store) -> None:
    zone.txt("bank.example", "v=spf1 -all")
    zone.txt("_dmarc.bank.example", "v=DMARC1; p=reject")
    reply = await deliver(checked, "boss@bank.example", mail("boss@bank.example"))
    assert reply.startswith("550 5.7.1 DMARC policy of bank.example rejects this message")
    assert await inbox(office, "ann@example.com") == []


async def test_dmarc_quarantine_goes_to_junk(checked, zone: Zone, office: Store) -> None:
    zone.txt("shop.example", "v=spf1 -all")
    zone.txt("_dmarc.shop.example", "v=DMARC1; p=quarantine")
    assert (await deliver(checked, "deals@shop.example", mail("deals@shop.example"))) \
        .startswith("250")
    assert await inbox(office, "ann@example.com") == []
    [junk] = await inbox(office, "ann@example.com", "Junk")
    assert b"dmarc=fail" in junk


async def test_forged_results_claiming_our_name_are_removed(checked, zone: Zone,
                                                            office: Store) -> None:
    forged = f"Authentication-Results: {HOSTNAME}; dmarc=pass\r\n".encode()
    other = b"Authentication-Results: mx.elsewhere.org; spf=pass\r\n"
    await deliver(checked, "zed@example.org", mail("zed@example.org", forged + other))
    [stored] = await inbox(office, "ann@example.com")
    assert stored.count(f"Authentication-Results: {HOSTNAME}".encode()) == 1
    assert b"dmarc=pass\r\n" not in stored and other in stored


async def test_forged_results_are_removed_from_trusted_clients_too(smtp,
                                                                   office: Store) -> None:
    raw = await Raw.open(smtp.ports[MX])
    await raw.send(b"EHLO c\r\nMAIL FROM:<zed@example.org>\r\n")
    await raw.reply()
    await raw.send(b"RCPT TO:<ann@example.com>\r\n")
    await raw.send(b"DATA\r\n")
    forged = f"Authentication-Results: {HOSTNAME.upper()}; spf=pass\r\n".encode()
    assert (await raw.send(mail("zed@example.org", forged) + b".\r\n")).startswith("250")
    [stored] = await inbox(office, "ann@example.com")
    assert b"Authentication-Results" not in stored


async def test_listed_clients_are_refused_at_connect(checked, zone: Zone) -> None:
    reversed_ip = ".".join(reversed(LAN.split(".")))
    zone.a(f"{reversed_ip}.bl.example", "127.0.0.2")
    zone.txt(f"{reversed_ip}.bl.example", "listed for testing")
    import asyncio

    reader, writer = await asyncio.open_connection(LAN, checked.ports[MX],
                                                   local_addr=(LAN, 0))
    greeting = (await reader.readline()).decode()
    assert greeting.startswith(f"554 5.7.1 {LAN} is listed by bl.example: listed for testing")
    writer.close()
