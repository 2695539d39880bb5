"""The POP3 response parser: a pure function of bytes, checked on examples and fuzzed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.collector.errors import ProtocolError
from protocols.collector.pop3wire import (
    Response,
    ResponseReader,
    parse_capa,
    parse_listing,
    parse_sizes,
    parse_status,
    stuff,
    unstuff,
)


def read_all(data: bytes, expect: list[bool], chunks: list[int] | None = None
             ) -> list[Response]:
    reader = ResponseReader()
    out: list[Response] = []
    pieces = [data] if not chunks else []
    if chunks:
        at = 0
        for size in chunks:
            pieces.append(data[at:at + size])
            at += size
        pieces.append(data[at:])
    queue = list(expect)
    for piece in pieces:
        reader.feed(piece)
        while queue:
            response = reader.take(queue[0])
            if response is None:
                break
            out.append(response)
            queue.pop(0)
    return out


def test_status_lines() -> None:
    assert parse_status(b"+OK 2 messages\r\n") == parse_status(b"+ok 2 messages")
    assert parse_status(b"-ERR [AUTH] Authentication failed.\r\n").ok is False
    assert parse_status(b"-ERR [AUTH] Authentication failed.\r\n").text == \
        "[AUTH] Authentication failed."
    with pytest.raises(ProtocolError, match="not a POP3 reply"):
        parse_status(b"* OK IMAP4rev1 ready\r\n")


def test_multiline_answer_is_unstuffed_and_ends_at_the_dot_line() -> None:
    data = b"+OK 3 octets\r\nSubject: x\r\n\r\n..leading dot\r\n.\r\n+OK next\r\n"
    first, second = read_all(data, [True, False])
    assert first.body == b"Subject: x\r\n\r\n.leading dot\r\n"
    assert second == Response(True, "next")


def test_empty_multiline_answer_and_error_without_body() -> None:
    first, second = read_all(b"+OK\r\n.\r\n-ERR no such message\r\n", [True, True])
    assert first.body == b""
    assert second == Response(False, "no such message")


def test_bare_lf_server_is_understood() -> None:
    [answer] = read_all(b"+OK\n1 abc\n2 def\n.\n", [True])
    assert parse_listing(answer.body, "UIDL") == {1: "abc", 2: "def"}


def test_listings_and_capabilities() -> None:
    assert parse_sizes(b"1 120\r\n2 4000\r\n") == {1: 120, 2: 4000}
    assert parse_capa(b"TOP\r\nUIDL\r\nPIPELINING\r\nSASL PLAIN\r\n") == \
        {"TOP", "UIDL", "PIPELINING", "SASL"}
    with pytest.raises(ProtocolError, match="unreadable UIDL"):
        parse_listing(b"one two\r\n", "UIDL")


def test_an_endless_status_line_is_refused() -> None:
    reader = ResponseReader()
    reader.feed(b"+OK " + b"x" * 70_000)
    with pytest.raises(ProtocolError, match="longer than 64 KB"):
        reader.take(False)


lines = st.lists(st.binary(max_size=40).map(
    lambda b: b.replace(b"\r", b"").replace(b"\n", b"")), max_size=12)


@given(lines, st.lists(st.integers(min_value=0, max_value=30), max_size=12))
def test_any_message_survives_stuffing_and_any_split(body_lines: list[bytes],
                                                     chunks: list[int]) -> None:
    message = b"".join(line + b"\r\n" for line in body_lines)
    data = b"+OK\r\n" + stuff(message) + b".\r\n" + b"+OK after\r\n"
    first, second = read_all(data, [True, False], chunks)
    assert first.body == message
    assert second.text == "after"
    assert unstuff(stuff(message)) == message


@given(st.binary(max_size=300), st.lists(st.booleans(), min_size=1, max_size=4))
def test_garbage_gives_responses_or_a_protocol_error_only(data: bytes,
                                                          expect: list[bool]) -> None:
    try:
        read_all(data, expect)
    except ProtocolError:
        pass
