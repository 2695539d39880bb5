"""The Authentication-Results builder and the forged-header stripper."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from protocols.smtp.senderauth.authresults import (
    authentication_results,
    header_field,
    remove_forged_results,
)
from protocols.smtp.senderauth.dkim import DkimResult, DkimStatus
from protocols.smtp.senderauth.dmarc import DmarcResult, DmarcStatus, Policy
from protocols.smtp.senderauth.spf import SpfResult, SpfStatus

HOST = "mx.tidings.example"


def test_header_lists_every_method() -> None:
    value = authentication_results(
        HOST,
        SpfResult(SpfStatus.PASS, "example.org", sender="alice@example.org"),
        [
            DkimResult(DkimStatus.PASS, "example.org", "s1"),
            DkimResult(DkimStatus.FAIL, "esp.example", "k2"),
        ],
        DmarcResult(DmarcStatus.PASS, "example.org", policy=Policy.REJECT),
    )
    assert value == (
        "mx.tidings.example; spf=pass smtp.mailfrom=alice@example.org; "
        "dkim=pass header.d=example.org header.s=s1; "
        "dkim=fail header.d=esp.example header.s=k2; "
        "dmarc=pass (p=reject dis=none) header.from=example.org"
    )


def test_null_sender_is_reported_as_helo_and_unsigned_as_none() -> None:
    value = authentication_results(
        HOST,
        SpfResult(SpfStatus.NONE, "mx.example.net", sender="postmaster@mx.example.net",
                  scope="helo"),
        [DkimResult(DkimStatus.NONE)],
        DmarcResult(DmarcStatus.PERMERROR, ""),
    )
    assert value == f"{HOST}; spf=none smtp.helo=mx.example.net; dkim=none; dmarc=permerror"


def test_crafted_values_are_quoted_not_injected() -> None:
    value = authentication_results(
        HOST,
        SpfResult(SpfStatus.FAIL, "x.example", sender='"a b"@x.example'),
        [DkimResult(DkimStatus.FAIL, "evil.example dkim=pass", 's"1')],
    )
    assert 'smtp.mailfrom="\\"a b\\"@x.example"' in value
    assert 'header.d="evil.example dkim=pass"' in value
    assert 'header.s="s\\"1"' in value


def test_no_results_at_all() -> None:
    assert authentication_results(HOST) == f"{HOST}; none"


def test_header_field_folds_after_each_semicolon() -> None:
    field = header_field(f"{HOST}; spf=pass smtp.mailfrom=a@b.example; dkim=none")
    assert field == (
        b"Authentication-Results: mx.tidings.example;\r\n\tspf=pass smtp.mailfrom=a@b.example;"
        b"\r\n\tdkim=none\r\n"
    )
    assert header_field("h; none", b"\n") == b"Authentication-Results: h;\n\tnone\n"


FORGED = (
    b"Received: from a by b; Tue, 1 Dec 2026 10:00:00 +0000\r\n"
    b"Authentication-Results: MX.Tidings.Example;\r\n"
    b"\tspf=pass smtp.mailfrom=ceo@bank.example\r\n"
    b"Authentication-Results: other.example; spf=fail smtp.mailfrom=x@y.example\r\n"
    b"authentication-results : (forged) mx.tidings.example 1; dkim=pass\r\n"
    b'Authentication-Results: "mx.tidings.example"; dmarc=pass\r\n'
    b"Subject: hi\r\n"
    b"\r\n"
    b"Authentication-Results: mx.tidings.example; body text stays\r\n"
)


def test_forged_headers_with_our_name_are_removed_and_nothing_else() -> None:
    assert remove_forged_results(FORGED, HOST) == (
        b"Received: from a by b; Tue, 1 Dec 2026 10:00:00 +0000\r\n"
        b"Authentication-Results: other.example; spf=fail smtp.mailfrom=x@y.example\r\n"
        b"Subject: hi\r\n"
        b"\r\n"
        b"Authentication-Results: mx.tidings.example; body text stays\r\n"
    )


def test_stripper_handles_lf_line_ends() -> None:
    lf = FORGED.replace(b"\r\n", b"\n")
    assert remove_forged_results(lf, HOST) == (
        b"Received: from a by b; Tue, 1 Dec 2026 10:00:00 +0000\n"
        b"Authentication-Results: other.example; spf=fail smtp.mailfrom=x@y.example\n"
        b"Subject: hi\n\nAuthentication-Results: mx.tidings.example; body text stays\n"
    )


def test_a_longer_name_that_starts_with_ours_is_kept() -> None:
    raw = b"Authentication-Results: mx.tidings.example.evil; spf=pass\r\n\r\nbody"
    assert remove_forged_results(raw, HOST) == raw


_name = st.sampled_from(
    [b"Received", b"Subject", b"From", b"X-Thing", b"Authentication-Results", b"DKIM-Signature"]
)
_text = st.binary(max_size=60).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))
_line_end = st.sampled_from([b"\r\n", b"\n"])


@st.composite
def _messages(draw: st.DrawFn) -> bytes:
    """Header fields (some folded, some other servers' A-R), a blank line, any body."""
    end = draw(_line_end)
    out = b""
    for _ in range(draw(st.integers(0, 8))):
        name = draw(_name)
        value = draw(_text)
        if name == b"Authentication-Results":
            value = draw(st.sampled_from([b"other.example", b"mx.tidings.example.org"])) + value
        out += name + b": " + value + end
        for _ in range(draw(st.integers(0, 2))):
            out += draw(st.sampled_from([b" ", b"\t"])) + draw(_text) + end
    return out + end + draw(st.binary(max_size=200))


@given(_messages())
def test_stripper_never_changes_a_message_without_our_header(raw: bytes) -> None:
    assert remove_forged_results(raw, HOST) == raw


@given(st.binary(max_size=500))
def test_stripper_never_changes_bytes_that_do_not_name_us(raw: bytes) -> None:
    if HOST.encode() in raw.lower():
        return
    assert remove_forged_results(raw, HOST) == raw
