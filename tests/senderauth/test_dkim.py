"""DKIM verification of messages signed in the test, keys served by the loopback DNS."""

from __future__ import annotations

import pytest

from protocols.smtp.senderauth.dkim import DkimStatus, verify_dkim
from tests.dnszone import Zone

from .keys import ed25519_key, message, publish, rsa_key, sign


async def test_rsa_2048_signature_passes(zone: Zone, resolver) -> None:
    publish(zone, rsa_key(), "example.org", "s2048")
    [result] = await verify_dkim(sign(message(), rsa_key(), "example.org", "s2048"), resolver)
    assert result.result is DkimStatus.PASS
    assert (result.domain, result.selector, result.algorithm) == (
        "example.org", "s2048", "rsa-sha256",
    )
    assert ("s2048._domainkey.example.org", "TXT") in zone.queries


async def test_ed25519_signature_passes(zone: Zone, resolver) -> None:
    publish(zone, ed25519_key(), "example.org", "ed")
    [result] = await verify_dkim(sign(message(), ed25519_key(), "example.org", "ed"), resolver)
    assert result.result is DkimStatus.PASS
    assert result.algorithm == "ed25519-sha256"


async def test_lf_line_endings_verify_too(zone: Zone, resolver) -> None:
    publish(zone, rsa_key(), "example.org", "s1")
    signed = sign(message().replace(b"\r\n", b"\n"), rsa_key(), "example.org", "s1")
    [result] = await verify_dkim(signed, resolver)
    assert result.result is DkimStatus.PASS


async def test_tampered_body_fails(zone: Zone, resolver) -> None:
    publish(zone, rsa_key(), "example.org", "s1")
    signed = sign(message(), rsa_key(), "example.org", "s1")
    [result] = await verify_dkim(signed.replace(b"the report", b"the invoice"), resolver)
    assert result.result is DkimStatus.FAIL
    assert "body hash" in result.reason


async def test_tampered_signed_header_fails(zone: Zone, resolver) -> None:
    publish(zone, ed25519_key(), "example.org", "ed")
    signed = sign(message(), ed25519_key(), "example.org", "ed")
    [result] = await verify_dkim(signed.replace(b"Quarterly", b"Urgent"), resolver)
    assert result.result is DkimStatus.FAIL


async def test_missing_key_is_permerror(zone: Zone, resolver) -> None:
    [result] = await verify_dkim(sign(message(), rsa_key(), "example.org", "gone"), resolver)
    assert result.result is DkimStatus.PERMERROR
    assert result.domain == "example.org" and result.selector == "gone"


async def test_revoked_key_is_permerror(zone: Zone, resolver) -> None:
    zone.txt("old._domainkey.example.org", "v=DKIM1; k=rsa; p=")
    [result] = await verify_dkim(sign(message(), rsa_key(), "example.org", "old"), resolver)
    assert result.result is DkimStatus.PERMERROR


async def test_key_lookup_failure_is_temperror(zone: Zone, resolver) -> None:
    zone.servfail.add("s1._domainkey.example.org")
    [result] = await verify_dkim(sign(message(), rsa_key(), "example.org", "s1"), resolver)
    assert result.result is DkimStatus.TEMPERROR
    zone.servfail.clear()
    zone.drop.add("s1._domainkey.example.org")
    [result] = await verify_dkim(sign(message(), rsa_key(), "example.org", "s1"), resolver)
    assert result.result is DkimStatus.TEMPERROR


async def test_key_of_another_signer_fails(zone: Zone, resolver) -> None:
    publish(zone, rsa_key(), "example.org", "s1")
    other = rsa_key(1024)
    [result] = await verify_dkim(sign(message(), other, "example.org", "s1"), resolver)
    assert result.result is DkimStatus.FAIL


async def test_unsigned_message_is_none(zone: Zone, resolver) -> None:
    [result] = await verify_dkim(message(), resolver)
    assert result.result is DkimStatus.NONE
    assert zone.queries == []


async def test_every_signature_gets_its_own_result(zone: Zone, resolver) -> None:
    publish(zone, rsa_key(), "example.org", "s1")
    publish(zone, ed25519_key(), "esp.example", "ed")
    signed = sign(message(), rsa_key(), "example.org", "s1")
    signed = sign(signed, ed25519_key(), "esp.example", "ed")
    signed = sign(signed, rsa_key(), "nokey.example", "x")
    results = await verify_dkim(signed, resolver)
    assert [(r.result, r.domain) for r in results] == [
        (DkimStatus.PERMERROR, "nokey.example"),
        (DkimStatus.PASS, "esp.example"),
        (DkimStatus.PASS, "example.org"),
    ]


async def test_garbled_signature_header_is_neutral(zone: Zone, resolver) -> None:
    garbled = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s1; ===\r\n" + message()
    [result] = await verify_dkim(garbled, resolver)
    assert result.result is DkimStatus.NEUTRAL


async def test_signature_without_required_tags_is_permerror(zone: Zone, resolver) -> None:
    publish(zone, rsa_key(), "example.org", "s1")
    partial = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s1; h=from\r\n" + message()
    [result] = await verify_dkim(partial, resolver)
    assert result.result is DkimStatus.PERMERROR


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe",
        b"DKIM-Signature:\r\n\r\n",
        b"DKIM-Signature: v=1; d=; s=\r\nFrom: a@b.example\r\n",
        b"DKIM-Signature: d=\xff\xfe.example; s=x\r\n\r\nbody",
    ],
)
async def test_broken_messages_give_a_result_not_an_exception(zone: Zone, resolver, raw) -> None:
    results = await verify_dkim(raw, resolver)
    assert len(results) == 1
