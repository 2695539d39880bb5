"""SPF check_host against records served by the loopback DNS server."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.smtp.senderauth.spf import SpfStatus, _parse_record, _Stop, check_spf
from tests.dnszone import Zone


async def spf(
    resolver, ip: str, mail_from: str = "alice@example.org", helo: str = "mx.example.org"
):
    return await check_spf(ip, mail_from, helo, resolver)


async def test_listed_ip4_passes_and_others_fail(zone: Zone, resolver) -> None:
    zone.txt("example.org", "v=spf1 ip4:192.0.2.0/24 -all")
    result = await spf(resolver, "192.0.2.77")
    assert result.result is SpfStatus.PASS
    assert result.domain == "example.org"
    assert result.sender == "alice@example.org"
    assert (await spf(resolver, "198.51.100.1")).result is SpfStatus.FAIL


async def test_softfail_and_neutral_qualifiers(zone: Zone, resolver) -> None:
    zone.txt("example.org", "v=spf1 ?ip4:203.0.113.5 ~all")
    assert (await spf(resolver, "203.0.113.5")).result is SpfStatus.NEUTRAL
    assert (await spf(resolver, "203.0.113.6")).result is SpfStatus.SOFTFAIL


async def test_no_match_and_no_all_is_neutral(zone: Zone, resolver) -> None:
    zone.txt("example.org", "v=spf1 ip4:203.0.113.5")
    assert (await spf(resolver, "203.0.113.6")).result is SpfStatus.NEUTRAL


async def test_no_record_or_no_domain_is_none(zone: Zone, resolver) -> None:
    zone.txt("example.org", "some other text record")
    assert (await spf(resolver, "192.0.2.1")).result is SpfStatus.NONE
    result = await spf(resolver, "192.0.2.1", "bob@nowhere.example")
    assert result.result is SpfStatus.NONE


async def test_two_spf_records_is_permerror(zone: Zone, resolver) -> None:
    zone.txt("example.org", "v=spf1 -all")
    zone.txt("example.org", "v=spf1 +all")
    assert (await spf(resolver, "192.0.2.1")).result is SpfStatus.PERMERROR


async def test_record_prefix_must_be_followed_by_space(zone: Zone, resolver) -> None:
    zone.txt("example.org", "v=spf10 -all")
    assert (await spf(resolver, "192.0.2.1")).result is SpfStatus.NONE


@pytest.mark.parametrize(
    "record",
    [
        "v=spf1 ip4:192.0.2.300 -all",
        "v=spf1 ip4:192.0.2.0/33 -all",
        "v=spf1 frobnicate -all",
        "v=spf1 include -all",
        "v=spf1 a:%{z}.example.org -all",
        "v=spf1 exists:%{i0}.example.org -all",
        "v=spf1 a:100% -all",
        "v=spf1 redirect=a.example.org redirect=b.example.org",
        "v=spf1 ip6:192.0.2.1 -all",
        "v=spf1 include:localhost -all",
    ],
)
async def test_syntax_errors_are_permerror_even_after_a_match(
    zone: Zone, resolver, record: str
) -> None:
    zone.txt("example.org", record.replace("v=spf1 ", "v=spf1 +all ", 1))
    assert (await spf(resolver, "192.0.2.1")).result is SpfStatus.PERMERROR


async def test_unknown_modifier_is_ignored(zone: Zone, resolver) -> None:
    zone.txt("example.org", "v=spf1 moo=cow ip4:192.0.2.1 exp=explain.example.org -all")
    assert (await spf(resolver, "192.0.2.1")).result is SpfStatus.PASS


async def test_a_and_mx_mechanisms_with_cidr(zone: Zone, resolver) -> None:
    zone.txt("example.org", "v=spf1 a/28 mx:mail.example.net -all")
    zone.a("example.org", "192.0.2.16")
    zone.mx("mail.example.net", "mx1.example.net")
    zone.mx("mail.example.net", "mx2.example.net", 20)
    zone.a("mx1.example.net", "198.51.100.1")
    zone.a("mx2.example.net", "198.51.100.2")
    assert (await spf(resolver, "192.0.2.31")).result is SpfStatus.PASS
    assert (await spf(resolver, "192.0.2.32")).result is SpfStatus.FAIL
    assert (await spf(resolver, "198.51.100.2")).result is SpfStatus.PASS
    assert (await spf(resolver, "198.51.100.3")).result is SpfStatus.FAIL


async def test_ip6_client_matches_ip6_and_aaaa(zone: Zone, resolver) -> None:
    zone.txt("example.org", "v=spf1 ip6:2001:db8:1::/48 a:v6.example.org//64 ip4:0.0.0.0/0 -all")
    zone.aaaa("v6.example.org", "2001:db8:2::1")
    assert (await spf(resolver, "2001:db8:1:ffff::9")).result is SpfStatus.PASS
    assert (await spf(resolver, "2001:db8:2::abcd")).result is SpfStatus.PASS
    # ip4:0.0.0.0/0 never matches an IPv6 client
    assert (await spf(resolver, "2001:db8:3::1")).result is SpfStatus.FAIL


async def test_ipv4_mapped_ipv6_client_is_checked_as_ipv4(zone: Zone, resolver) -> None:
    zone.txt("example.org", "v=spf1 ip4:192.0.2.0/24 -all")
    assert (await spf(resolver, "::ffff:192.0.2.9")).result is SpfStatus.PASS


async def test_include_chain(zone: Zone, resolver) -> None:
    zone.txt("example.org", "v=spf1 include:_spf.example.org -all")
    zone.txt("_spf.example.org", "v=spf1 include:_spf.provider.example ip4:192.0.2.1 -all")
    zone.txt("_spf.provider.example", "v=spf1 ip4:198.51.100.0/24 ~all")
    assert (await spf(resolver, "198.51.100.7")).result is SpfStatus.PASS
    assert (await spf(resolver, "192.0.2.1")).result is SpfStatus.PASS
    # the included softfail is "no match", so the outer -all decides
    assert (await spf(resolver, "203.0.113.1")).result is SpfStatus.FAIL


async def test_include_of_domain_without_record_is_permerror(zone: Zone, resolver) -> None:
    zone.txt("example.org", "v=spf1 include:none.example.org -all")
    assert (await spf(resolver, "192.0.2.1")).result is SpfStatus.PERMERROR


async def test_redirect_is_used_when_nothing_matches(zone: Zone, resolver) -> None:
    zone.txt("example.org", "v=spf1 ip4:192.0.2.1 redirect=_spf.example.net")
    zone.txt("_spf.example.net", "v=spf1 ip4:198.51.100.0/24 -all")
    assert (await spf(resolver, "192.0.2.1")).result is SpfStatus.PASS
    assert (await spf(resolver, "198.51.100.200")).result is SpfStatus.PASS
    assert (await spf(resolver, "203.0.113.1")).result is SpfStatus.FAIL


async def test_redirect_to_missing_record_is_permerror(zone: Zone, resolver) -> None:
    zone.txt("example.org", "v=spf1 redirect=gone.example.net")
    assert (await spf(resolver, "192.0.2.1")).result is SpfStatus.PERMERROR


async def test_more_than_ten_lookups_is_permerror(zone: Zone, resolver) -> None:
    chain = [f"l{i}.example.org" for i in range(12)]
    zone.txt("example.org", f"v=spf1 include:{chain[0]} -all")
    for here, nxt in zip(chain, chain[1:], strict=False):
        zone.txt(here, f"v=spf1 include:{nxt} -all")
    zone.txt(chain[-1], "v=spf1 +all")
    result = await spf(resolver, "192.0.2.1")
    assert result.result is SpfStatus.PERMERROR
    assert "DNS lookups" in result.reason


async def test_exactly_ten_lookups_is_allowed(zone: Zone, resolver) -> None:
    zone.txt("example.org", "v=spf1 " + " ".join(["a:host.example.org"] * 9) + " mx -all")
    zone.a("host.example.org", "203.0.113.1")
    zone.mx("example.org", "host.example.org")
    zone.a("example.org", "203.0.113.1")
    assert (await spf(resolver, "192.0.2.1")).result is SpfStatus.FAIL
    zone.records.clear()
    zone.txt("example.org", "v=spf1 " + " ".join(["a:host.example.org"] * 11) + " -all")
    zone.a("host.example.org", "203.0.113.1")
    assert (await spf(resolver, "192.0.2.1")).result is SpfStatus.PERMERROR


async def test_third_void_lookup_is_permerror(zone: Zone, resolver) -> None:
    zone.txt("example.org", "v=spf1 a:v1.example.org a:v2.example.org ip4:192.0.2.1 -all")
    assert (await spf(resolver, "192.0.2.1")).result is SpfStatus.PASS  # two voids are fine
    zone.records.clear()
    zone.txt(
        "example.org",
        "v=spf1 a:v1.example.org mx:v2.example.org exists:v3.example.org ip4:192.0.2.1 -all",
    )
    result = await spf(resolver, "192.0.2.1")
    assert result.result is SpfStatus.PERMERROR
    assert "void" in result.reason


async def test_exists_with_ip_macro(zone: Zone, resolver) -> None:
    zone.txt("example.org", "v=spf1 exists:%{ir}.%{l1r-}.allow.example.org -all")
    zone.a("1.2.0.192.alice.allow.example.org", "127.0.0.2")
    # RFC 7208 §7.4: %{l1r-} of "strong-bad" is "strong"
    assert (await spf(resolver, "192.0.2.1", "alice-x@example.org")).result is SpfStatus.PASS
    assert (await spf(resolver, "192.0.2.1", "x-alice@example.org")).result is SpfStatus.FAIL


async def test_macros_s_o_d_h_and_ipv6_nibbles(zone: Zone, resolver) -> None:
    zone.txt(
        "example.org",
        "v=spf1 exists:%{l}.%{o}.x.%{d2}.y.%{h}.z.example.org exists:%{i}.six.example.org -all",
    )
    zone.a("bob.example.org.x.example.org.y.helo.example.net.z.example.org", "127.0.0.1")
    nibbles = ".".join("20010db8000000000000000000000001")
    zone.a(f"{nibbles}.six.example.org", "127.0.0.1")
    result = await spf(resolver, "192.0.2.1", "bob@example.org", "helo.example.net")
    assert result.result is SpfStatus.PASS
    assert (await spf(resolver, "2001:db8::1", "zed@example.org")).result is SpfStatus.PASS


async def test_uppercase_macro_is_url_escaped(zone: Zone, resolver) -> None:
    zone.txt("example.org", "v=spf1 exists:%{L}.esc.example.org -all")
    zone.a("a%2Bb.esc.example.org", "127.0.0.1")
    assert (await spf(resolver, "192.0.2.1", "a+b@example.org")).result is SpfStatus.PASS


async def test_null_sender_uses_postmaster_at_helo(zone: Zone, resolver) -> None:
    zone.txt("mx.example.net", "v=spf1 ip4:192.0.2.10 -all")
    result = await check_spf("192.0.2.10", "", "mx.example.net", resolver)
    assert result.result is SpfStatus.PASS
    assert result.domain == "mx.example.net"
    assert result.sender == "postmaster@mx.example.net"


async def test_ptr_mechanism_needs_forward_confirmation(zone: Zone, resolver) -> None:
    zone.txt("example.org", "v=spf1 ptr -all")
    zone.ptr("1.2.0.192.in-addr.arpa", "out.example.org")
    zone.a("out.example.org", "192.0.2.1")
    zone.ptr("2.2.0.192.in-addr.arpa", "liar.example.org")  # A points elsewhere
    zone.a("liar.example.org", "203.0.113.9")
    assert (await spf(resolver, "192.0.2.1")).result is SpfStatus.PASS
    assert (await spf(resolver, "192.0.2.2")).result is SpfStatus.FAIL


async def test_dns_failure_is_temperror(zone: Zone, resolver) -> None:
    zone.servfail.add("example.org")
    assert (await spf(resolver, "192.0.2.1")).result is SpfStatus.TEMPERROR
    zone.servfail.clear()
    zone.txt("example.org", "v=spf1 a:slow.example.org -all")
    zone.drop.add("slow.example.org")
    assert (await spf(resolver, "192.0.2.1")).result is SpfStatus.TEMPERROR


async def test_long_record_split_over_strings_and_tcp(zone: Zone, resolver) -> None:
    nets = " ".join(f"ip4:10.{i}.0.0/16" for i in range(40))
    zone.txt("example.org", f"v=spf1 {nets} ip4:192.0.2.1 -all")
    assert (await spf(resolver, "192.0.2.1")).result is SpfStatus.PASS
    assert (await spf(resolver, "10.39.1.1")).result is SpfStatus.PASS
    # over 512 bytes: the UDP answer was truncated and the record came over TCP
    assert ("example.org", "TXT") in zone.tcp_queries


async def test_redirect_is_ignored_when_all_is_present(zone: Zone, resolver) -> None:
    zone.txt("example.org", "v=spf1 -all redirect=_spf.example.net")
    zone.txt("_spf.example.net", "v=spf1 +all")
    assert (await spf(resolver, "192.0.2.1")).result is SpfStatus.FAIL


async def test_temperror_inside_include_ends_the_check(zone: Zone, resolver) -> None:
    zone.txt("example.org", "v=spf1 include:_spf.example.net +all")
    zone.servfail.add("_spf.example.net")
    assert (await spf(resolver, "192.0.2.1")).result is SpfStatus.TEMPERROR


@given(st.text(max_size=80))
def test_parser_either_parses_or_says_permerror(text: str) -> None:
    try:
        _parse_record("v=spf1 " + text)
    except _Stop as stop:
        assert stop.result is SpfStatus.PERMERROR
