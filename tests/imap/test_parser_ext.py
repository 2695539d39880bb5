"""The parser for MULTIAPPEND (RFC 3502), UTF8 APPEND (RFC 6855), COMPRESS (RFC 4978) and
RECENT/NEW/OLD (RFC 3501): bytes in, typed commands (or ParseError) out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailstore import search as S
from protocols.imap import commands as C
from protocols.imap.parser import ParseError, literal_at_end, parse_command


def parse(text: bytes) -> C.Command:
    return parse_command(text + b"\r\n")


def test_multiappend_takes_several_messages_each_with_optional_flags_and_date() -> None:
    cmd = parse(b'a APPEND Sent (\\Seen) {3}\r\none "01-Feb-2024 10:00:00 +0000" {3+}\r\ntwo'
                b" {5}\r\nthree (\\Flagged $x) \"2-Mar-2024 11:12:13 -0100\" ~{1}\r\n\x00")
    assert cmd == C.Append("a", "APPEND", "Sent", (
        C.AppendMessage(("\\Seen",), None, b"one"),
        C.AppendMessage((), datetime(2024, 2, 1, 10, tzinfo=UTC), b"two"),
        C.AppendMessage((), None, b"three"),
        C.AppendMessage(("\\Flagged", "$x"), datetime(2024, 3, 2, 12, 12, 13,
                                                       tzinfo=UTC), b"\x00"),
    ))


def test_multiappend_tolerates_the_double_space_imapclient_sends_between_literals() -> None:
    cmd = parse(b"a APPEND INBOX {1+}\r\nx  {1+}\r\ny")
    assert [m.message for m in cmd.messages] == [b"x", b"y"]
    with pytest.raises(ParseError):
        parse(b"a APPEND INBOX  {1+}\r\nx")


def test_utf8_append_data_is_a_literal8_in_parentheses() -> None:
    cmd = parse("a APPEND INBOX (\\Seen) UTF8 (~{6}\r\nSä: x) {1}\r\ny".encode())
    assert cmd.messages == (C.AppendMessage(("\\Seen",), None, "Sä: x".encode(), True),
                            C.AppendMessage((), None, b"y"))
    for bad in (b"a APPEND INBOX UTF8 {1}\r\nx", b"a APPEND INBOX UTF8 (~{1}\r\nx",
                b"a APPEND INBOX UTF8 (x)", b"a APPEND INBOX", b"a APPEND INBOX {1}\r\nx ",
                b"a APPEND INBOX {1}\r\nx (\\Seen)", b"a APPEND INBOX {1}\r\nx{1}\r\ny"):
        with pytest.raises(ParseError) as caught:
            parse(bad)
        assert caught.value.tag == "a"


def test_the_session_frames_each_literal_of_a_multiappend() -> None:
    # The session reads line by line: every line that ends with a literal header is
    # followed by that many bytes, also inside UTF8 ( ).
    assert literal_at_end(b"a APPEND INBOX {3}\r\n") == (3, False)
    assert literal_at_end(b" (\\Seen) {12+}\r\n") == (12, True)
    assert literal_at_end(b" UTF8 (~{7}\r\n") == (7, False)
    assert literal_at_end(b")\r\n") is None


def test_compress_takes_one_mechanism() -> None:
    assert parse(b"a COMPRESS DEFLATE") == C.Compress("a", "COMPRESS", "DEFLATE")
    assert parse(b"a compress deflate") == C.Compress("a", "COMPRESS", "DEFLATE")
    assert parse(b"a COMPRESS X-LZ4") == C.Compress("a", "COMPRESS", "X-LZ4")
    for bad in (b"a COMPRESS", b"a COMPRESS DEFLATE X", b"a COMPRESS (DEFLATE)"):
        with pytest.raises(ParseError):
            parse(bad)


def test_recent_new_and_old_are_session_keys() -> None:
    # RFC 3501 §6.4.4: NEW is RECENT UNSEEN; OLD is NOT RECENT.
    assert parse(b"a SEARCH RECENT").criteria == C.RecentKey()
    assert parse(b"a SEARCH NEW").criteria == S.And((C.RecentKey(), S.Flag("\\Seen", False)))
    assert parse(b"a SEARCH OLD").criteria == S.Not(C.RecentKey())
    assert parse(b"a UID SEARCH OR RECENT FLAGGED").criteria == S.Or(
        C.RecentKey(), S.Flag("\\Flagged", True))


_APPEND_WORDS = st.sampled_from([
    b"(", b")", b"\\Seen", b"(\\Seen)", b'"01-Feb-2024 10:00:00 +0000"', b"{3}\r\nabc",
    b"{2+}\r\nab", b"~{1}\r\n\x00", b"UTF8", b"UTF8 (", b"(~{2}\r\nab)", b"{0}\r\n",
    b"{9}\r\nshort", b"\r\n", b"INBOX", b"NIL", b'"'])


@settings(max_examples=3000, deadline=None)
@given(st.lists(_APPEND_WORDS, max_size=12))
def test_append_token_soup_raises_nothing_but_parse_error(words: list[bytes]) -> None:
    try:
        command = parse_command(b"t APPEND INBOX " + b" ".join(words) + b"\r\n")
    except ParseError:
        return
    assert isinstance(command, C.Append) and command.messages


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(
    st.lists(st.sampled_from(["\\Seen", "\\Flagged", "$Junk", "work"]), max_size=3,
             unique=True),
    st.booleans(), st.binary(min_size=1, max_size=60), st.booleans()), min_size=1, max_size=6))
def test_multiappend_round_trips_whatever_the_messages(
        messages: list[tuple[list[str], bool, bytes, bool]]) -> None:
    wire = [b"t APPEND Drafts"]
    expected = []
    for flags, utf8, data, nonsync in messages:
        part = b" "
        if flags:
            part += b"(" + " ".join(flags).encode() + b") "
        literal = (b"~{" if utf8 or b"\x00" in data else b"{") + str(len(data)).encode() \
            + (b"+}" if nonsync else b"}") + b"\r\n" + data
        part += b"UTF8 (" + literal + b")" if utf8 else literal
        wire.append(part)
        expected.append(C.AppendMessage(tuple(flags), None, data, utf8))
    assert parse_command(b"".join(wire) + b"\r\n") == C.Append(
        "t", "APPEND", "Drafts", tuple(expected))
