"""DMARC policy discovery, alignment and disposition."""

from __future__ import annotations

import pytest

from protocols.smtp.senderauth.dkim import DkimResult, DkimStatus
from protocols.smtp.senderauth.dmarc import (
    DmarcStatus,
    Policy,
    check_dmarc,
    from_domain,
    organizational_domain,
)
from protocols.smtp.senderauth.spf import SpfResult, SpfStatus
from tests.dnszone import Zone

SPF_PASS_ORG = SpfResult(SpfStatus.PASS, "example.org", sender="a@example.org")
SPF_PASS_SUB = SpfResult(SpfStatus.PASS, "bounce.example.org", sender="b@bounce.example.org")
SPF_PASS_OTHER = SpfResult(SpfStatus.PASS, "esp.example", sender="b@esp.example")
SPF_FAIL = SpfResult(SpfStatus.FAIL, "example.org", sender="a@example.org")
NO_DKIM = [DkimResult(DkimStatus.NONE)]


def dkim(status: DkimStatus, domain: str) -> list[DkimResult]:
    return [DkimResult(status, domain, "s1")]


@pytest.mark.parametrize(
    ("domain", "org"),
    [
        ("example.org", "example.org"),
        ("mail.eu.example.org", "example.org"),
        ("news.bbc.co.uk", "bbc.co.uk"),
        ("shop.example.com.au", "example.com.au"),
        ("example.co.uk", "example.co.uk"),
    ],
)
def test_organizational_domain_heuristic(domain: str, org: str) -> None:
    assert organizational_domain(domain) == org


def test_from_domain_single_multiple_and_missing() -> None:
    assert from_domain(b"From: Alice <Alice@Example.ORG>\r\n\r\nhi").domain == "example.org"
    both = from_domain(b"From: a@example.org, b@example.net\r\n\r\n")
    assert both.domain is None and "2 domains" in both.problem
    assert from_domain(b"From: a@example.org, b@example.org\r\n\r\n").domain == "example.org"
    twice = from_domain(b"From: a@example.org\r\nFrom: b@example.org\r\n\r\n")
    assert twice.domain is None and "2 From headers" in twice.problem
    assert "no From" in from_domain(b"To: b@example.com\r\n\r\n").problem
    assert from_domain(b"From: undisclosed\r\n\r\n").domain is None


async def test_aligned_spf_passes_under_reject_policy(zone: Zone, resolver) -> None:
    zone.txt("_dmarc.example.org", "v=DMARC1; p=reject")
    result = await check_dmarc("example.org", SPF_PASS_ORG, NO_DKIM, resolver)
    assert result.result is DmarcStatus.PASS
    assert result.spf_aligned and not result.dkim_aligned
    assert result.disposition is Policy.NONE and result.policy is Policy.REJECT


async def test_relaxed_alignment_accepts_subdomains(zone: Zone, resolver) -> None:
    zone.txt("_dmarc.example.org", "v=DMARC1; p=reject")
    result = await check_dmarc("example.org", SPF_PASS_SUB, NO_DKIM, resolver)
    assert result.result is DmarcStatus.PASS
    dk = dkim(DkimStatus.PASS, "mail.example.org")
    result = await check_dmarc("example.org", SPF_PASS_OTHER, dk, resolver)
    assert result.result is DmarcStatus.PASS and result.dkim_aligned


async def test_strict_alignment_needs_the_exact_domain(zone: Zone, resolver) -> None:
    zone.txt("_dmarc.example.org", "v=DMARC1; p=quarantine; aspf=s; adkim=s")
    sub_dkim = dkim(DkimStatus.PASS, "mail.example.org")
    result = await check_dmarc("example.org", SPF_PASS_SUB, sub_dkim, resolver)
    assert result.result is DmarcStatus.FAIL
    assert result.disposition is Policy.QUARANTINE
    exact = dkim(DkimStatus.PASS, "Example.org")
    assert (await check_dmarc("example.org", SPF_FAIL, exact, resolver)).result is (
        DmarcStatus.PASS
    )


async def test_unaligned_passes_fail_with_reject(zone: Zone, resolver) -> None:
    zone.txt("_dmarc.example.org", "v=DMARC1; p=reject; rua=mailto:d@example.org")
    other_dkim = dkim(DkimStatus.PASS, "esp.example")
    result = await check_dmarc("example.org", SPF_PASS_OTHER, other_dkim, resolver)
    assert result.result is DmarcStatus.FAIL
    assert result.disposition is Policy.REJECT


async def test_aligned_but_failing_dkim_does_not_pass(zone: Zone, resolver) -> None:
    zone.txt("_dmarc.example.org", "v=DMARC1; p=none")
    result = await check_dmarc("example.org", SPF_FAIL, dkim(DkimStatus.FAIL, "example.org"),
                               resolver)
    assert result.result is DmarcStatus.FAIL
    assert result.disposition is Policy.NONE


async def test_subdomain_policy_comes_from_organizational_record(zone: Zone, resolver) -> None:
    zone.txt("_dmarc.example.org", "v=DMARC1; p=none; sp=reject")
    result = await check_dmarc("news.example.org", SPF_PASS_OTHER, NO_DKIM, resolver)
    assert result.result is DmarcStatus.FAIL
    assert result.record_domain == "example.org"
    assert result.disposition is Policy.REJECT
    own = await check_dmarc("example.org", SPF_PASS_OTHER, NO_DKIM, resolver)
    assert own.disposition is Policy.NONE


async def test_subdomain_record_wins_over_organizational(zone: Zone, resolver) -> None:
    zone.txt("_dmarc.example.org", "v=DMARC1; p=reject")
    zone.txt("_dmarc.news.example.org", "v=DMARC1; p=quarantine")
    result = await check_dmarc("news.example.org", SPF_PASS_OTHER, NO_DKIM, resolver)
    assert result.disposition is Policy.QUARANTINE
    assert result.record_domain == "news.example.org"


async def test_no_record_is_none(zone: Zone, resolver) -> None:
    zone.txt("_dmarc.example.org", "v=spf1 -all")  # not a DMARC record
    result = await check_dmarc("example.org", SPF_FAIL, NO_DKIM, resolver)
    assert result.result is DmarcStatus.NONE and result.disposition is Policy.NONE


async def test_bad_record_is_permerror(zone: Zone, resolver) -> None:
    zone.txt("_dmarc.example.org", "v=DMARC1; p=bounce")
    result = await check_dmarc("example.org", SPF_FAIL, NO_DKIM, resolver)
    assert result.result is DmarcStatus.PERMERROR


async def test_dns_failure_is_temperror(zone: Zone, resolver) -> None:
    zone.servfail.add("_dmarc.example.org")
    result = await check_dmarc("example.org", SPF_FAIL, NO_DKIM, resolver)
    assert result.result is DmarcStatus.TEMPERROR


async def test_aligned_temperror_is_not_a_fail(zone: Zone, resolver) -> None:
    zone.txt("_dmarc.example.org", "v=DMARC1; p=reject")
    spf = SpfResult(SpfStatus.TEMPERROR, "example.org")
    result = await check_dmarc("example.org", spf, NO_DKIM, resolver)
    assert result.result is DmarcStatus.TEMPERROR
    assert result.disposition is Policy.NONE


async def test_no_single_from_domain_is_permerror(zone: Zone, resolver) -> None:
    parsed = from_domain(b"From: a@example.org, b@example.net\r\n\r\n")
    result = await check_dmarc(parsed, SPF_PASS_ORG, NO_DKIM, resolver)
    assert result.result is DmarcStatus.PERMERROR
    assert "domains" in result.reason
