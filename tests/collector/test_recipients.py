"""Multi-drop recipient detection: a pure function of the header bytes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from protocols.collector.recipients import detect

BASE = b"From: zed@else.org\r\nTo: ann@example.com, Bob <bob@example.com>\r\n" \
       b"Cc: carol@example.com\r\nSubject: hi\r\n"


def test_each_envelope_header_names_the_recipient() -> None:
    for name in (b"Delivered-To", b"X-Original-To", b"X-Envelope-To", b"Envelope-To"):
        found = detect(name + b": bob@example.com\r\n" + BASE + b"\r\nbody")
        assert found.envelope == ("bob@example.com",)
        assert found.source == name.decode()


def test_topmost_delivered_to_wins_over_older_hops() -> None:
    found = detect(b"Delivered-To: carol@example.com\r\nDelivered-To: list@else.org\r\n" + BASE)
    assert found.envelope == ("carol@example.com",)


def test_delivered_to_is_preferred_to_x_original_to() -> None:
    found = detect(b"X-Original-To: ann@example.com\r\nDelivered-To: bob@example.com\r\n" + BASE)
    assert found.envelope == ("bob@example.com",)


def test_for_clause_of_the_top_received_field_only() -> None:
    header = (b"Received: from mx.isp.net by pop.isp.net\r\n\tfor <Bob@Example.com>; "
              b"Mon, 1 Dec 2025 10:00:00 +0000\r\n"
              b"Received: from a by b for <ann@example.com>; Mon, 1 Dec 2025\r\n" + BASE)
    assert detect(header).envelope == ("bob@example.com",)
    assert detect(header).source == "Received"


def test_for_clause_without_at_sign_is_not_a_recipient() -> None:
    header = b"Received: from cookie.juno.com by cookie.juno.com for <182YSq>;\r\n" + BASE
    found = detect(header)
    assert found.envelope == ()
    assert found.headers == ("ann@example.com", "bob@example.com", "carol@example.com")


def test_no_envelope_trace_falls_back_to_to_and_cc() -> None:
    found = detect(BASE + b"\r\nDelivered-To: not-a-header@example.com\r\n")
    assert found.envelope == () and found.source == ""
    assert found.headers == ("ann@example.com", "bob@example.com", "carol@example.com")


@given(st.binary(max_size=500))
def test_any_bytes_give_candidates_never_an_exception(header: bytes) -> None:
    found = detect(header)
    assert all("@" in a for a in found.envelope + found.headers)
