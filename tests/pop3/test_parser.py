"""The pure POP3 grammar: command lines, dot-stuffing, TOP; fuzzed with hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.pop3.parser import (
    Command,
    ParseError,
    Stuffer,
    multiline,
    parse_command,
    stuff,
    top,
    unstuff,
)


@pytest.mark.parametrize(("line", "command"), [
    (b"CAPA\r\n", Command("CAPA")),
    (b"capa\r\n", Command("CAPA")),
    (b"USER ann@example.com\r\n", Command("USER", ("ann@example.com",))),
    (b"PASS correct horse battery\r\n", Command("PASS", ("correct horse battery",))),
    (b"LIST\r\n", Command("LIST")),
    (b"list 2\r\n", Command("LIST", ("2",))),
    (b"RETR 17\n", Command("RETR", ("17",))),
    (b"TOP 1 0\r\n", Command("TOP", ("1", "0"))),
    (b"UIDL 3\r\n", Command("UIDL", ("3",))),
    (b"AUTH plain AGFubgBwdw==\r\n", Command("AUTH", ("PLAIN", "AGFubgBwdw=="))),
    (b"AUTH\r\n", Command("AUTH")),
    (b"STLS\r\n", Command("STLS")),
])
def test_commands_parse_into_their_name_and_arguments(line: bytes, command: Command) -> None:
    assert parse_command(line) == command


@pytest.mark.parametrize(("line", "text"), [
    (b"\r\n", "empty command"),
    (b"FOO\r\n", "unknown command FOO"),
    (b"APOP ann 0123\r\n", "unknown command APOP"),
    (b"RETR\r\n", "usage: RETR msg"),
    (b"RETR one\r\n", "RETR needs a message number"),
    (b"RETR -1\r\n", "RETR needs a message number"),
    (b"RETR 1 2\r\n", "usage: RETR msg"),
    (b"RETR  1\r\n", "usage: RETR msg"),
    (b"TOP 1\r\n", "usage: TOP msg lines"),
    (b"TOP 1 x\r\n", "TOP needs a line count"),
    (b"LIST 99999999999999999999\r\n", "LIST needs a message number"),
    (b"STAT now\r\n", "STAT takes no arguments"),
    (b"PASS\r\n", "PASS needs a password"),
    (b"USER \xff\r\n", "commands must be UTF-8 text"),
    (b"USER a\x00b\r\n", "control characters"),
    (b"RETR \xd9\xa3\r\n", "RETR needs a message number"),  # an Arabic-Indic digit
])
def test_malformed_commands_are_refused_with_a_reason(line: bytes, text: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_command(line)
    assert text in str(caught.value)


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_raise_parse_error(line: bytes) -> None:
    try:
        command = parse_command(line)
    except ParseError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert command.name.isupper()
        if command.number is not None:
            assert command.number >= 0


def test_dot_stuffing_doubles_leading_dots_and_ends_with_a_dot_line() -> None:
    assert stuff(b"a\r\n.b\r\n..\r\n.\r\n") == b"a\r\n..b\r\n...\r\n..\r\n.\r\n"
    assert stuff(b".first\r\n") == b"..first\r\n.\r\n"
    assert stuff(b"") == b".\r\n"
    assert stuff(b"no line end") == b"no line end\r\n.\r\n"


def test_bare_lf_becomes_crlf_but_crlf_passes_unchanged() -> None:
    assert stuff(b"a\nb\r\n.c\n") == b"a\r\nb\r\n..c\r\n.\r\n"
    crlf = b"Subject: x\r\n\r\nbody\r\n"
    assert stuff(crlf) == crlf + b".\r\n"


line_texts = st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(
    b"\n", b"")), max_size=30)


@given(line_texts, st.data())
def test_stuffing_in_any_chunks_equals_stuffing_at_once_and_unstuffs_back(
        lines: list[bytes], data: st.DataObject) -> None:
    raw = b"".join(line + b"\r\n" for line in lines)
    whole = stuff(raw)
    assert unstuff(whole) == raw
    assert b"\r\n.\r\n" not in b"\r\n" + whole[:-3]  # the end marker appears only at the end
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=8)))
    stuffer, out, last = Stuffer(), [], 0
    for cut in [*cuts, len(raw)]:
        out.append(stuffer.feed(raw[last:cut]))
        last = cut
    assert b"".join(out) + stuffer.finish() == whole


@given(st.binary(max_size=400), st.data())
def test_arbitrary_bytes_stream_the_same_in_chunks_and_always_terminate(
        raw: bytes, data: st.DataObject) -> None:
    whole = stuff(raw)
    assert whole.endswith(b"\r\n.\r\n") or whole == b".\r\n"
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=8)))
    stuffer, out, last = Stuffer(), [], 0
    for cut in [*cuts, len(raw)]:
        out.append(stuffer.feed(raw[last:cut]))
        last = cut
    assert b"".join(out) + stuffer.finish() == whole
    # Every line end on the wire is CRLF.
    assert whole.count(b"\n") == whole.count(b"\r\n")


def test_top_returns_the_header_the_blank_line_and_n_body_lines() -> None:
    raw = b"From: a\r\nSubject: s\r\n\r\none\r\ntwo\r\nthree\r\n"
    assert top(raw, 0) == b"From: a\r\nSubject: s\r\n\r\n"
    assert top(raw, 2) == b"From: a\r\nSubject: s\r\n\r\none\r\ntwo\r\n"
    assert top(raw, 99) == raw
    assert top(b"From: a\n\nbody\nmore\n", 1) == b"From: a\n\nbody\n"
    assert top(b"header only", 3) == b"header only"
    assert top(b"\r\nbody\r\nmore\r\n", 1) == b"\r\nbody\r\n"


def test_multiline_lists_are_stuffed() -> None:
    assert multiline("2 messages", ["1 120", ".odd"]) == (
        b"+OK 2 messages\r\n1 120\r\n..odd\r\n.\r\n")
