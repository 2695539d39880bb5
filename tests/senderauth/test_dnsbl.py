"""DNS blocklist look-ups against zones served by the loopback DNS server."""

from __future__ import annotations

from protocols.smtp.senderauth.dnsbl import dnsbl_listings, query_name
from tests.dnszone import Zone


def test_query_names_reverse_octets_and_nibbles() -> None:
    assert query_name("192.0.2.99", "bl.example") == "99.2.0.192.bl.example"
    assert query_name("::ffff:192.0.2.99", "bl.example.") == "99.2.0.192.bl.example"
    # RFC 5782 §2.4 example
    assert query_name("2001:db8:1:2:3:4:567:89ab", "ugly.example") == (
        "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ugly.example"
    )


async def test_listed_ip_reports_code_and_reason(zone: Zone, resolver) -> None:
    zone.a("2.0.0.127.bl.example", "127.0.0.2")
    zone.a("99.2.0.192.bl.example", "127.0.0.4", "127.0.0.10")
    zone.txt("99.2.0.192.bl.example", "Listed: see https://bl.example/q?192.0.2.99")
    [listing] = await dnsbl_listings("192.0.2.99", ["bl.example"], resolver)
    assert listing.listed
    assert set(listing.codes) == {"127.0.0.4", "127.0.0.10"}
    assert listing.reason == "Listed: see https://bl.example/q?192.0.2.99"
    assert listing.error == ""


async def test_ipv6_listing(zone: Zone, resolver) -> None:
    zone.a(query_name("2001:db8::25", "v6bl.example"), "127.0.0.2")
    [listing] = await dnsbl_listings("2001:db8::25", ["v6bl.example"], resolver)
    assert listing.listed and listing.reason == ""


async def test_not_listed_and_timeout_and_error_answers(zone: Zone, resolver) -> None:
    zone.a("1.2.0.192.err.example", "127.255.255.254")  # "query refused" from the operator
    zone.drop.add("1.2.0.192.slow.example")
    results = await dnsbl_listings(
        "192.0.2.1", ["clean.example", "slow.example", "err.example"], resolver
    )
    assert [(r.zone, r.listed) for r in results] == [
        ("clean.example", False), ("slow.example", False), ("err.example", False),
    ]
    clean, slow, err = results
    assert clean.error == ""
    assert "timeout" in slow.error
    assert "127.255.255.254" in err.error
