"""Before mail leaves: DKIM signing with the From: domain's key, SRS on forwarded mail."""

from __future__ import annotations

import dkim

from mailstore.store import Store
from protocols.delivery.prepare import Preparer
from protocols.delivery.srs import Srs
from tests.delivery.test_dkim import dnsfunc_for
from tests.dnszone import Zone
from tests.outbound.conftest import HOSTNAME, Internet
from tests.outbound.test_queue import message, queue

SECRET = b"0123456789abcdef0123456789abcdef"


async def test_mail_from_a_domain_with_a_key_arrives_with_a_valid_dkim_signature(
        office: Store, internet: Internet, make_runner, dns_server: tuple[Zone, int]) -> None:
    info = await office.dkim.generate("example.com", "s2026", "rsa")
    internet.zone.txt(info.dns_name, info.txt_record)
    remote = await internet.mail_server("remote.test")
    await queue(office)
    runner = make_runner()
    runner.prepare = Preparer(office, SECRET, HOSTNAME)
    await runner.run_until_idle()
    [got] = remote.received
    assert got.data.startswith(b"DKIM-Signature: ")
    assert b"d=example.com" in got.data and b"s=s2026" in got.data
    assert got.data.endswith(message())  # the message itself is untouched
    assert dkim.verify(got.data, dnsfunc=dnsfunc_for(dns_server[1]))


async def test_mail_from_a_domain_without_a_key_goes_unsigned(
        office: Store, internet: Internet, make_runner) -> None:
    remote = await internet.mail_server("remote.test")
    await queue(office, raw=message().replace(b"ann@example.com", b"zed@other.test"))
    runner = make_runner()
    runner.prepare = Preparer(office, SECRET, HOSTNAME)
    await runner.run_until_idle()
    assert b"DKIM-Signature" not in remote.received[0].data


async def test_forwarded_mail_leaves_with_an_srs_sender_whose_bounce_finds_its_way_back(
        office: Store, internet: Internet, make_runner) -> None:
    remote = await internet.mail_server("remote.test")
    await queue(office, "carol@remote.test", sender="zed@elsewhere.test")  # a forward
    await queue(office, "carol@remote.test", sender="ann@example.com")  # our own
    runner = make_runner()
    runner.prepare = Preparer(office, SECRET, HOSTNAME)
    await runner.run_until_idle()
    forwarded, own = sorted(remote.received, key=lambda r: r.mail_from)
    assert forwarded.mail_from.startswith("SRS0=")
    assert forwarded.mail_from.endswith("=elsewhere.test=zed@example.com")
    assert own.mail_from == "ann@example.com"
    office.router.srs = Srs(SECRET, HOSTNAME)
    route = await office.router.resolve(forwarded.mail_from, "")
    assert route.external == ("zed@elsewhere.test",) and route.local == ()
