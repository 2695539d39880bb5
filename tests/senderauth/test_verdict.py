"""authenticate_message end to end: signed and forged mail, policies, the stored bytes."""

from __future__ import annotations

from protocols.smtp.senderauth import (
    Action,
    DkimStatus,
    DmarcStatus,
    SpfStatus,
    authenticate_message,
    make_resolver,
)
from tests.dnszone import Zone

from .keys import message, publish, rsa_key, sign

HOST = "mx.tidings.example"


def example_org(zone: Zone, policy: str = "reject") -> None:
    zone.txt("example.org", "v=spf1 ip4:192.0.2.0/24 -all")
    zone.txt("_dmarc.example.org", f"v=DMARC1; p={policy}")
    publish(zone, rsa_key(), "example.org", "s1")


async def test_signed_mail_from_the_right_server_is_accepted(zone: Zone, resolver) -> None:
    example_org(zone)
    raw = sign(message(), rsa_key(), "example.org", "s1")
    verdict = await authenticate_message(
        raw, "192.0.2.5", "out.example.org", "bounce@example.org", HOST, resolver
    )
    assert verdict.action is Action.ACCEPT
    assert verdict.spf.result is SpfStatus.PASS
    assert [d.result for d in verdict.dkim] == [DkimStatus.PASS]
    assert verdict.dmarc.result is DmarcStatus.PASS
    assert verdict.rejection is None
    assert verdict.header_value == (
        "mx.tidings.example; spf=pass smtp.mailfrom=bounce@example.org; "
        "dkim=pass header.d=example.org header.s=s1; "
        "dmarc=pass (p=reject dis=none) header.from=example.org"
    )
    assert verdict.message == verdict.header + raw


async def test_spoofed_mail_is_rejected_with_550(zone: Zone, resolver) -> None:
    example_org(zone)
    verdict = await authenticate_message(
        message(), "203.0.113.9", "spoofer.example", "ceo@example.org", HOST, resolver
    )
    assert verdict.spf.result is SpfStatus.FAIL
    assert verdict.dmarc.result is DmarcStatus.FAIL
    assert verdict.action is Action.REJECT
    assert verdict.rejection is not None and verdict.rejection.startswith("550 5.7.1 ")


async def test_quarantine_policy_goes_to_junk(zone: Zone, resolver) -> None:
    example_org(zone, "quarantine")
    verdict = await authenticate_message(
        message(), "203.0.113.9", "spoofer.example", "x@spoofer.example", HOST, resolver
    )
    assert verdict.spf.result is SpfStatus.NONE
    assert verdict.action is Action.QUARANTINE


async def test_tampered_mail_via_foreign_envelope_is_rejected(zone: Zone, resolver) -> None:
    example_org(zone)
    zone.txt("list.example", "v=spf1 ip4:198.51.100.0/24 -all")
    raw = sign(message(), rsa_key(), "example.org", "s1").replace(b"the report", b"a report")
    verdict = await authenticate_message(
        raw, "198.51.100.7", "list.example", "owner@list.example", HOST, resolver
    )
    assert verdict.spf.result is SpfStatus.PASS  # but not aligned with example.org
    assert verdict.dkim[0].result is DkimStatus.FAIL
    assert verdict.action is Action.REJECT


async def test_forged_results_are_removed_and_ours_prepended(zone: Zone, resolver) -> None:
    example_org(zone, "none")
    forged = b"Authentication-Results: mx.tidings.example; dmarc=pass\r\n"
    raw = forged + message()
    verdict = await authenticate_message(
        raw, "203.0.113.9", "spoofer.example", "ceo@example.org", HOST, resolver
    )
    assert verdict.action is Action.ACCEPT  # p=none
    assert verdict.dmarc.result is DmarcStatus.FAIL
    assert verdict.message == verdict.header + message()
    assert verdict.header.startswith(b"Authentication-Results: mx.tidings.example;\r\n\t")


async def test_lf_message_gets_an_lf_header(zone: Zone, resolver) -> None:
    raw = message().replace(b"\r\n", b"\n")
    verdict = await authenticate_message(raw, "192.0.2.1", "h.example", "", HOST, resolver)
    assert b"\r" not in verdict.header
    assert verdict.spf.scope == "helo"


async def test_dns_down_never_rejects(zone: Zone, resolver) -> None:
    zone.txt("_dmarc.example.org", "v=DMARC1; p=reject")
    zone.servfail.add("example.org")
    verdict = await authenticate_message(
        message(), "203.0.113.9", "spoofer.example", "ceo@example.org", HOST, resolver
    )
    assert verdict.spf.result is SpfStatus.TEMPERROR
    assert verdict.dmarc.result is DmarcStatus.TEMPERROR
    assert verdict.action is Action.ACCEPT


async def test_unreachable_nameserver_is_temperror_not_a_crash(zone: Zone) -> None:
    from tests.dnszone import free_udp_port

    dead = make_resolver(["127.0.0.1"], port=free_udp_port(), timeout=0.2, lifetime=0.4)
    verdict = await authenticate_message(
        sign(message(), rsa_key(), "example.org", "s1"), "192.0.2.1", "h.example",
        "a@example.org", HOST, dead,
    )
    assert verdict.spf.result is SpfStatus.TEMPERROR
    assert verdict.dkim[0].result is DkimStatus.TEMPERROR
    assert verdict.dmarc.result is DmarcStatus.TEMPERROR
    assert verdict.action is Action.ACCEPT
