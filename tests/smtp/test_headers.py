"""The pure byte functions of the SMTP front door, alone and fuzzed."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from protocols.smtp.headers import (
    bare_line_end,
    count_fields,
    field_values,
    header_block,
    received_header,
)
from protocols.smtp.replies import with_enhanced_code

BARE = re.compile(rb"(?<!\r)\n|\r(?!\n)")


@given(st.binary(max_size=200) | st.lists(st.sampled_from([b"a", b"\r", b"\n", b"\r\n", b"."]))
       .map(b"".join))
def test_bare_line_end_agrees_with_the_definition(data: bytes) -> None:
    found = bare_line_end(data)
    assert (found is not None) == bool(BARE.search(data))
    if found == "CR":
        assert b"\n" not in data.replace(b"\r\n", b"")


def test_bare_line_end_names_the_kind() -> None:
    assert bare_line_end(b"a\r\nb\r\n") is None
    assert bare_line_end(b"a\nb\r\n") == "LF"
    assert bare_line_end(b"a\r\rb\r\n") == "CR"


def test_header_fields_are_read_from_the_header_only_and_unfolded() -> None:
    raw = (b"Received: one\r\nreceived: two\r\n\tfolded\r\nMessage-ID: <a@b>\r\n\r\n"
           b"Received: not a header\r\n")
    assert count_fields(raw, "Received") == 2
    assert field_values(raw, "RECEIVED") == ["one", "two folded"]
    assert field_values(raw, "Message-ID") == ["<a@b>"]
    assert header_block(b"\r\nbody only") == b""
    assert header_block(b"Subject: no body\r\n") == b"Subject: no body\r\n"


@given(st.text(max_size=80), st.text(max_size=80))
def test_received_header_is_one_field_whatever_the_client_says(helo: str, user: str) -> None:
    field = received_header(helo=helo, ip="192.0.2.1", hostname="mx.example.com",
                            protocol="ESMTPSA", queue_id="ABC", tls="using TLSv1.3",
                            user=user, recipient="a@b", when=datetime(2026, 1, 1, tzinfo=UTC))
    lines = field.split(b"\r\n")
    assert lines[0].startswith(b"Received: from ") and lines[-1] == b""
    assert all(line.startswith(b"\t") for line in lines[1:-1])
    assert b"\n" not in field.replace(b"\r\n", b"") and b"\r" not in field.replace(b"\r\n", b"")


def test_replies_get_an_enhanced_code_unless_they_have_one_or_must_not() -> None:
    assert with_enhanced_code("503 Error: need MAIL command") \
        == "503 5.5.1 Error: need MAIL command"
    assert with_enhanced_code("250 2.1.5 ok") == "250 2.1.5 ok"
    assert with_enhanced_code("250-8BITMIME") == "250-2.0.0 8BITMIME"
    assert with_enhanced_code("354 End data with <CR><LF>.<CR><LF>") \
        == "354 End data with <CR><LF>.<CR><LF>"
    assert with_enhanced_code("334 ") == "334 "


@given(st.text(max_size=60))
def test_enhanced_code_never_breaks_a_reply(text: str) -> None:
    reply = with_enhanced_code(text)
    assert reply == text or (reply[:3] == text[:3] and re.match(r"^\d{3}[ -][245]\.\d", reply))
