"""The resolver factory and the answer type."""

from __future__ import annotations

import pytest

from protocols.smtp.senderauth.resolver import DnsAnswer, DnsStatus, lookup, make_resolver
from tests.dnszone import Zone


def test_explicit_nameservers_and_port_are_used() -> None:
    resolver = make_resolver(["127.0.0.1", "::1"], port=5353, timeout=1.5, lifetime=3.0)
    assert resolver.nameservers == ["127.0.0.1", "::1"]
    assert resolver.port == 5353
    assert (resolver.timeout, resolver.lifetime) == (1.5, 3.0)


async def test_cache_answers_repeat_lookups_without_asking_again(
    dns_server, zone: Zone
) -> None:
    _, port = dns_server
    cached = make_resolver(["127.0.0.1"], port=port, cache_size=100)
    zone.txt("example.org", "v=spf1 -all")
    first = await lookup(cached, "example.org", "TXT")
    assert await lookup(cached, "example.org", "TXT") == first
    assert zone.queries == [("example.org", "TXT")]


def test_empty_nameserver_list_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one nameserver"):
        make_resolver([])


async def test_no_records_differs_from_no_name_and_from_failure(zone: Zone, resolver) -> None:
    zone.a("host.example.org", "192.0.2.1")
    zone.mx("example.org", "host.example.org", 5)
    assert await lookup(resolver, "host.example.org", "A") == DnsAnswer(
        DnsStatus.OK, ("192.0.2.1",)
    )
    assert (await lookup(resolver, "example.org", "MX")).records == ("5 host.example.org",)
    nodata = await lookup(resolver, "host.example.org", "TXT")
    assert nodata.status is DnsStatus.NODATA and nodata.void and not nodata.temporary
    nxdomain = await lookup(resolver, "nothing.example.org", "A")
    assert nxdomain.status is DnsStatus.NXDOMAIN and nxdomain.void
    zone.servfail.add("broken.example.org")
    servfail = await lookup(resolver, "broken.example.org", "A")
    assert servfail.temporary and not servfail.void
    zone.drop.add("slow.example.org")
    timeout = await lookup(resolver, "slow.example.org", "A")
    assert timeout.temporary and "timeout" in timeout.reason


async def test_impossible_names_do_not_raise(resolver) -> None:
    assert (await lookup(resolver, "a" * 64 + ".example.org", "A")).void
    assert (await lookup(resolver, "a..example.org", "A")).void

